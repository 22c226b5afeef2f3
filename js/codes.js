// Source codes: 100 random bits as 20 Crockford base32 characters plus two check
// characters over GF(32); codes issued before carry Crockford's mod-37 check symbol
// instead (21 characters). Mirrors whistle/crypto/codes.py; docs/protocol.md §2.
//
// The canonical form is upper case; people see it in groups of four.
// Input is forgiving: case, spaces, dashes and the look-alikes O/0 and I/L/1.

import { CodeChecksumError, CodeFormatError } from './errors.js';

export const ALPHABET = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';
export const CHECK_ALPHABET = ALPHABET + '*~$=U'; // mod-37 symbols of codes issued before
export const DATA_CHARS = 20;
export const CODE_CHARS = 22;
export const CODE_BYTES = 13; // the 100-bit value, big-endian, top four bits zero
export const MAX_INPUT_CHARS = 80;

const LOOKALIKES = { O: '0', I: '1', L: '1' };
const SEPARATORS = /[ \-\t\r\n\u00a0]/g;

// GF(32) = GF(2)[x] / (x^5 + x^2 + 1); α = x is primitive.
const EXP = new Array(62);
const LOG = new Array(32).fill(0);
for (let power = 0, v = 1; power < 31; power++) {
  EXP[power] = EXP[power + 31] = v;
  LOG[v] = power;
  v <<= 1;
  if (v & 32) v ^= 0b100101;
}
const mul = (a, b) => (a === 0 || b === 0 ? 0 : EXP[LOG[a] + LOG[b]]);
const div = (a, b) => (a === 0 ? 0 : EXP[LOG[a] - LOG[b] + 31]);

function value(char) {
  return ALPHABET.indexOf(char);
}

/** [Σ v_j, Σ v_j·α^j] over GF(32): both zero exactly for a codeword. */
function syndromes(values) {
  let s0 = 0;
  let s1 = 0;
  values.forEach((v, position) => {
    s0 ^= v;
    s1 ^= mul(v, EXP[position]);
  });
  return [s0, s1];
}

/** The two GF(32) check characters that follow 20 data characters. */
export function checkCharacters(data) {
  const [s0, s1] = syndromes([...data].map(value));
  const c20 = div(s1 ^ mul(s0, EXP[21]), EXP[20] ^ EXP[21]);
  return ALPHABET[c20] + ALPHABET[c20 ^ s0];
}

/** [kind, position] of the typo in a 22-character non-codeword when it can be known, else null. */
export function locateTypo(canonical) {
  const values = [...canonical].map(value);
  const [s0, s1] = syndromes(values);
  if (s0 && s1) {
    const position = LOG[div(s1, s0)];
    return position < values.length ? ['wrong', position] : null;
  }
  if (s0 || !s1) return null;
  const swaps = [];
  for (let i = 0; i < values.length - 1; i++) {
    const swapped = values.slice();
    [swapped[i], swapped[i + 1]] = [swapped[i + 1], swapped[i]];
    const [t0, t1] = syndromes(swapped);
    if (t0 === 0 && t1 === 0) swaps.push(i);
  }
  if (swaps.length === 0) return null;
  return ['swapped', swaps.length === 1 ? swaps[0] : null];
}

/** Crockford's mod-37 check symbol of a string of data characters (codes issued before). */
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
  return data + checkCharacters(data);
}

/** A new code from `randomBytes(n)`: the CSPRNG (sodium.randombytes_buf), or fixed bytes in tests. */
export function generateCode(randomBytes) {
  return codeFromRandom(randomBytes(CODE_BYTES));
}

const lookalikes = (text) => text.replace(/[OIL]/g, (c) => LOOKALIKES[c]);
const OUTSIDE = 'a code uses only the letters and digits it was given with';

function normalizeLegacy(compact) {
  const data = lookalikes(compact.slice(0, DATA_CHARS));
  const check = lookalikes(compact.slice(DATA_CHARS));
  for (const char of data) {
    if (value(char) < 0) throw new CodeFormatError(OUTSIDE);
  }
  if (CHECK_ALPHABET.indexOf(check) < 0) throw new CodeFormatError(OUTSIDE);
  if (checkSymbol(data) !== check) throw new CodeChecksumError('the code was mistyped');
  return data + check;
}

/**
 * The canonical form of a code a person typed: 22 characters, or 21 for a code
 * issued before. Throws CodeFormatError when it cannot be a code and
 * CodeChecksumError when the check says it was mistyped; both carry the kind
 * and position of the typo when the check can locate it.
 */
export function normalizeCode(text) {
  if (typeof text !== 'string') throw new TypeError('a code is text');
  if (text.length > MAX_INPUT_CHARS) throw new CodeFormatError('too long to be a code');
  const compact = text.replace(SEPARATORS, '').toUpperCase();
  if (compact.length === DATA_CHARS + 1) return normalizeLegacy(compact);
  if (compact.length !== CODE_CHARS) throw new CodeFormatError(`a code has ${CODE_CHARS} characters`);
  const canonical = lookalikes(compact);
  for (let i = 0; i < canonical.length; i++) {
    if (value(canonical[i]) < 0) throw new CodeFormatError(OUTSIDE, null, i);
  }
  const [s0, s1] = syndromes([...canonical].map(value));
  if (s0 || s1) {
    const found = locateTypo(canonical);
    throw new CodeChecksumError('the code was mistyped', ...(found || [null, null]));
  }
  return canonical;
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
