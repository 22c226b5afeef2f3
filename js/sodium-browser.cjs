// libsodium.js in the page (js/build.mjs): its WebAssembly binary and its plain-JavaScript
// fallback are cut out of the npm build into two files of their own, pinned here by their
// SHA-384 (WHISTLE_ASSETS, written in by the build), and a browser downloads only the one it
// can run: the binary where WebAssembly runs, the fallback where it does not (Tor Browser
// *Safer*, a CSP without 'wasm-unsafe-eval'). The page script's own hash therefore covers
// everything a page loads (docs/browser-crypto.md, "One published hash").
'use strict';
/* global WHISTLE_ASSETS */

// Where the page script was loaded from: the two files sit beside it. Read while the script
// runs (document.currentScript is null afterwards).
const here = typeof document !== 'undefined' && document.currentScript ? document.currentScript.src : '';
let wasmBytes = new Uint8Array(0);

function beside(file) {
  return new URL(file, here || location.href).href;
}

/** A problem loading libsodium.js's files: the page then sends nothing (fail closed). */
function loadError(what) {
  const error = new Error(what);
  error.name = 'CryptoLoadError';
  return error;
}

// WebAssembly present *and* allowed to compile (a CSP without 'wasm-unsafe-eval' throws here).
function webAssemblyRuns() {
  try {
    const empty = new WebAssembly.Module(Uint8Array.of(0, 0x61, 0x73, 0x6d, 1, 0, 0, 0));
    return empty instanceof WebAssembly.Module;
  } catch (error) {
    return false;
  }
}

function fetchWasm() {
  // The browser checks the bytes against the pinned hash (Subresource Integrity for fetch).
  return fetch(beside(WHISTLE_ASSETS.wasm.file), { integrity: WHISTLE_ASSETS.wasm.sri })
    .then((response) => {
      if (!response.ok) throw loadError('HTTP ' + response.status);
      return response.arrayBuffer();
    })
    .then(
      (buffer) => {
        wasmBytes = new Uint8Array(buffer);
      },
      (error) => {
        throw error && error.name === 'CryptoLoadError' ? error : loadError(String(error));
      },
    );
}

/** Where libsodium.js decoded its embedded binary: the one fetched (empty: it falls back). */
function wasm() {
  return wasmBytes;
}

/** Where libsodium.js ran its embedded fallback: the same code, from its own pinned file. */
function fallback(module) {
  return new Promise((resolve, reject) => {
    const script = document.createElement('script');
    script.src = beside(WHISTLE_ASSETS.fallback.file);
    script.integrity = WHISTLE_ASSETS.fallback.sri;
    script.onload = () => {
      const start = self.WhistleSodiumFallback;
      if (typeof start !== 'function') reject(loadError('the fallback did not start'));
      else resolve(start(module));
    };
    script.onerror = () => reject(loadError('the fallback did not load'));
    document.head.appendChild(script);
  });
}

function readySodium() {
  const preparing = webAssemblyRuns() ? fetchWasm() : Promise.resolve();
  return preparing.then(() => {
    const sodium = require('libsodium-wrappers');
    return sodium.ready.then(() => sodium);
  });
}

module.exports = readySodium;
module.exports.wasm = wasm;
module.exports.fallback = fallback;
