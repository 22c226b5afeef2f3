import assert from 'node:assert/strict';
import { test } from 'node:test';
import { api, vectors } from './helpers.mjs';

const v = vectors('derivation').valid[0];
const keys = api.deriveSourceKeys(v.code, api.fromHex(v.install_salt));
const caseId = new Uint8Array(16).map((_, i) => i);

test("the source's copy: the worked example of docs/protocol.md §7", async () => {
  const document = api.copyDocument('followup', { message: 'hi', files: [] });
  assert.equal(JSON.stringify(document), '{"version":1,"kind":"followup","message":"hi","files":[]}');
  const sealed = api.sealCopy(document, keys.copyPublicKey, caseId);
  assert.equal(sealed.length, 4226);
  const opened = await api.openCopy(sealed, keys.copySecretKey, caseId);
  assert.deepEqual(opened, { kind: 'followup', files: [], fields: [], message: 'hi' });
});

test("a submission's copy lists files by cleaned name and size, never their content", async () => {
  const form = api.formDocument('ca', 'antifrau', [{ key: 'subject', label: 'Assumpte', value: 'Obres' }], {
    identified: false,
    category: null,
    meeting: false,
    availability: '',
  });
  const file = new File([new Uint8Array(300).fill(7)], 'dir/acta.pdf');
  const document = api.copyDocument('submission', { form, files: [file] });
  assert.deepEqual(document.files, [{ name: api.cleanFileName('dir/acta.pdf'), size: 300 }]);
  const sealed = api.sealCopy(document, keys.copyPublicKey, caseId);
  const opened = await api.openCopy(sealed, keys.copySecretKey, caseId);
  assert.deepEqual(opened.fields, [{ label: 'Assumpte', value: 'Obres' }]);
  assert.equal(opened.files[0].size, 300);
});

test('a copy opens with its own code and case only, and not when changed', async () => {
  const sealed = api.sealCopy(api.copyDocument('followup', { message: 'x', files: [] }), keys.copyPublicKey, caseId);
  await assert.rejects(api.openCopy(sealed, keys.replySecretKey, caseId), api.errors.WrongKeyError);
  await assert.rejects(api.openCopy(sealed, keys.copySecretKey, new Uint8Array(16)), api.errors.TamperedError);
  const changed = sealed.slice();
  changed[changed.length - 30] ^= 1;
  await assert.rejects(api.openCopy(changed, keys.copySecretKey, caseId), api.errors.TamperedError);
  assert.throws(() => api.copyDocument('reply', { message: 'x' }), TypeError);
});
