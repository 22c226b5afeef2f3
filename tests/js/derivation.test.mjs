import assert from 'node:assert/strict';
import { test } from 'node:test';
import { api, vectors } from './helpers.mjs';

test('derivation vectors: login token and reply key pair', () => {
  for (const v of vectors('derivation').valid) {
    const keys = api.deriveSourceKeys(v.code, api.fromHex(v.install_salt));
    assert.equal(api.toHex(keys.loginToken), v.login_token);
    assert.equal(api.toHex(keys.replySecretKey), v.reply_secret_key);
    assert.equal(api.toHex(keys.replyPublicKey), v.reply_public_key);
    assert.equal(api.toHex(keys.copyPublicKey), v.copy_public_key);
  }
});

test('derivation accepts the code as typed', () => {
  const v = vectors('derivation').valid[0];
  const typed = api.formatCode(v.code).toLowerCase();
  const keys = api.deriveSourceKeys(typed, api.fromHex(v.install_salt));
  assert.equal(api.toHex(keys.loginToken), v.login_token);
});

test('a mistyped code or a wrong salt length is refused', () => {
  const v = vectors('derivation').valid[0];
  const typo = (v.code[0] === 'A' ? 'B' : 'A') + v.code.slice(1);
  assert.throws(() => api.deriveSourceKeys(typo, api.fromHex(v.install_salt)), api.errors.CodeChecksumError);
  assert.throws(() => api.deriveSourceKeys(v.code, new Uint8Array(16)), RangeError);
});

test('padding vectors', () => {
  for (const v of vectors('padding').valid) {
    assert.equal(api.padme(v.length), v.padme, String(v.length));
    assert.equal(api.paddedSize(v.length), v.padded, String(v.length));
  }
});

test('associated data vectors', () => {
  const envelopes = vectors('envelopes');
  const caseId = api.fromHex(envelopes.case_id);
  for (const [kind, hex] of Object.entries(envelopes.associated_data)) {
    assert.equal(api.toHex(api.associatedData(kind, caseId)), hex);
  }
  assert.throws(() => api.associatedData('Reply', caseId), RangeError);
  assert.throws(() => api.associatedData('reply', new Uint8Array(15)), RangeError);
});

test('the self-test passes and its derivation answer is the first vector', async () => {
  await api.selfTest();
  const v = vectors('derivation').valid[0];
  assert.equal(api.selfTestVector.code, v.code);
  assert.equal(api.selfTestVector.loginToken, v.login_token);
  assert.equal(api.selfTestVector.replyPublicKey, v.reply_public_key);
});
