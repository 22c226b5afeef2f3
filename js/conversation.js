// Protocol 2: signed, numbered records of a conversation (whistle/crypto/conversation.py,
// docs/protocol.md §7). After its message and files, a record carries
//
//   "conversation"  TEXT, compact JSON {"sequence": n, "seen": m}
//   "signature"     BYTES, a signed object (§8) over record AD ‖ content digest
//
//   content digest = BLAKE2b-256("whistle/record-content/v2" ‖ for each part before the
//                    signature: kind (1) ‖ name length (2) ‖ name ‖ content length (8)
//                    ‖ BLAKE2b-256(content))
//
// Replies are signed by the office key (purpose whistle/office-record/v2), follow-ups by
// the source's key derived from the code (whistle/source-record/v2).

import { concat, equalBytes, fromUtf8, requireBytes, utf8 } from './bytes.js';
import { BadSignatureError, MalformedError, UnsupportedVersionError } from './errors.js';
import { PartKind } from './framing.js';

export const OFFICE_RECORD = 'whistle/office-record/v2';
export const SOURCE_RECORD = 'whistle/source-record/v2';
export const CONVERSATION_PART = 'conversation';
export const SIGNATURE_PART = 'signature';
export const MAX_SEQUENCE = 2 ** 31 - 1;
const CONTENT_DOMAIN = utf8('whistle/record-content/v2');
const SIG_MAGIC = utf8('WHSIG');
const SIG_VERSION = 1;
const SIGNATURE_BYTES = 64;

function u16(value) {
  return Uint8Array.of((value >>> 8) & 0xff, value & 0xff);
}

function u32(value) {
  return Uint8Array.of((value >>> 24) & 0xff, (value >>> 16) & 0xff, (value >>> 8) & 0xff, value & 0xff);
}

function u64(value) {
  const out = new Uint8Array(8);
  let rest = value;
  for (let i = 7; i >= 0; i--) {
    out[i] = rest % 256;
    rest = Math.floor(rest / 256);
  }
  return out;
}

/** The content digest, fed part by part (conversation.ContentDigest). */
export class ContentDigest {
  constructor(sodium) {
    this._sodium = sodium;
    this._outer = sodium.crypto_generichash_init(null, 32);
    sodium.crypto_generichash_update(this._outer, CONTENT_DOMAIN);
    this._head = null;
  }

  start(kind, name) {
    if (this._head) throw new Error('a part is already open');
    const raw = utf8(name);
    this._head = concat([Uint8Array.of(kind), u16(raw.length), raw]);
    this._inner = this._sodium.crypto_generichash_init(null, 32);
    this._size = 0;
  }

  update(data) {
    this._sodium.crypto_generichash_update(this._inner, data);
    this._size += data.length;
  }

  end() {
    if (!this._head) throw new Error('no part is open');
    const inner = this._sodium.crypto_generichash_final(this._inner, 32);
    this._sodium.crypto_generichash_update(this._outer, concat([this._head, u64(this._size), inner]));
    this._head = null;
  }

  add(kind, name, content) {
    this.start(kind, name);
    this.update(content);
    this.end();
  }

  digest() {
    if (this._head) throw new Error('a part is still open');
    return this._sodium.crypto_generichash_final(this._outer, 32);
  }
}

/** The "conversation" part: the same compact JSON as conversation_json. */
export function conversationJson(sequence, seen) {
  const ok = (n, low) => Number.isInteger(n) && n >= low && n <= MAX_SEQUENCE;
  if (!ok(sequence, 1) || !ok(seen, 0)) throw new RangeError('a sequence is 1 … 2^31 - 1 and seen 0 … 2^31 - 1');
  return utf8(JSON.stringify({ sequence, seen }));
}

/** A signed object (signing.sign): purpose and message under an Ed25519 signature. */
export function signObject(sodium, seed, purpose, message) {
  requireBytes(seed, 32, 'a signing seed');
  const label = utf8(purpose);
  const signed = concat([SIG_MAGIC, Uint8Array.of(SIG_VERSION, label.length), label, u32(message.length), message]);
  const pair = sodium.crypto_sign_seed_keypair(seed);
  const signature = sodium.crypto_sign_detached(signed, pair.privateKey);
  sodium.memzero(pair.privateKey);
  return concat([signed, signature]);
}

