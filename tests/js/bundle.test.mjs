// The page script exactly as the build makes it, run in a fresh V8 context that looks like a
// browser page (no require, no process), with the two halves of libsodium.js served beside it
// by a fetch and a <script> loader that check Subresource Integrity as a browser does. With
// WebAssembly it must fetch the binary and never the fallback; without it (Tor Browser
// *Safer*) the fallback and never the binary; a changed file is refused and load() rejects.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createHash, webcrypto } from 'node:crypto';
import vm from 'node:vm';
import { bundle } from '../../js/build.mjs';
import { tolerateWasmFallback } from '../../js/node-support.mjs';
import { vectors } from './helpers.mjs';

tolerateWasmFallback();
const BASE = 'http://whistle.test/static/build/';
const built = await bundle();

function sriOf(bytes) {
  return `sha384-${createHash('sha384').update(bytes).digest('base64')}`;
}

/** A page context; `served` maps file names to bytes; `fetched` lists what was asked for. */
function loadPage({ webAssembly = true, served = {} } = {}) {
  const files = Object.fromEntries(Object.values(built).map((f) => [f.file, f.data]));
  Object.assign(files, served);
  const fetched = [];
  const page = { crypto: webcrypto, TextEncoder, TextDecoder, Blob, URL, console, setTimeout, clearTimeout };
  let context;
  page.self = page;
  page.window = page;
  page.location = { href: 'http://whistle.test/report' };
  page.fetch = async (url, options = {}) => {
    const name = url.slice(BASE.length);
    fetched.push(name);
    const data = files[name];
    if (!data) return { ok: false, status: 404 };
    if (options.integrity && options.integrity !== sriOf(data)) throw new TypeError('integrity check failed');
    return { ok: true, status: 200, arrayBuffer: async () => data.buffer.slice(data.byteOffset, data.byteOffset + data.length) };
  };
  page.document = {
    currentScript: { src: BASE + built.page.file },
    getElementById: () => null,
    createElement: () => ({}),
    head: {
      appendChild(script) {
        const name = script.src.slice(BASE.length);
        fetched.push(name);
        const data = files[name];
        setTimeout(() => {
          if (!data || script.integrity !== sriOf(data)) return script.onerror();
          vm.runInContext(data.toString('utf8'), context, { filename: name });
          script.onload();
        }, 0);
      },
    },
  };
  context = vm.createContext(page);
  if (!webAssembly) vm.runInContext('delete globalThis.WebAssembly', context);
  vm.runInContext(built.page.data.toString('utf8'), context, { filename: built.page.file });
  page.document.currentScript = null; // as in a browser, once the script has run
  return { page, fetched };
}

async function opensAReply(api) {
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
}

test('with WebAssembly the page fetches the binary only, loads, self-tests and opens a reply', async () => {
  const { page, fetched } = loadPage();
  assert.equal(typeof page.WhistleCrypto.load, 'function');
  const api = await page.WhistleCrypto.load();
  assert.equal(api.mode, 'webassembly');
  assert.deepEqual(fetched, [built.wasm.file]);
  await opensAReply(api);
  const code = api.generateCode();
  assert.equal(api.normalizeCode(code), code);
  // Minified, the error classes keep their names.
  assert.throws(() => api.normalizeCode(''), (error) => error instanceof api.errors.CodeFormatError && error.name === 'CodeFormatError');
  const E = vectors('envelopes');
  const reply = E.valid.find((v) => v.name === 'reply');
  await assert.rejects(
    api.openAsSource(api.fromHex(reply.envelope), 'followup', api.fromHex(E.keys.reply_secret_key), api.fromHex(E.case_id), {
      signedCase: false,
    }),
    (error) => error instanceof api.errors.DecryptionError && error.name === 'TamperedError',
  );
});

test('without WebAssembly the page loads the fallback only, and it works', async () => {
  const { page, fetched } = loadPage({ webAssembly: false });
  const api = await page.WhistleCrypto.load();
  assert.equal(api.mode, 'javascript');
  assert.deepEqual(fetched, [built.fallback.file]);
  await opensAReply(api);
});

test('a changed binary or fallback is refused: load() rejects and nothing runs', async () => {
  const wasm = Buffer.from(built.wasm.data);
  wasm[wasm.length - 1] ^= 1;
  const changed = loadPage({ served: { [built.wasm.file]: wasm } });
  await assert.rejects(changed.page.WhistleCrypto.load(), (error) => error.name === 'CryptoLoadError');
  const fallback = Buffer.concat([built.fallback.data, Buffer.from('\n;self.WhistleSodiumFallback=null;')]);
  const other = loadPage({ webAssembly: false, served: { [built.fallback.file]: fallback } });
  await assert.rejects(other.page.WhistleCrypto.load(), (error) => error.name === 'CryptoLoadError');
  assert.equal(other.page.WhistleSodiumFallback, undefined);
});

test('the page script pins both halves of libsodium.js by the hashes of the files built', () => {
  const text = built.page.data.toString('utf8');
  for (const role of ['wasm', 'fallback']) {
    assert.ok(text.includes(built[role].file), `${role} named`);
    assert.ok(text.includes(built[role].sri), `${role} pinned`);
  }
  // Neither half is inside the page script any more.
  assert.ok(!text.includes('AGFzbQ'), 'the base64 WebAssembly is gone');
  assert.ok(built.page.gzip_bytes + built.wasm.gzip_bytes <= 150_000, 'with WebAssembly ≤ 150 KB gzipped');
});

test('no eval in any file of the build', () => {
  for (const role of ['page', 'fallback']) {
    assert.ok(!/\beval\(/.test(built[role].data.toString('utf8')), `eval in ${role}`);
  }
});
