// Envelopes: one encrypted stream per record (whistle/crypto/envelope.py;
// docs/protocol.md §5).
//
//   magic "WHENV" | version u8 = 1 | slot count u8 (1–16) | flags u8 (bit 0: sender key)
//   [sender public key, 32 bytes]                      when flag bit 0 is set
//   slots, each: type u8, then
//       1 sealed:  crypto_box_seal(content key, recipient)                       80 bytes
//       2 boxed:   nonce 24 ‖ crypto_box(content key, nonce, recipient, sender)  72 bytes
//   secretstream header, 24 bytes
//   chunks: crypto_secretstream_xchacha20poly1305, 64 KiB of plaintext each
//           (the last 1 … 64 KiB, tagged FINAL), each with additional data
//           AD = BLAKE2b-256("whistle/envelope/v1" ‖ header bytes ‖ caller's AD)
//
// The plaintext is the framing of framing.js padded with zeros to a Padmé size.

import { concat, equalBytes, requireBytes, utf8 } from './bytes.js';
import {
  MalformedError,
  TamperedError,
  TruncatedError,
  UnsupportedVersionError,
  WrongKeyError,
} from './errors.js';
import {
  END,
  FrameParser,
  MAX_DATA_FRAME,
  PART_END,
  PartKind,
  encodeDataHeader,
  encodePartStart,
} from './framing.js';
import { isPaddedSize, paddedSize } from './padding.js';

export const MAGIC = utf8('WHENV');
export const VERSION = 1;
export const CHUNK_BYTES = 64 * 1024;
export const ABYTES = 17;
export const SS_HEADER_BYTES = 24;
export const SLOT_SEALED = 1;
export const SLOT_BOXED = 2;
export const SLOT_BYTES = { 1: 80, 2: 72 };
export const MAX_SLOTS = 16;
export const FLAG_SENDER = 0x01;
export const KEY_BYTES = 32;
const AD_DOMAIN = utf8('whistle/envelope/v1');
const RECORD_TYPE = /^[a-z][a-z-]{0,31}$/;
const ENVELOPE_BLOCK = CHUNK_BYTES + ABYTES;
// Files are read 1 MiB at a time (each Blob read is a round trip in a
// browser) and framed and encrypted 256 KiB at a time; between pieces the
// writer gives the page a turn whenever it has worked for 50 ms, so the page
// keeps responding and the progress bar moves even without WebAssembly or JIT
// (≈ 0.5 MB/s there: half a second a piece).
export const READ_BYTES = 1024 * 1024;
export const WRITE_BYTES = 256 * 1024;
const BUSY_MS = 50;

function pageTurn() {
  return new Promise((resolve) => setTimeout(resolve, 0));
}

/** The associated data that binds an envelope to its record type and case (16 bytes). */
export function associatedData(recordType, caseId) {
  if (typeof recordType !== 'string' || !RECORD_TYPE.test(recordType)) {
    throw new RangeError(`a record type is lower-case ASCII, not ${JSON.stringify(recordType)}`);
  }
  requireBytes(caseId, 16, 'a case id');
  const raw = utf8(recordType);
  return concat([Uint8Array.of(raw.length), raw, caseId]);
}

/** A recipient whose slot is an anonymous sealed box. */
export function sealedTo(publicKey) {
  return { publicKey: requireBytes(publicKey, KEY_BYTES, 'a recipient public key'), authenticated: false };
}

/** A recipient whose slot is boxed from the sender's key (proves who wrote it). */
export function boxedTo(publicKey) {
  return { publicKey: requireBytes(publicKey, KEY_BYTES, 'a recipient public key'), authenticated: true };
}

function chunkAd(sodium, header, callerAd) {
  return sodium.crypto_generichash(32, concat([AD_DOMAIN, header, callerAd]), null);
}

/**
 * Streams parts into an envelope. Every piece of output is handed to
 * `sink(bytes)` as soon as it exists (the header first, then one encrypted
 * chunk per 64 KiB of plaintext), so memory stays bounded by the chunk size.
 *
 * Text and byte parts go in whole; a file is beginFile, write…, endPart (or
 * addBlob for a Blob/File). finish() pads and writes the final chunk.
 */
