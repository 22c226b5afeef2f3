// Builds the one script the submission pages load, and the two halves of libsodium.js it
// pins by hash, plus the manifest templates read (docs/browser-crypto.md, "Build"):
//
//   whistle/submit/static/build/whistle-page.<sha256:16>.js        js/page-entry.js: the page
//       script, the crypto API (global WhistleCrypto), libsodium.js's wrapper and glue
//   whistle/submit/static/build/libsodium.<sha256:16>.wasm          libsodium's WebAssembly
//   whistle/submit/static/build/libsodium-fallback.<sha256:16>.js   its plain-JS fallback
//   whistle/submit/static/build/manifest.json
//
//   node js/build.mjs [--out DIR]
//
// libsodium.js (npm `libsodium`, pinned by the lockfile) carries both its WebAssembly binary
// (base64) and its fallback (the body of `useBackupModule`) inline: 307 KB gzipped that every
// browser downloaded although it runs only one. The build cuts both out at the two places
// named below, refuses any libsodium.js where they are not exactly where expected, and puts
// in their place calls to js/sodium-browser.cjs, which downloads the one this browser needs
// and checks its hash. The page script embeds both hashes, so its own SHA-256 is the one
// value to publish.
//
// Reproducible: the same lockfile and sources give the same bytes (no paths, dates or
// randomness end up in the output; tests/js/test_build.py builds twice).
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { gzipSync } from 'node:zlib';
import { build } from 'esbuild';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const DEFAULT_OUT = join(ROOT, 'whistle', 'submit', 'static', 'build');
const LIBSODIUM = join(ROOT, 'node_modules', 'libsodium', 'dist', 'modules', 'libsodium.js');
const NAME = /^(whistle-(crypto|page)\.[0-9a-f]{16}\.js|libsodium(-fallback)?\.[0-9a-f]{16}\.(js|wasm))$/;
const HOOKS = 'whistle:sodium-hooks';
// Where libsodium.js 0.8.x starts its fallback, and decodes its binary.
const FALLBACK_START = 'C.useBackupModule=function(){';
const FALLBACK_END = '};var g,C=void 0!==C?C:{}';
const WASM = /y\?\?=\(A=>\{.{0,2000}?\}\)\("(AGFzbQ[A-Za-z0-9+/]+={0,2})"\)/g;

function outDir(argv) {
  const at = argv.indexOf('--out');
  return at >= 0 ? resolve(argv[at + 1]) : DEFAULT_OUT;
}

class SplitError extends Error {}

/** libsodium.js cut in three: the glue (with calls to the hooks), the binary, the fallback. */
export function splitLibsodium(source) {
  const start = source.indexOf(FALLBACK_START);
  const end = source.indexOf(FALLBACK_END, start);
  if (start < 0 || source.indexOf(FALLBACK_START, start + 1) >= 0 || end < 0) {
    throw new SplitError('libsodium.js: useBackupModule is not where this build expects it');
  }
  const body = source.slice(start + FALLBACK_START.length, end);
  const matches = [...source.matchAll(WASM)];
  if (matches.length !== 1 || matches[0].index < end) {
    throw new SplitError('libsodium.js: the embedded WebAssembly is not where this build expects it');
  }
  const [whole, base64] = matches[0];
  const wasm = Buffer.from(base64, 'base64');
  if (wasm.toString('base64') !== base64) throw new SplitError('libsodium.js: the WebAssembly is not base64');
  const glue =
    source.slice(0, start + FALLBACK_START.length) +
    `return require(${JSON.stringify(HOOKS)}).fallback(D)` +
    source.slice(end, matches[0].index) +
    `y??=require(${JSON.stringify(HOOKS)}).wasm()` +
    source.slice(matches[0].index + whole.length);
  // The fallback keeps its own code word for word; `D` is the module object it fills in.
  const fallback = `"use strict";self.WhistleSodiumFallback=function(D){${body}};\n`;
  return { glue, wasm, fallback: Buffer.from(fallback, 'utf8') };
}

function describe(prefix, suffix, bytes) {
  const sha256 = createHash('sha256').update(bytes).digest('hex');
  return {
    file: `${prefix}.${sha256.slice(0, 16)}.${suffix}`,
    sri: `sha384-${createHash('sha384').update(bytes).digest('base64')}`,
    sha256,
    bytes: bytes.length,
    gzip_bytes: gzipSync(bytes, { level: 9 }).length,
  };
}

/** The page script, given libsodium.js's split and the two files' descriptions. */
async function bundlePage(glue, assets) {
  const browserPlugin = {
    name: 'whistle-browser',
    setup(b) {
      b.onResolve({ filter: /^\.\/sodium-ready\.cjs$/ }, () => ({ path: join(ROOT, 'js', 'sodium-browser.cjs') }));
      b.onResolve({ filter: new RegExp(`^${HOOKS}$`) }, () => ({ path: join(ROOT, 'js', 'sodium-browser.cjs') }));
      b.onLoad({ filter: /[\\/]libsodium[\\/]dist[\\/]modules[\\/]libsodium\.js$/ }, () => ({
        contents: glue,
        loader: 'js',
      }));
    },
  };
  const result = await build({
    absWorkingDir: ROOT,
    entryPoints: ['js/page-entry.js'],
    bundle: true,
    format: 'iife',
    globalName: 'WhistleCrypto',
    platform: 'browser',
    // libsodium.js's own code uses ES2020 syntax (?.); Tor Browser (Firefox ESR) runs it.
    target: ['es2020'],
    minify: true,
    legalComments: 'eof',
    charset: 'utf8',
    // Node-only branches inside libsodium.js, never taken in a browser.
    external: ['crypto', 'node:*'],
    define: {
      WHISTLE_ASSETS: JSON.stringify({
        wasm: { file: assets.wasm.file, sri: assets.wasm.sri },
        fallback: { file: assets.fallback.file, sri: assets.fallback.sri },
      }),
    },
    plugins: [browserPlugin],
    write: false,
    logLevel: 'warning',
  });
  return result.outputFiles[0].contents;
}

/** Every file of the build, by role: {page, wasm, fallback} → {bytes, …description}. */
export async function bundle() {
  const { glue, wasm, fallback } = splitLibsodium(readFileSync(LIBSODIUM, 'utf8'));
  const assets = { wasm: describe('libsodium', 'wasm', wasm), fallback: describe('libsodium-fallback', 'js', fallback) };
  const page = Buffer.from(await bundlePage(glue, assets));
  return {
    page: { data: page, ...describe('whistle-page', 'js', page) },
    wasm: { data: wasm, ...assets.wasm },
    fallback: { data: fallback, ...assets.fallback },
  };
}

/** Writes the files and their manifest into `out`; returns the manifest. */
export async function writeBuild(out) {
  const files = await bundle();
  mkdirSync(out, { recursive: true });
  const names = Object.values(files).map((f) => f.file);
  for (const old of readdirSync(out)) {
    if (NAME.test(old) && !names.includes(old)) rmSync(join(out, old));
  }
  const manifest = {};
  for (const [role, { data, ...description }] of Object.entries(files)) {
    writeFileSync(join(out, description.file), data);
    manifest[role] = description;
  }
  writeFileSync(join(out, 'manifest.json'), JSON.stringify(manifest, null, 1) + '\n');
  return manifest;
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  const out = outDir(process.argv);
  const manifest = await writeBuild(out);
  for (const { file, bytes, gzip_bytes: gz } of Object.values(manifest)) {
    process.stdout.write(`${relative(process.cwd(), join(out, file))}: ${bytes} bytes, ${gz} gzipped\n`);
  }
}
