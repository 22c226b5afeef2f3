// Node-only helpers for tests, benchmarks and scripts (never bundled).

function isFallbackNoise(reason) {
  // By name, not instanceof: it may come from another realm (a vm context).
  return Boolean(reason) && reason.name === 'ReferenceError' && /WebAssembly is not defined/.test(String(reason.message));
}

/**
 * Without WebAssembly (`node --jitless`) libsodium.js falls back to plain JS and
 * then raises one unhandled rejection "ReferenceError: WebAssembly is not
 * defined" (its wasm loader aborts by constructing a WebAssembly.RuntimeError):
 * harmless in a browser, fatal in node. Swallow that one, and only it; any
 * other rejection goes to the listeners already there (node's test runner
 * has one) or crashes the process as usual.
 */
export function tolerateWasmFallback() {
  const others = process.listeners('unhandledRejection');
  process.removeAllListeners('unhandledRejection');
  process.on('unhandledRejection', (reason, promise) => {
    if (isFallbackNoise(reason)) return;
    if (!others.length) throw reason;
    for (const listener of others) listener(reason, promise);
  });
}
