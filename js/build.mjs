// Bundles js/whistle-crypto.js and libsodium.js (CommonJS build) into one
// browser file named by its content hash, plus the manifest templates read:
//
//   whistle/submit/static/build/whistle-crypto.<sha256:16>.js
//   whistle/submit/static/build/manifest.json  {file, sri, sha256, bytes, gzip_bytes}
//
//   node js/build.mjs [--out DIR]
//
// Reproducible: the same lockfile and sources give the same bytes (no paths,
// dates or randomness end up in the output; tests/js/test_build.py builds twice).
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { gzipSync } from 'node:zlib';
import { build } from 'esbuild';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const DEFAULT_OUT = join(ROOT, 'whistle', 'submit', 'static', 'build');
const NAME = /^whistle-(crypto|page)\.[0-9a-f]{16}\.js$/;

function outDir(argv) {
  const at = argv.indexOf('--out');
  return at >= 0 ? resolve(argv[at + 1]) : DEFAULT_OUT;
}

export async function bundle() {
  const result = await build({
    absWorkingDir: ROOT,
    entryPoints: ['js/whistle-crypto.js'],
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
    write: false,
    logLevel: 'warning',
  });
  return result.outputFiles[0].contents;
}

/** Writes the bundle and its manifest into `out`; returns the manifest. */
export async function writeBuild(out) {
  const code = await bundle();
  const sha256 = createHash('sha256').update(code).digest('hex');
  const file = `whistle-crypto.${sha256.slice(0, 16)}.js`;
  mkdirSync(out, { recursive: true });
  // The submission pages' script (js/page.js): a second small file, copied as it is.
  const page = readFileSync(join(ROOT, 'js', 'page.js'));
  const pageFile = `whistle-page.${createHash('sha256').update(page).digest('hex').slice(0, 16)}.js`;
  for (const old of readdirSync(out)) {
    if (NAME.test(old) && old !== file && old !== pageFile) rmSync(join(out, old));
  }
  writeFileSync(join(out, file), code);
  writeFileSync(join(out, pageFile), page);
  const manifest = {
    file,
    sri: `sha384-${createHash('sha384').update(code).digest('base64')}`,
    sha256,
    bytes: code.length,
    gzip_bytes: gzipSync(code, { level: 9 }).length,
    page_file: pageFile,
    page_sri: `sha384-${createHash('sha384').update(page).digest('base64')}`,
  };
  writeFileSync(join(out, 'manifest.json'), JSON.stringify(manifest, null, 1) + '\n');
  return manifest;
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  const out = outDir(process.argv);
  const manifest = await writeBuild(out);
  const shown = relative(process.cwd(), join(out, manifest.file));
  process.stdout.write(`${shown}: ${manifest.bytes} bytes, ${manifest.gzip_bytes} gzipped\n`);
}
