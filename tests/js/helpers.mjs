// Shared by the node tests in this folder: the vectors and a loaded API.
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { before } from 'node:test';
import { tolerateWasmFallback } from '../../js/node-support.mjs';
import sodiumModule from '../../js/sodium.cjs';
import { load } from '../../js/whistle-crypto.js';

tolerateWasmFallback();
// node's test runner adds its own listener when the first test or hook is
// declared: wrap that one too.
before(() => tolerateWasmFallback());

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

export function vectors(name) {
  return JSON.parse(readFileSync(join(ROOT, 'tests', 'vectors', `${name}.json`), 'utf8'));
}

export const api = await load();

/** libsodium itself, for independent computations in tests. */
export const sodium = sodiumModule;