export class EnvelopeWriter {
  constructor(sodium, sink, recipients, associatedDataBytes, options) {
    const senderSecretKey = options && options.senderSecretKey;
    if (!Array.isArray(recipients) || recipients.length < 1 || recipients.length > MAX_SLOTS) {
      throw new RangeError(`an envelope has 1 to ${MAX_SLOTS} recipients`);
    }
    requireBytes(associatedDataBytes, undefined, 'the associated data');
    const needsSender = recipients.some((r) => r.authenticated);
    if (needsSender) requireBytes(senderSecretKey, KEY_BYTES, "the sender's secret key");
    this._sodium = sodium;
    this._sink = sink;
    const key = sodium.crypto_secretstream_xchacha20poly1305_keygen();
    const pieces = [MAGIC, Uint8Array.of(VERSION, recipients.length, needsSender ? FLAG_SENDER : 0)];
    if (needsSender) pieces.push(sodium.crypto_scalarmult_base(senderSecretKey));
    for (const recipient of recipients) {
      requireBytes(recipient.publicKey, KEY_BYTES, 'a recipient public key');
      if (recipient.authenticated) {
        const nonce = sodium.randombytes_buf(sodium.crypto_box_NONCEBYTES);
        const boxed = sodium.crypto_box_easy(key, nonce, recipient.publicKey, senderSecretKey);
        pieces.push(Uint8Array.of(SLOT_BOXED), nonce, boxed);
      } else {
        pieces.push(Uint8Array.of(SLOT_SEALED), sodium.crypto_box_seal(key, recipient.publicKey));
      }
    }
    const stream = sodium.crypto_secretstream_xchacha20poly1305_init_push(key);
    sodium.memzero(key);
    pieces.push(stream.header);
    const header = concat(pieces);
    this._state = stream.state;
    this._ad = chunkAd(sodium, header, associatedDataBytes);
    this._plain = new Uint8Array(CHUNK_BYTES);
    this._filled = 0;
    this._length = 0; // plaintext bytes so far (framing included)
    this._inPart = false;
    this._finished = false;
    this._written = header.length;
    // Sees every part as it is written ({start(kind, name), update(bytes), end()}):
    // the content digest of a signed record (conversation.js).
    this.observer = null;
    sink(header);
  }

  /** Bytes of envelope handed to the sink so far. */
  get written() {
    return this._written;
  }

  addText(name, value) {
    if (typeof value !== 'string') throw new TypeError('a text part is a string');
    this.addBytes(name, utf8(value), PartKind.TEXT);
  }

  addBytes(name, value, kind) {
    this._start(kind === undefined ? PartKind.BYTES : kind, name);
    this.write(value);
    this.endPart();
  }

  beginFile(name) {
    this._start(PartKind.FILE, name);
  }

  write(data) {
    if (!this._inPart) throw new Error('write() belongs inside a part');
    requireBytes(data, undefined, 'part data');
    if (this.observer) this.observer.update(data);
    for (let offset = 0; offset < data.length; offset += MAX_DATA_FRAME) {
      const piece = data.subarray(offset, Math.min(offset + MAX_DATA_FRAME, data.length));
      this._emit(encodeDataHeader(piece.length));
      this._emit(piece);
    }
  }

  endPart() {
    if (!this._inPart) throw new Error('no part is open');
    this._inPart = false;
    this._emit(PART_END);
    if (this.observer) this.observer.end();
  }

  /**
   * A Blob or File as a file part; `onRead(bytes)` is called after each piece
   * is encrypted (for a progress bar).
   */
  async addBlob(name, blob, onRead) {
    this.beginFile(name);
    let since = Date.now();
    for (let offset = 0; offset < blob.size; offset += READ_BYTES) {
      const end = Math.min(offset + READ_BYTES, blob.size);
      const slice = new Uint8Array(await readBlob(blob.slice(offset, end)));
      if (slice.length !== end - offset) throw new Error('the file changed while it was read');
      for (let at = 0; at < slice.length; at += WRITE_BYTES) {
        const piece = slice.subarray(at, Math.min(at + WRITE_BYTES, slice.length));
        this.write(piece);
        if (onRead) onRead(piece.length);
        if (Date.now() - since > BUSY_MS) {
          await pageTurn();
          since = Date.now();
        }
      }
    }
    this.endPart();
  }

  /** Pads and writes the final chunk; returns the envelope's total length in bytes. */
  finish() {
    if (this._inPart) throw new Error('a part is still open');
    if (this._finished) throw new Error('the envelope is already finished');
    this._emit(END);
    let padding = paddedSize(this._length) - this._length;
    const zeros = new Uint8Array(Math.min(padding, CHUNK_BYTES));
    while (padding) {
      const step = Math.min(padding, CHUNK_BYTES);
      this._emit(zeros.subarray(0, step));
      padding -= step;
    }
    this._push(this._plain.subarray(0, this._filled), this._sodium.crypto_secretstream_xchacha20poly1305_TAG_FINAL);
    this._sodium.memzero(this._plain);
    this._finished = true;
    return this._written;
  }

