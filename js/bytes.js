// Small byte helpers: no crypto here.

const encoder = new TextEncoder();
const strictDecoder = new TextDecoder('utf-8', { fatal: true });

/** UTF-8 bytes of a string (lone surrogates become U+FFFD, as TextEncoder does). */
export function utf8(text) {
  return encoder.encode(text);
}

/** The string of UTF-8 bytes; throws TypeError when they are not UTF-8. */
export function fromUtf8(bytes) {
  return strictDecoder.decode(bytes);
}

/** UTF-8 bytes of a string that must round-trip exactly (names, JSON we write). */
export function utf8Exact(text, what) {
  const raw = encoder.encode(text);
  if (strictDecoder.decode(raw) !== text) {
    throw new TypeError(`${what} is not well-formed Unicode text`);
  }
  return raw;
}

export function concat(pieces) {
  let length = 0;
  for (const piece of pieces) length += piece.length;
  const out = new Uint8Array(length);
  let offset = 0;
  for (const piece of pieces) {
    out.set(piece, offset);
    offset += piece.length;
  }
  return out;
}

export function toHex(bytes) {
  let out = '';
  for (let i = 0; i < bytes.length; i++) out += (bytes[i] < 16 ? '0' : '') + bytes[i].toString(16);
  return out;
}

export function fromHex(hex) {
  if (hex.length % 2 || /[^0-9a-fA-F]/.test(hex)) throw new TypeError('not hex');
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(hex.substr(2 * i, 2), 16);
  return out;
}

export function equalBytes(a, b) {
  if (!a || !b || a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a[i] ^ b[i];
  return diff === 0;
}

export function requireBytes(value, length, what) {
  if (Object.prototype.toString.call(value) !== '[object Uint8Array]') {
    throw new TypeError(`${what} is a Uint8Array`);
  }
  if (length !== undefined && value.length !== length) {
    throw new RangeError(`${what} is ${length} bytes`);
  }
  return value;
}
