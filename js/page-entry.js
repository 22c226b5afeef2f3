// The one script the submission pages load (js/build.mjs): the crypto API, as the global
// WhistleCrypto, and the page script that uses it.
export * from './whistle-crypto.js';
import './page.js';
