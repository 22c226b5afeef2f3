// Browser crypto in node: envelope throughput, key derivation time, load time.
//
//   node bench/js_crypto.mjs [--mib 20]              WebAssembly
//   node --jitless bench/js_crypto.mjs [--mib 20]    no JIT, no WebAssembly (libsodium's JS fallback)
//
// Prints one JSON object. Figures and commands: docs/benchmarks.md, "Browser crypto".
import { performance } from 'node:perf_hooks';
import { tolerateWasmFallback } from '../js/node-support.mjs';

tolerateWasmFallback();

const argv = process.argv.slice(2);
const mib = argv.includes('--mib') ? Number(argv[argv.indexOf('--mib') + 1]) : 20;

const t0 = performance.now();
const { load } = await import('../js/whistle-crypto.js');
const api = await load();
const loadMs = performance.now() - t0;

function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

// Key derivation: the first call (cold) and the median of further calls.
const salt = api.fromHex('11'.repeat(32));
const deriveMs = [];
for (let i = 0; i < 7; i++) {
  const code = api.generateCode();
  const start = performance.now();
  api.deriveSourceKeys(code, salt);
  deriveMs.push(performance.now() - start);
}

// One submission with a single file of `mib` MiB.
const size = mib * 1024 * 1024;
const content = new Uint8Array(size);
for (let offset = 0; offset < size; offset += 65536) {
  content.set(globalThis.crypto.getRandomValues(new Uint8Array(Math.min(65536, size - offset))), offset);
}
const desk = api.fromHex('22'.repeat(32));
const keys = api.deriveSourceKeys(api.generateCode(), salt);
const caseId = new Uint8Array(16);
let start = performance.now();
const blob = await api.writeSubmission({
  deskKey: desk,
  custodianKey: desk,
  replyPublicKey: keys.replyPublicKey,
  caseId,
  form: { language: 'en', desk: 'bench', fields: [] },
  identification: [],
  files: [new File([content], 'evidence.bin')],
});
const writeS = (performance.now() - start) / 1000;

// Opening it again as the source (authenticate everything, then the parts).
start = performance.now();
const opened = await api.openSubmissionAsSource(blob, keys.replySecretKey, caseId);
const openS = (performance.now() - start) / 1000;
if (opened.files[0].content.length !== size) throw new Error('round trip failed');

// The bare primitive for comparison: secretstream push of 64 KiB chunks, no
// framing, no Blob, no padding (what libsodium.js alone does in this mode).
const sodium = (await import('../js/sodium.cjs')).default;
const raw = sodium.crypto_secretstream_xchacha20poly1305_init_push(sodium.crypto_secretstream_xchacha20poly1305_keygen());
const rawChunks = Math.max(16, Math.min(320, mib * 16)); // ≤ 20 MiB
start = performance.now();
for (let i = 0; i < rawChunks; i++) {
  sodium.crypto_secretstream_xchacha20poly1305_push(raw.state, content.subarray(0, 65536), caseId, 0);
}
const rawS = (performance.now() - start) / 1000;

const mb = size / 1e6;
process.stdout.write(
  JSON.stringify({
    node: process.version,
    flags: process.execArgv.join(' ') || '(none)',
    mode: api.mode,
    load_and_self_test_ms: Math.round(loadMs),
    derive_first_ms: Number(deriveMs[0].toFixed(1)),
    derive_median_ms: Number(median(deriveMs.slice(1)).toFixed(1)),
    input_mib: mib,
    envelope_bytes: blob.size,
    write_s: Number(writeS.toFixed(2)),
    write_mb_per_s: Number((mb / writeS).toFixed(1)),
    open_s: Number(openS.toFixed(2)),
    open_mb_per_s: Number((mb / openS).toFixed(1)),
    raw_push_mb_per_s: Number(((rawChunks * 65536) / 1e6 / rawS).toFixed(2)),
    load_average: (await import('node:os')).loadavg().map((x) => Number(x.toFixed(2))),
  }) + '\n',
);
