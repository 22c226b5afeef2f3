// The office card as the page checks it (whistle/crypto/cards.py, docs/protocol.md §8): the
// signed object must verify with the signing key it names, and the keys the page is about to
// encrypt to must be the card's. The page then shows the card's fingerprint, for the source to
// compare with the one the office publishes off the server (deployment.md §8).

import { fromHex, fromUtf8, requireBytes, utf8 } from './bytes.js';
import { ALPHABET } from './codes.js';
import { verifyObject } from './conversation.js';
import { BadSignatureError } from './errors.js';

export const CARD = 'whistle/card/v1';

/** The fingerprint people compare: BLAKE2b-160 of the label and the key, 32 Crockford characters. */
export function fingerprint(sodium, signingKey) {
  requireBytes(signingKey, 32, 'a signing public key');
  const label = utf8('whistle/fingerprint/v1');
  const input = new Uint8Array(label.length + 32);
  input.set(label);
  input.set(signingKey, label.length);
  const digest = sodium.crypto_generichash(20, input, null);
  let out = '';
  let acc = 0;
  let bits = 0;
  for (const byte of digest) {
    acc = (acc << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      bits -= 5;
      out += ALPHABET[(acc >> bits) & 31];
      acc &= (1 << bits) - 1;
    }
  }
  return out.match(/.{4}/g).join(' ');
}

/**
 * The body of an office card's signed object once it verifies with its own signing key:
 * {signingKey, custodianKey, deskKeys: [Uint8Array], epoch, fingerprint}.
 * Throws BadSignatureError for anything that is not a verifying office card.
 */
export function verifyOfficeCard(sodium, signed) {
  let body;
  try {
    const offset = 7 + signed[6];
    const length = ((signed[offset] << 24) >>> 0) + (signed[offset + 1] << 16) + (signed[offset + 2] << 8) + signed[offset + 3];
    const unverified = JSON.parse(fromUtf8(signed.subarray(offset + 4, offset + 4 + length)));
    const key = fromHex(unverified.signing_key);
    body = JSON.parse(fromUtf8(verifyObject(sodium, key, CARD, signed)));
  } catch (error) {
    if (error instanceof BadSignatureError) throw error;
    throw new BadSignatureError('the office card is malformed');
  }
  if (!body || body.kind !== 'office' || !Array.isArray(body.desks)) throw new BadSignatureError('not an office card');
  const signingKey = fromHex(body.signing_key);
  return {
    signingKey,
    custodianKey: fromHex(body.custodian_key),
    deskKeys: body.desks.map((d) => fromHex(d.public_key)),
    epoch: body.epoch,
    fingerprint: fingerprint(sodium, signingKey),
  };
}
