// libsodium.js, ready: what js/whistle-crypto.js's load() waits for. In node (tests, bench)
// it is the npm build as it is; the page build (js/build.mjs) puts js/sodium-browser.cjs here
// instead, which downloads only the half of libsodium.js this browser can run.
'use strict';
module.exports = function readySodium() {
  const sodium = require('./sodium.cjs');
  return sodium.ready.then(() => sodium);
};
