// The bundle exactly as the build makes it, run in a fresh V8 context that
// looks like a browser page (no require, no process): it must load, pass its
// self-test and open a vector.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { webcrypto } from 'node:crypto';
import vm from 'node:vm';
import { bundle } from '../../js/build.mjs';
import { vectors } from './helpers.mjs';

async function loadBundle() {
  const code = Buffer.from(await bundle()).toString('utf8');
  const page = { crypto: webcrypto, TextEncoder, TextDecoder, Blob, console, setTimeout, clearTimeout };
  page.self = page;
  page.window = page;
  const context = vm.createContext(page);
  vm.runInContext(code, context, { filename: 'whistle-crypto.js' });
  return context;
}

test('the bundle defines WhistleCrypto, loads, self-tests and opens a reply vector', async () => {
  const page = await loadBundle();
  assert.equal(typeof page.WhistleCrypto.load, 'function');
  const api = await page.WhistleCrypto.load();
  assert.equal(api.mode, typeof WebAssembly === 'object' ? 'webassembly' : 'javascript');
  const E = vectors('envelopes');
  const reply = E.valid.find((v) => v.name === 'reply');
  const opened = await api.openAsSource(
    api.fromHex(reply.envelope),
    'reply',
    api.fromHex(E.keys.reply_secret_key),
    api.fromHex(E.case_id),
    { signedCase: false },
  );
  assert.equal(opened.message, 'Gràcies. We have received your report.');
  const code = api.generateCode();
  assert.equal(api.normalizeCode(code), code);
  // Minified, the error classes keep their names.
  assert.throws(() => api.normalizeCode(''), (error) => error instanceof api.errors.CodeFormatError && error.name === 'CodeFormatError');
  await assert.rejects(
    api.openAsSource(api.fromHex(reply.envelope), 'followup', api.fromHex(E.keys.reply_secret_key), api.fromHex(E.case_id), {
      signedCase: false,
    }),
    (error) => error instanceof api.errors.DecryptionError && error.name === 'TamperedError',
  );
});

test('the bundle has no eval and no Function constructor of our own', async () => {
  const code = Buffer.from(await bundle()).toString('utf8');
  assert.ok(!/\beval\(/.test(code), 'eval in the bundle');
});
