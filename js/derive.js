// From a source's code to the keys that code stands for (whistle/crypto/derive.py).
//
//   m            = crypto_generichash(32, "whistle-code-v1" ‖ code bits, key = install salt)
//   login token  = crypto_kdf_derive_from_key(32, 1, "wh-login", m)
//   reply seed   = crypto_kdf_derive_from_key(32, 2, "wh-reply", m)
//   reply keys   = crypto_box_seed_keypair(reply seed)
//   signing seed = crypto_kdf_derive_from_key(32, 3, "wh-signk", m)   (Ed25519, protocol 2)
//   copy seed    = crypto_kdf_derive_from_key(32, 4, "wh-scopy", m)   (the source's copy)
//   copy keys    = crypto_box_seed_keypair(copy seed)

import { concat, requireBytes, utf8 } from './bytes.js';
import { codeBits } from './codes.js';

const CODE_DOMAIN = utf8('whistle-code-v1');
export const SALT_BYTES = 32;

/**
 * {loginToken, replySecretKey, replyPublicKey, signingSeed, signingPublicKey, copySecretKey,
 * copyPublicKey} for a code
 * (throws CodeError for a bad code).
 */
export function deriveSourceKeys(sodium, code, installSalt) {
  requireBytes(installSalt, SALT_BYTES, 'the install salt');
  const master = sodium.crypto_generichash(32, concat([CODE_DOMAIN, codeBits(code)]), installSalt);
  const loginToken = sodium.crypto_kdf_derive_from_key(32, 1, 'wh-login', master);
  const seed = sodium.crypto_kdf_derive_from_key(32, 2, 'wh-reply', master);
  const pair = sodium.crypto_box_seed_keypair(seed);
  const signingSeed = sodium.crypto_kdf_derive_from_key(32, 3, 'wh-signk', master);
  const signing = sodium.crypto_sign_seed_keypair(signingSeed);
  const copySeed = sodium.crypto_kdf_derive_from_key(32, 4, 'wh-scopy', master);
  const copy = sodium.crypto_box_seed_keypair(copySeed);
  sodium.memzero(signing.privateKey);
  sodium.memzero(master);
  sodium.memzero(seed);
  sodium.memzero(copySeed);
  return {
    loginToken,
    replySecretKey: pair.privateKey,
    replyPublicKey: pair.publicKey,
    signingSeed,
    signingPublicKey: signing.publicKey,
    copySecretKey: copy.privateKey,
    copyPublicKey: copy.publicKey,
  };
}
