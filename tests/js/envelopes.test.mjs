import assert from 'node:assert/strict';
import { test } from 'node:test';
import { api, sodium, vectors } from './helpers.mjs';

const E = vectors('envelopes');
const key = (name) => api.fromHex(E.keys[name]);
const caseId = api.fromHex(E.case_id);
const ad = (kind, id) => api.associatedData(kind, id ? api.fromHex(id) : caseId);

test('valid envelope vectors open with every listed key, with the right sender', async () => {
  for (const v of E.valid) {
    const data = api.fromHex(v.envelope);
    for (const keyName of v.open_with) {
      const opened = await api.openEnvelope(data, key(keyName), ad(v.kind));
      const sender = (v.sender || {})[keyName];
      assert.equal(opened.senderPublicKey ? api.toHex(opened.senderPublicKey) : null, sender || null, `${v.name} ${keyName}`);
      if (v.parts) {
        assert.equal(opened.parts.length, v.parts.length);
        v.parts.forEach((expected, i) => {
          const part = opened.parts[i];
          assert.equal(part.kind, expected.kind);
          assert.equal(part.name, expected.name);
          if (expected.content !== undefined) {
            assert.equal(api.toHex(part.content), expected.content);
          } else {
            assert.equal(part.content.length, expected.size);
          }
        });
      } else {
        assert.deepEqual(opened.parts.map((p) => p.name).sort(), [...v.parts_named].sort());
      }
    }
  }
});

test('the big follow-up part has the recorded BLAKE2b digest', async () => {
  const v = E.valid.find((x) => x.name === 'followup');
  const opened = await api.openEnvelope(api.fromHex(v.envelope), key('desk_secret_key'), ad('followup'));
  assert.equal(api.toHex(sodium.crypto_generichash(32, opened.parts[1].content, null)), v.parts[1].content_blake2b);
});

test('the reply and the own follow-up open as the source', async () => {
  const reply = E.valid.find((x) => x.name === 'reply');
  const conversation = await api.openAsSource(api.fromHex(reply.envelope), 'reply', key('reply_secret_key'), caseId, { signedCase: false });
  assert.equal(conversation.message, 'Gràcies. We have received your report.');
  assert.deepEqual(conversation.files.map((f) => f.name), ['acta.txt']);
  assert.equal(new TextDecoder().decode(conversation.files[0].content), 'Acta de la reunió\n');
  const followup = E.valid.find((x) => x.name === 'followup');
  const own = await api.openAsSource(api.fromHex(followup.envelope), 'followup', key('reply_secret_key'), caseId, { signedCase: false });
  assert.equal(own.message, 'More details — més detalls.');
  await assert.rejects(api.openAsSource(api.fromHex(reply.envelope), 'followup', key('reply_secret_key'), caseId, { signedCase: false }), api.errors.TamperedError);
});

test('the submission opens as the source, as a Uint8Array and as a Blob', async () => {
  const v = E.valid.find((x) => x.name === 'submission');
  for (const input of [api.fromHex(v.envelope), new Blob([api.fromHex(v.envelope)])]) {
    const opened = await api.openSubmissionAsSource(input, key('reply_secret_key'), caseId);
    assert.deepEqual(opened.form.fields, v.form.fields);
    assert.deepEqual(opened.files.map((f) => f.name), ['contracte.pdf']);
  }
});

const ERRORS = {
  tampered: ['TamperedError'],
  'tampered-or-wrong-key': ['TamperedError', 'WrongKeyError'],
  truncated: ['TruncatedError'],
  version: ['UnsupportedVersionError'],
  malformed: ['MalformedError'],
};

test('invalid envelope vectors fail the way the vector says', async () => {
  const secret = key(E.invalid_open_with);
  for (const v of E.invalid) {
    await assert.rejects(api.openEnvelope(api.fromHex(v.envelope), secret, ad(v.kind, v.case_id)), (error) => {
      assert.ok(ERRORS[v.error].includes(error.name), `${v.name}: ${error.name} ${error.message}`);
      assert.ok(error instanceof api.errors.WhistleCryptoError);
      return true;
    });
  }
});

test('a key that is no recipient is a WrongKeyError', async () => {
  const v = E.valid.find((x) => x.name === 'reply');
  await assert.rejects(api.openEnvelope(api.fromHex(v.envelope), key('custodian_secret_key'), ad('reply')), api.errors.WrongKeyError);
});