/** The message of a signed object once its purpose and signature check (signing.verify). */
export function verifyObject(sodium, publicKey, purpose, blob) {
  requireBytes(publicKey, 32, 'a signing public key');
  if (blob.length < 7 || !equalBytes(blob.subarray(0, 5), SIG_MAGIC)) throw new BadSignatureError('not a signed object');
  if (blob[5] !== SIG_VERSION) throw new UnsupportedVersionError('signed object', blob[5], [SIG_VERSION]);
  const offset = 7 + blob[6];
  if (blob.length < offset + 4 + SIGNATURE_BYTES) throw new BadSignatureError('the signed object is too short');
  const length = ((blob[offset] << 24) >>> 0) + (blob[offset + 1] << 16) + (blob[offset + 2] << 8) + blob[offset + 3];
  const end = offset + 4 + length;
  if (blob.length !== end + SIGNATURE_BYTES) throw new BadSignatureError("the signed object's length does not match");
  if (fromUtf8(blob.subarray(7, offset)) !== purpose) throw new BadSignatureError(`signed for another purpose, not ${purpose}`);
  if (!sodium.crypto_sign_verify_detached(blob.subarray(end), blob.subarray(0, end), publicKey)) {
    throw new BadSignatureError('the signature does not verify with the pinned key');
  }
  return blob.slice(offset + 4, end);
}

/**
 * Signs what an EnvelopeWriter writes (conversation.SignedWriter): every part goes through
 * a ContentDigest (the writer's observer); finish() adds the conversation part, then the
 * signature. Write parts through `writer` as usual.
 */
export class SignedWriter {
  constructor(sodium, writer, associatedDataBytes, seed, purpose, position) {
    this._sodium = sodium;
    this.writer = writer;
    this._ad = associatedDataBytes;
    this._seed = seed;
    this._purpose = purpose;
    this._position = position;
    this._digest = new ContentDigest(sodium);
    writer.observer = this._digest;
  }

  finish() {
    const conversation = conversationJson(this._position.sequence, this._position.seen);
    this.writer.addBytes(CONVERSATION_PART, conversation, PartKind.TEXT);
    this.writer.observer = null;
    const signed = signObject(this._sodium, this._seed, this._purpose, concat([this._ad, this._digest.digest()]));
    this.writer.addBytes(SIGNATURE_PART, signed, PartKind.BYTES);
    return this.writer.finish();
  }
}

/** Whether a record carries a signature part (protocol 2) or not (protocol 1). */
export function isSigned(parts) {
  return parts.some((p) => p.name === SIGNATURE_PART);
}

/**
 * {body, position}: the parts before the signature and {sequence, seen}, once the
 * signature checks (conversation.verify_parts). Throws BadSignatureError or MalformedError.
 */
export function verifyParts(sodium, parts, purpose, publicKey, associatedDataBytes) {
  const last = parts[parts.length - 1];
  if (!last || last.name !== SIGNATURE_PART || last.kind !== PartKind.BYTES) throw new BadSignatureError('the record is not signed');
  const body = parts.slice(0, -1);
  if (body.some((p) => p.name === SIGNATURE_PART)) throw new MalformedError('the record has more than one signature');
  const digest = new ContentDigest(sodium);
  for (const part of body) digest.add(part.kind, part.name, part.content);
  const message = verifyObject(sodium, publicKey, purpose, last.content);
  if (!equalBytes(message, concat([associatedDataBytes, digest.digest()]))) {
    throw new BadSignatureError('the signature is for another record or another content');
  }
  return { body, position: position(body) };
}

function position(body) {
  const found = body.filter((p) => p.name === CONVERSATION_PART && p.kind === PartKind.TEXT);
  if (found.length !== 1) throw new MalformedError('a signed record has one conversation part');
  let document;
  try {
    document = JSON.parse(fromUtf8(found[0].content));
  } catch (error) {
    throw new MalformedError('the conversation part is not well-formed');
  }
  const ok = (n, low) => Number.isInteger(n) && n >= low && n <= MAX_SEQUENCE;
  if (!document || !ok(document.sequence, 1) || !ok(document.seen, 0)) {
    throw new MalformedError("the conversation part's numbers are out of range");
  }
  return { sequence: document.sequence, seen: document.seen };
}
