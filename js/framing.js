// The framing inside an envelope's plaintext: several named parts in one stream
// (whistle/crypto/framing.py).
//
//   part start  0x01  kind u8 (1 text, 2 file, 3 bytes)  name length u16 BE  name (UTF-8)
//   data        0x02  length u32 BE (1 … 1 MiB)  bytes
//   part end    0x03
//   end         0x00                      then zero bytes up to the padded size

import { utf8Exact } from './bytes.js';
import { MalformedError } from './errors.js';

export const FRAME_END = 0x00;
export const FRAME_START = 0x01;
export const FRAME_DATA = 0x02;
export const FRAME_PART_END = 0x03;
export const MAX_NAME_BYTES = 1024;
export const MAX_DATA_FRAME = 1 << 20;
export const MAX_PARTS = 1000;
export const PartKind = Object.freeze({ TEXT: 1, FILE: 2, BYTES: 3 });

const KINDS = [PartKind.TEXT, PartKind.FILE, PartKind.BYTES];

export function encodePartStart(kind, name) {
  if (KINDS.indexOf(kind) < 0) throw new RangeError(`unknown part kind ${kind}`);
  if (typeof name !== 'string') throw new TypeError('a part name is text');
  if (name.indexOf('\u0000') >= 0) throw new RangeError('a part name has no NUL character');
  const raw = utf8Exact(name, 'a part name');
  if (raw.length > MAX_NAME_BYTES) throw new RangeError(`a part name is at most ${MAX_NAME_BYTES} bytes`);
  const out = new Uint8Array(4 + raw.length);
  out[0] = FRAME_START;
  out[1] = kind;
  out[2] = raw.length >> 8;
  out[3] = raw.length & 0xff;
  out.set(raw, 4);
  return out;
}

/** The 5-byte header of a data frame of `length` bytes (1 … 1 MiB). */
export function encodeDataHeader(length) {
  const out = new Uint8Array(5);
  out[0] = FRAME_DATA;
  new DataView(out.buffer).setUint32(1, length, false);
  return out;
}

export const PART_END = Uint8Array.of(FRAME_PART_END);
export const END = Uint8Array.of(FRAME_END);

function isZero(bytes, from) {
  for (let i = from; i < bytes.length; i++) if (bytes[i] !== 0) return false;
  return true;
}

/**
 * Incremental, strict parser: feed plaintext as it is decrypted; each feed
 * returns the events that became complete ({type: 'start', kind, name},
 * {type: 'data', data}, {type: 'end'}). finish() checks the end marker was seen.
 */
export class FrameParser {
  constructor() {
    this._buffer = new Uint8Array(0);
    this._inPart = false;
    this._ended = false;
    this._dataLeft = 0;
    this._parts = 0;
    this._decoder = new TextDecoder('utf-8', { fatal: true });
  }

  feed(data) {
    if (this._ended) {
      if (!isZero(data, 0)) throw new MalformedError('non-zero bytes after the end of the parts');
      return [];
    }
    let buf = data;
    if (this._buffer.length) {
      buf = new Uint8Array(this._buffer.length + data.length);
      buf.set(this._buffer, 0);
      buf.set(data, this._buffer.length);
    }
    const events = [];
    const pos = this._parse(buf, events);
    this._buffer = buf.slice(pos);
    return events;
  }

  finish() {
    if (!this._ended) throw new MalformedError('the parts end without an end marker');
  }

  _parse(buf, events) {
    let pos = 0;
    while (pos < buf.length) {
      if (this._dataLeft) {
        const take = Math.min(this._dataLeft, buf.length - pos);
        events.push({ type: 'data', data: buf.slice(pos, pos + take) });
        this._dataLeft -= take;
        pos += take;
        continue;
      }
      if (this._ended) {
        if (!isZero(buf, pos)) throw new MalformedError('non-zero bytes after the end of the parts');
        return buf.length;
      }
      const tag = buf[pos];
      if (tag === FRAME_END) {
        if (this._inPart) throw new MalformedError('the parts end inside a part');
        this._ended = true;
        pos += 1;
      } else if (tag === FRAME_START) {
        if (buf.length - pos < 4) break;
        const kind = buf[pos + 1];
        const nameLength = (buf[pos + 2] << 8) | buf[pos + 3];
        if (this._inPart) throw new MalformedError('a part starts inside another part');
        if (KINDS.indexOf(kind) < 0) throw new MalformedError(`unknown part kind ${kind}`);
        if (nameLength > MAX_NAME_BYTES) throw new MalformedError('a part name is too long');
        if (buf.length - pos < 4 + nameLength) break;
        let name;
        try {
          name = this._decoder.decode(buf.subarray(pos + 4, pos + 4 + nameLength));
        } catch (error) {
          throw new MalformedError('a part name is not UTF-8');
        }
        if (name.indexOf('\u0000') >= 0) throw new MalformedError('a part name contains NUL');
        this._parts += 1;
        if (this._parts > MAX_PARTS) throw new MalformedError('too many parts');
        this._inPart = true;
        events.push({ type: 'start', kind, name });
        pos += 4 + nameLength;
      } else if (tag === FRAME_DATA) {
        if (buf.length - pos < 5) break;
        if (!this._inPart) throw new MalformedError('data outside a part');
        const length = new DataView(buf.buffer, buf.byteOffset + pos + 1, 4).getUint32(0, false);
        if (length < 1 || length > MAX_DATA_FRAME) {
          throw new MalformedError('a data frame has an impossible length');
        }
        this._dataLeft = length;
        pos += 5;
      } else if (tag === FRAME_PART_END) {
        if (!this._inPart) throw new MalformedError('a part ends that never started');
        this._inPart = false;
        events.push({ type: 'end' });
        pos += 1;
      } else {
        throw new MalformedError(`unknown frame type ${tag}`);
      }
    }
    return pos;
  }
}
