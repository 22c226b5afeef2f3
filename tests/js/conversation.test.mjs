// Protocol 2 records (js/conversation.js) against tests/vectors/conversation.json, which
// Python wrote: the same digest and JSON, signed records that verify, forgeries that do not.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ContentDigest, conversationJson } from '../../js/conversation.js';
import { api, sodium, vectors } from './helpers.mjs';

const C = vectors('conversation');
const key = (name) => api.fromHex(C.keys[name]);
const caseId = api.fromHex(C.case_id);
const checks = { signedCase: true, officeKey: key('office_signing_public_key'), sourceSigningKey: key('source_signing_public_key') };

test('the content digest and the conversation JSON are the bytes Python computes', () => {
  const digest = new ContentDigest(sodium);
  for (const part of C.content_digest.parts) digest.add(part.kind, part.name, api.fromHex(part.content));
  assert.equal(api.toHex(digest.digest()), C.content_digest.digest);
  assert.equal(new TextDecoder().decode(conversationJson(2, 1)), C.conversation_json);
});

test('the source key derived here is the one Python signed the follow-up with', () => {
  const keys = api.deriveSourceKeys(C.keys.source_code, api.fromHex(C.keys.install_salt));
  assert.equal(api.toHex(keys.signingPublicKey), C.keys.source_signing_public_key);
});

for (const v of C.valid) {
  test(`signed record opens and verifies: ${v.name}`, async () => {
    const opened = await api.openAsSource(api.fromHex(v.envelope), v.kind, key('reply_secret_key'), caseId, checks);
    assert.equal(opened.message, v.message);
    assert.deepEqual(opened.files.map((f) => f.name), v.files);
    assert.deepEqual(opened.position, v.position);
    assert.equal(opened.signed, true);
  });
}

for (const v of C.forged) {
  test(`forged record is refused, never shown as the office's: ${v.name}`, async () => {
    await assert.rejects(
      api.openAsSource(api.fromHex(v.envelope), v.kind, key('reply_secret_key'), caseId, checks),
      (error) => error instanceof api.errors.SignatureError && error.name === 'BadSignatureError',
    );
  });
}

test('a reply checked against swapped office keys is refused', async () => {
  const reply = C.valid.find((v) => v.kind === 'reply');
  const swapped = { ...checks, officeKey: sodium.crypto_sign_keypair().publicKey };
  await assert.rejects(api.openAsSource(api.fromHex(reply.envelope), 'reply', key('reply_secret_key'), caseId, swapped), api.errors.BadSignatureError);
});
