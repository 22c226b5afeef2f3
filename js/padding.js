// Padmé padding (Nikitin et al., PETS 2019) with a 4096-byte floor
// (whistle/crypto/padding.py). Lengths are below 2^53, so plain numbers do.

export const MIN_PADDED = 4096;

function bitLength(n) {
  let bits = 0;
  while (n >= 1) {
    n = Math.floor(n / 2);
    bits++;
  }
  return bits;
}

/** The Padmé bucket of `length` (lengths under 2 are their own bucket). */
export function padme(length) {
  if (!Number.isSafeInteger(length) || length < 0) throw new RangeError('a length is a whole number');
  if (length < 2) return length;
  const exponent = bitLength(length) - 1;
  const sizeBits = bitLength(exponent);
  const step = Math.pow(2, exponent - sizeBits); // round up to a multiple of this
  return Math.ceil(length / step) * step;
}

/** The padded length of a plaintext of `length` bytes. */
export function paddedSize(length) {
  return Math.max(MIN_PADDED, padme(length));
}

/** Whether `length` is a size that padding can produce. */
export function isPaddedSize(length) {
  return length >= MIN_PADDED && paddedSize(length) === length;
}
