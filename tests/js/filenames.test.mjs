import assert from 'node:assert/strict';
import { test } from 'node:test';
import { api, vectors } from './helpers.mjs';

const NAMES = vectors('filenames');

test('file names are cleaned exactly as the plain route and the inbox clean them', () => {
  for (const v of NAMES.valid) assert.equal(api.cleanFileName(v.raw), v.clean, JSON.stringify(v.raw));
});

test('a submission with more files than the plain route allows is refused before encrypting', async () => {
  const files = Array.from({ length: NAMES.max_files + 1 }, (_, i) => new Blob([`f${i}`]));
  const keys = {
    deskKey: new Uint8Array(32).fill(1),
    custodianKey: new Uint8Array(32).fill(2),
    replyPublicKey: new Uint8Array(32).fill(3),
    sourceSigningKey: new Uint8Array(32).fill(4),
    caseId: new Uint8Array(16),
  };
  await assert.rejects(
    api.writeSubmission({ ...keys, form: { fields: [] }, files: files.map((b, i) => Object.assign(b, { name: `f${i}` })) }),
    RangeError,
  );
});
