// Case key announcements as the page checks them (js/case-keys.js) against
// tests/vectors/case_keys.json, which Python signed: what Python reads, the page reads the
// same; what Python refuses, the page refuses with the same class (a wrong purpose is a
// BadSignatureError here: the page's signed objects have no class of their own for it).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { api, sodium, vectors } from './helpers.mjs';

const K = vectors('case_keys');
const officeKey = api.fromHex(K.office_signing_public_key);
const caseId = api.fromHex(K.case_id);
const blob = (v) => sodium.from_base64(v.announcement, sodium.base64_variants.ORIGINAL);
const ERRORS = {
  misbound: 'MisboundError',
  'bad-signature': 'BadSignatureError',
  'wrong-purpose': 'BadSignatureError',
  malformed: 'MalformedError',
  version: 'UnsupportedVersionError',
};

for (const v of K.valid) {
  test(`an announcement Python signed verifies: ${v.name}`, () => {
    const read = api.verifyCaseKey(blob(v), officeKey, caseId);
    assert.equal(read.generation, v.generation);
    assert.equal(api.toHex(read.publicKey), K.case_public_key);
    assert.equal(api.toHex(read.caseId), K.case_id);
  });
}

for (const v of K.invalid) {
  test(`an announcement Python refuses is refused here: ${v.name}`, () => {
    assert.throws(
      () => api.verifyCaseKey(blob(v), officeKey, api.fromHex(v.case_id)),
      (error) => {
        assert.equal(error.name, ERRORS[v.error], `${v.name}: ${error.name} ${error.message}`);
        assert.ok(error instanceof api.errors.WhistleCryptoError);
        return true;
      },
    );
  });
}

test('an announcement checked with another office key is refused', () => {
  const other = sodium.crypto_sign_keypair().publicKey;
  assert.throws(() => api.verifyCaseKey(blob(K.valid[0]), other, caseId), api.errors.BadSignatureError);
});

test('a changed byte anywhere is refused', () => {
  const good = blob(K.valid[1]);
  for (let i = 0; i < good.length; i++) {
    const changed = good.slice();
    changed[i] ^= 1;
    assert.throws(() => api.verifyCaseKey(changed, officeKey, caseId), api.errors.WhistleCryptoError, `byte ${i}`);
  }
});