  _start(kind, name) {
    if (this._inPart) throw new Error('a part is already open');
    if (this._finished) throw new Error('the envelope is already finished');
    this._emit(encodePartStart(kind, name));
    this._inPart = true;
    if (this.observer) this.observer.start(kind, name);
  }

  // Plaintext goes into a 64 KiB buffer; a full chunk is pushed only once a
  // further byte follows it, so the last chunk (FINAL) is never empty: the same
  // chunk boundaries as envelope.py. Whole chunks inside a large piece are
  // pushed straight from it, without a copy into the buffer.
  _emit(data) {
    this._length += data.length;
    if (this._filled + data.length <= CHUNK_BYTES) {
      this._plain.set(data, this._filled);
      this._filled += data.length;
      return;
    }
    const tag = this._sodium.crypto_secretstream_xchacha20poly1305_TAG_MESSAGE;
    let offset = CHUNK_BYTES - this._filled;
    this._plain.set(data.subarray(0, offset), this._filled);
    this._push(this._plain, tag);
    while (data.length - offset > CHUNK_BYTES) {
      this._push(data.subarray(offset, offset + CHUNK_BYTES), tag);
      offset += CHUNK_BYTES;
    }
    this._plain.set(data.subarray(offset), 0);
    this._filled = data.length - offset;
  }

  _push(chunk, tag) {
    const ciphertext = this._sodium.crypto_secretstream_xchacha20poly1305_push(this._state, chunk, this._ad, tag);
    this._written += ciphertext.length;
    this._sink(ciphertext);
  }
}

/** The bytes of a Blob (Blob.arrayBuffer, or FileReader where that is missing). */
export function readBlob(blob) {
  if (typeof blob.arrayBuffer === 'function') return blob.arrayBuffer();
  return new Promise((resolve, reject) => {
    const reader = new FileReader();
    reader.onload = () => resolve(reader.result);
    reader.onerror = () => reject(reader.error);
    reader.readAsArrayBuffer(blob);
  });
}

// ---------------------------------------------------------------------------
// Opening

const WINDOW_BYTES = 16 * ENVELOPE_BLOCK; // Blob reads ahead ≈ 1 MiB at a time

/** Random access to the envelope bytes, whether a Uint8Array or a Blob. */
class Source {
  constructor(input) {
    if (Object.prototype.toString.call(input) === '[object Uint8Array]') {
      this._bytes = input;
      this.size = input.length;
    } else if (input && typeof input.slice === 'function' && typeof input.size === 'number') {
      this._blob = input;
      this.size = input.size;
      this._windowStart = 0;
      this._window = new Uint8Array(0);
    } else {
      throw new TypeError('an envelope is a Uint8Array or a Blob');
    }
  }

  /** Up to `length` bytes from `offset` (fewer at the end). */
  async read(offset, length) {
    const end = Math.min(offset + length, this.size);
    if (offset >= end) return new Uint8Array(0);
    if (this._bytes) return this._bytes.subarray(offset, end);
    // Each Blob read is a round trip in a browser: read a window ahead.
    const windowEnd = this._windowStart + this._window.length;
    if (offset < this._windowStart || end > windowEnd) {
      const readEnd = Math.min(this.size, offset + Math.max(length, WINDOW_BYTES));
      this._window = new Uint8Array(await readBlob(this._blob.slice(offset, readEnd)));
      this._windowStart = offset;
      if (this._window.length !== readEnd - offset) throw new TruncatedError('the envelope could not be read whole');
    }
    return this._window.subarray(offset - this._windowStart, end - this._windowStart);
  }
}

async function readHeader(source) {
  const fixed = await source.read(0, 8);
  if (fixed.length >= MAGIC.length && !equalBytes(fixed.subarray(0, MAGIC.length), MAGIC)) {
    throw new MalformedError('not a Whistle envelope');
  }
  if (fixed.length < 8) throw new TruncatedError('the envelope ends inside its header');
  const version = fixed[5];
  const slotCount = fixed[6];
  const flags = fixed[7];
  if (version !== VERSION) throw new UnsupportedVersionError('envelope', version, [VERSION]);
  if (slotCount < 1 || slotCount > MAX_SLOTS) throw new MalformedError('an envelope has 1 to 16 slots');
  if (flags & ~FLAG_SENDER) throw new MalformedError('unknown envelope flags');
  let offset = 8;
  const exactly = async (size) => {
    const data = await source.read(offset, size);
    if (data.length !== size) throw new TruncatedError('the envelope ends inside its header');
    offset += size;
    return data;
  };
  let sender = null;
  if (flags & FLAG_SENDER) sender = await exactly(KEY_BYTES);
  const slots = [];
  for (let i = 0; i < slotCount; i++) {
    const slotType = (await exactly(1))[0];
    if (!SLOT_BYTES[slotType]) throw new MalformedError(`unknown slot type ${slotType}`);
    if (slotType === SLOT_BOXED && sender === null) throw new MalformedError('a boxed slot without a sender key');
    slots.push({ type: slotType, body: await exactly(SLOT_BYTES[slotType]) });
  }
  const streamHeader = await exactly(SS_HEADER_BYTES);
  const raw = (await source.read(0, offset)).slice();
  return { raw, sender, slots, streamHeader };
}

