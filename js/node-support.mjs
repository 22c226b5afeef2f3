// Node-only helpers for tests, benchmarks and scripts (never bundled).

/**
 * Without WebAssembly (`node --jitless`) libsodium.js falls back to plain JS and
 * then raises one unhandled rejection "ReferenceError: WebAssembly is not
 * defined", harmless in a browser but fatal in node. Swallow that one, and only it.
 */
export function tolerateWasmFallback() {
  process.on('unhandledRejection', (reason) => {
    if (reason instanceof ReferenceError && /WebAssembly is not defined/.test(String(reason.message))) return;
    throw reason;
  });
}
