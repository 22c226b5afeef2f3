// The one place that loads libsodium.js. It is the CommonJS build on purpose:
// that build carries the non-WebAssembly fallback (Tor Browser "Safer" has no
// WebAssembly); the ESM build does not, and `import` would pick it.
'use strict';
module.exports = require('libsodium-wrappers');