function findContentKey(sodium, header, secretKeys) {
  for (const secret of secretKeys) {
    requireBytes(secret, KEY_BYTES, 'a secret key');
    const publicKey = sodium.crypto_scalarmult_base(secret);
    for (const slot of header.slots) {
      let key;
      let sender = null;
      try {
        if (slot.type === SLOT_SEALED) {
          key = sodium.crypto_box_seal_open(slot.body, publicKey, secret);
        } else {
          key = sodium.crypto_box_open_easy(slot.body.subarray(24), slot.body.subarray(0, 24), header.sender, secret);
          sender = header.sender;
        }
      } catch (error) {
        continue; // not this slot
      }
      if (key.length === KEY_BYTES) return { key, sender };
    }
  }
  throw new WrongKeyError('none of the keys given can open this envelope');
}

/**
 * Authenticates every chunk up to the final tag and checks the framing and
 * padding before anything is returned: a tampered, truncated or misbound
 * envelope releases no plaintext at all.
 *
 * Resolves to {senderPublicKey, parts: [{kind, name, content: Uint8Array}]},
 * where senderPublicKey is set only when a boxed slot was the one that opened.
 * Parts are held in memory (replies, follow-ups and a source's own records).
 */
export async function openEnvelope(sodium, input, secretKeys, associatedDataBytes) {
  const keys = Array.isArray(secretKeys) ? secretKeys : [secretKeys];
  requireBytes(associatedDataBytes, undefined, 'the associated data');
  const source = new Source(input);
  const header = await readHeader(source);
  const found = findContentKey(sodium, header, keys);
  const ad = chunkAd(sodium, header.raw, associatedDataBytes);
  const state = sodium.crypto_secretstream_xchacha20poly1305_init_pull(header.streamHeader, found.key);
  sodium.memzero(found.key);
  const parser = new FrameParser();
  const parts = [];
  let current = null;
  let plainTotal = 0;
  let offset = header.raw.length;
  let chunk = await source.read(offset, ENVELOPE_BLOCK);
  offset += chunk.length;
  if (!chunk.length) throw new TruncatedError('the envelope has no chunks');
  for (;;) {
    let following = new Uint8Array(0);
    if (chunk.length === ENVELOPE_BLOCK) {
      following = await source.read(offset, ENVELOPE_BLOCK);
      offset += following.length;
    }
    const result = sodium.crypto_secretstream_xchacha20poly1305_pull(state, chunk, ad);
    if (!result) {
      if (chunk.length < ENVELOPE_BLOCK && !following.length) {
        throw new TamperedError("the envelope's last chunk fails authentication: cut off, extended or altered");
      }
      throw new TamperedError('a chunk fails authentication: altered or reordered');
    }
    const final = result.tag === sodium.crypto_secretstream_xchacha20poly1305_TAG_FINAL;
    if (final) {
      if (following.length || offset < source.size) throw new MalformedError('data after the final chunk');
    } else if (result.tag !== sodium.crypto_secretstream_xchacha20poly1305_TAG_MESSAGE) {
      throw new MalformedError('unexpected chunk tag');
    } else if (chunk.length !== ENVELOPE_BLOCK) {
      throw new TruncatedError('the envelope ends without its final chunk');
    }
    plainTotal += result.message.length;
    for (const event of parser.feed(result.message)) {
      if (event.type === 'start') {
        current = { kind: event.kind, name: event.name, pieces: [] };
      } else if (event.type === 'data') {
        current.pieces.push(event.data);
      } else {
        parts.push({ kind: current.kind, name: current.name, content: concat(current.pieces) });
        current = null;
      }
    }
    if (final) break;
    if (!following.length) throw new TruncatedError('the envelope ends without its final chunk');
    chunk = following;
  }
  parser.finish();
  if (!isPaddedSize(plainTotal)) throw new MalformedError('the padded length is not a padding size');
  return { senderPublicKey: found.sender, parts };
}
