// Source codes: 100 random bits as 20 Crockford base32 characters plus Crockford's
// mod-37 check symbol (whistle/crypto/codes.py; docs/protocol.md).
//
// The canonical form is 21 upper-case characters; people see it in groups of four.
// Input is forgiving: case, spaces, dashes and the look-alikes O/0 and I/L/1.

import { CodeChecksumError, CodeFormatError } from './errors.js';

export const ALPHABET = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';
export const CHECK_ALPHABET = ALPHABET + '*~$=U';
export const DATA_CHARS = 20;
export const CODE_BYTES = 13; // the 100-bit value, big-endian, top four bits zero
export const MAX_INPUT_CHARS = 80;

const LOOKALIKES = { O: '0', I: '1', L: '1' };
const SEPARATORS = /[ \-\t\r\n\u00a0]/g;

function value(char) {
  return ALPHABET.indexOf(char);
}

/** Crockford's mod-37 check symbol of a string of data characters. */
export function checkSymbol(data) {
  let remainder = 0;
  for (const char of data) remainder = (remainder * 32 + value(char)) % 37;
  return CHECK_ALPHABET[remainder];
}

/** A new code in canonical form from 13 CSPRNG bytes (the top four bits are dropped). */
export function codeFromRandom(raw) {
  if (!raw || raw.length !== CODE_BYTES) throw new RangeError('a code takes 13 random bytes');
  let data = '';
  // Read 100 bits, five at a time, starting after the first four bits.
  let acc = raw[0] & 0x0f;
  let bits = 4;
  let next = 1;
  while (data.length < DATA_CHARS) {
    if (bits < 5) {
      acc = (acc << 8) | raw[next++];
      bits += 8;
    }
    bits -= 5;
    data += ALPHABET[(acc >> bits) & 31];
    acc &= (1 << bits) - 1;
  }
  return data + checkSymbol(data);
}

/** A new code from `randomBytes(n)`: the CSPRNG (sodium.randombytes_buf), or fixed bytes in tests. */
export function generateCode(randomBytes) {
  return codeFromRandom(randomBytes(CODE_BYTES));
}

/**
 * The canonical form of a code a person typed. Throws CodeFormatError when it
 * cannot be a code and CodeChecksumError when the check symbol says it was mistyped.
 */
export function normalizeCode(text) {
  if (typeof text !== 'string') throw new TypeError('a code is text');
  if (text.length > MAX_INPUT_CHARS) throw new CodeFormatError('too long to be a code');
  const compact = text.replace(SEPARATORS, '').toUpperCase();
  if (compact.length !== DATA_CHARS + 1) {
    throw new CodeFormatError(`a code has ${DATA_CHARS + 1} characters`);
  }
  const data = compact.slice(0, DATA_CHARS).replace(/[OIL]/g, (c) => LOOKALIKES[c]);
  const check = compact.slice(DATA_CHARS).replace(/[OIL]/g, (c) => LOOKALIKES[c]);
  for (const char of data) {
    if (value(char) < 0) throw new CodeFormatError('a code uses only the letters and digits it was given with');
  }
  if (CHECK_ALPHABET.indexOf(check) < 0) {
    throw new CodeFormatError('a code uses only the letters and digits it was given with');
  }
  if (checkSymbol(data) !== check) throw new CodeChecksumError('the code was mistyped');
  return data + check;
}

/** The canonical code in groups of four, as people read and write it. */
export function formatCode(code) {
  const canonical = normalizeCode(code);
  const groups = [];
  for (let i = 0; i < canonical.length; i += 4) groups.push(canonical.slice(i, i + 4));
  return groups.join(' ');
}

/** The code's 100-bit value as 13 big-endian bytes (the input to key derivation). */
export function codeBits(code) {
  const canonical = normalizeCode(code);
  const out = new Uint8Array(CODE_BYTES);
  let acc = 0;
  let bits = 4; // four leading zero bits make 100 bits into 13 whole bytes
  let next = 0;
  for (const char of canonical.slice(0, DATA_CHARS)) {
    acc = (acc << 5) | value(char);
    bits += 5;
    if (bits >= 8) {
      bits -= 8;
      out[next++] = (acc >> bits) & 0xff;
      acc &= (1 << bits) - 1;
    }
  }
  return out;
}
