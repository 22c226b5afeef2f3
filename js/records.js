// The records a source writes and reads (whistle/crypto/records.py):
//
//   submission  sealed to the chosen desk and to the source's reply key
//               parts: "reply_public_key" (bytes, 32), "form" (text, JSON),
//                      "identification" (bytes, 4096 + 48, sealed to the custodian),
//                      then any number of files
//   followup    boxed from the source's reply key to the office keys (the case's key once
//               announced, else every desk key), sealed to the source's reply key;
//               parts: "message" (text), files
//   reply       sealed to the source's reply key and to the desk;
//               parts: "message" (text), files
//
// Every envelope's associated data is associatedData(kind, case id). Protocol 2: the
// submission also carries "source_signing_key"; follow-ups are sealed (not boxed) and
// signed with the source's key, replies signed with the office key (conversation.js).

import { fromUtf8, requireBytes, toHex, utf8Exact } from './bytes.js';
import {
  OFFICE_RECORD,
  SOURCE_RECORD,
  SignedWriter,
  isSigned,
  verifyParts,
} from './conversation.js';
import { EnvelopeWriter, associatedData, boxedTo, openEnvelope, sealedTo } from './envelope.js';
import { MalformedError } from './errors.js';
import { MAX_FILES, cleanFileName } from './filenames.js';
import { PartKind } from './framing.js';

export const IDENTIFICATION_BYTES = 4096;
export const SEALED_IDENTIFICATION_BYTES = IDENTIFICATION_BYTES + 48;
export const FORM_VERSION = 1;
export const MAX_FORM_BYTES = 256 * 1024;
export const SOURCE_SIGNING_KEY_PART = 'source_signing_key';

/** Identification blocks written since protocol version 2 carry their case and reply key. */
export const IDENTIFICATION_VERSION = 2;

/**
 * The JSON inside a version 2 identification block, before its zero padding: the same
 * bytes as records.identification_plaintext (compact, keys in this order).
 */
export function identificationPlaintext(fields, caseId, replyPublicKey) {
  requireBytes(caseId, 16, 'the case id');
  requireBytes(replyPublicKey, 32, 'the reply public key');
  if (!Array.isArray(fields)) throw new TypeError('identification fields are a list');
  const document = {
    version: IDENTIFICATION_VERSION,
    case: toHex(caseId),
    reply_public_key: toHex(replyPublicKey),
    fields,
  };
  const raw = utf8Exact(JSON.stringify(document), 'the identification');
  if (raw.length > IDENTIFICATION_BYTES) throw new RangeError('the identification does not fit its fixed size');
  return raw;
}

/**
 * The fixed-size identification block: `fields` (maybe empty) sealed to the custodian,
 * naming the case and the reply key of its submission (records.seal_identification).
 */
export function sealIdentification(sodium, fields, custodianKey, caseId, replyPublicKey) {
  requireBytes(custodianKey, 32, "the custodian's public key");
  const raw = identificationPlaintext(fields, caseId, replyPublicKey);
  const padded = new Uint8Array(IDENTIFICATION_BYTES);
  padded.set(raw);
  const sealed = sodium.crypto_box_seal(padded, custodianKey);
  sodium.memzero(padded);
  return sealed;
}

/** Collects a writer's output as a list of pieces (a Blob is made from them at the end). */
function collector() {
  const pieces = [];
  return { pieces, sink: (bytes) => pieces.push(bytes) };
}

function blobOf(pieces) {
  return new Blob(pieces, { type: 'application/octet-stream' });
}

function totalSize(files) {
  let total = 0;
  for (const file of files) total += file.size;
  return total;
}

/**
 * The submission's form part, keys in this order (records.form_document): the same JSON from
 * the page as from the plain form. `category` is {key, label} or null.
 */
export function formDocument(language, desk, fields, extras) {
  return {
    language,
    desk,
    fields,
    identified: extras.identified,
    category: extras.category,
    meeting: extras.meeting,
    availability: extras.availability,
  };
}

/** Streams one submission: reply key, form, identification, then files (records.SubmissionWriter). */
export class SubmissionWriter {
  constructor(sodium, sink, keys) {
    requireBytes(keys.deskKey, 32, "the desk's public key");
    requireBytes(keys.custodianKey, 32, "the custodian's public key");
    requireBytes(keys.replyPublicKey, 32, 'the reply public key');
    requireBytes(keys.sourceSigningKey, 32, "the source's signing key");
    this._sodium = sodium;
    this._custodianKey = keys.custodianKey;
    this._caseId = keys.caseId;
    this._replyPublicKey = keys.replyPublicKey;
    this._writer = new EnvelopeWriter(
      sodium,
      sink,
      [sealedTo(keys.deskKey), sealedTo(keys.replyPublicKey)],
      associatedData('submission', keys.caseId),
    );
    this._writer.addBytes('reply_public_key', keys.replyPublicKey);
    this._writer.addBytes(SOURCE_SIGNING_KEY_PART, keys.sourceSigningKey);
  }

  /** The questionnaire answers: {language, desk, fields: [{key, label, value}]}. */
  addForm(form) {
    const document = Object.assign({ version: FORM_VERSION }, form);
    const raw = utf8Exact(JSON.stringify(document), 'the form');
    if (raw.length > MAX_FORM_BYTES) throw new RangeError('the form is too large');
    this._writer.addBytes('form', raw, PartKind.TEXT);
  }

  /** Always call this, with an empty list when the source gave no details. */
  addIdentification(fields) {
    const block = sealIdentification(this._sodium, fields, this._custodianKey, this._caseId, this._replyPublicKey);
    this._writer.addBytes('identification', block);
  }

  addBlob(name, blob, onRead) {
    return this._writer.addBlob(name, blob, onRead);
  }

  finish() {
    return this._writer.finish();
  }
}

/**
 * A whole submission as a Blob, reading each File in slices. `onProgress(done,
 * total)` reports plaintext bytes of the files read so far.
 */
export async function writeSubmission(sodium, options) {
  const out = collector();
  const files = options.files || [];
  const writer = new SubmissionWriter(sodium, out.sink, options);
  writer.addForm(options.form);
  writer.addIdentification(options.identification || []);
  await addFiles(writer, files, options.onProgress);
  writer.finish();
  return blobOf(out.pieces);
}

async function addFiles(writer, files, onProgress) {
  // The plain route's checks, made here because the server cannot see inside the envelope.
  if (files.length > MAX_FILES) throw new RangeError(`at most ${MAX_FILES} files`);
  const total = totalSize(files);
  let done = 0;
  if (onProgress) onProgress(0, total);
  for (const file of files) {
    await writer.addBlob(cleanFileName(file.name), file, (bytes) => {
      done += bytes;
      if (onProgress) onProgress(done, total);
    });
  }
}

/**
 * A follow-up as a Blob, readable by the holders of `officeKeys` and by the source
 * (records.FollowupWriter): the case's key once the office announced it (docs/protocol.md
 * §17), else every desk's key of the card. With `signingSeed` and `position` ({sequence,
 * seen}; protocol 2 cases) it is sealed to them and signed with the source's key; without (a
 * protocol 1 case) it is boxed from the reply key, so the office knows the code's holder
 * wrote it.
 */
export async function writeFollowup(sodium, options) {
  requireBytes(options.replySecretKey, 32, 'the reply secret key');
  if (!Array.isArray(options.officeKeys) || !options.officeKeys.length) {
    throw new RangeError('a follow-up goes to at least one office key');
  }
  const signed = Boolean(options.signingSeed);
  if (signed !== Boolean(options.position)) throw new TypeError('a signed follow-up needs the signing seed and its position');
  const recipients = options.officeKeys.map(signed ? sealedTo : boxedTo);
  recipients.push(sealedTo(sodium.crypto_scalarmult_base(options.replySecretKey)));
  const out = collector();
  const ad = associatedData('followup', options.caseId);
  const writer = new EnvelopeWriter(sodium, out.sink, recipients, ad, signed ? {} : { senderSecretKey: options.replySecretKey });
  const signer = signed ? new SignedWriter(sodium, writer, ad, options.signingSeed, SOURCE_RECORD, options.position) : writer;
  writer.addText('message', options.message);
  await addFiles(writer, options.files || [], options.onProgress);
  signer.finish();
  return blobOf(out.pieces);
}

function conversation(parts, position) {
  const messages = parts.filter((p) => p.name === 'message' && p.kind === PartKind.TEXT);
  if (messages.length !== 1) throw new MalformedError('the record has no single message');
  let message;
  try {
    message = fromUtf8(messages[0].content);
  } catch (error) {
    throw new MalformedError("part 'message' is not UTF-8 text");
  }
  const files = parts.filter((p) => p.kind === PartKind.FILE).map((p) => ({ name: p.name, content: p.content }));
  return { message, files, position: position || null, signed: Boolean(position) };
}

/**
 * A reply, or the source's own follow-up, opened with the reply secret key and checked:
 * {message, files: [{name, content}], position: {sequence, seen} | null, signed}
 * (records.open_as_source). A reply must be signed by `checks.officeKey`, the source's
 * own follow-up by `checks.sourceSigningKey`; in a `checks.signedCase` an unsigned record
 * is refused (BadSignatureError), in a protocol 1 case it opens with signed false.
 */
export async function openAsSource(sodium, input, kind, replySecretKey, caseId, checks) {
  if (kind !== 'reply' && kind !== 'followup') throw new RangeError('a source reads replies and its own follow-ups');
  const ad = associatedData(kind, caseId);
  const opened = await openEnvelope(sodium, input, replySecretKey, ad);
  if (!checks.signedCase && !isSigned(opened.parts)) return conversation(opened.parts, null);
  const [purpose, key] = kind === 'reply' ? [OFFICE_RECORD, checks.officeKey] : [SOURCE_RECORD, checks.sourceSigningKey];
  const verified = verifyParts(sodium, opened.parts, purpose, key, ad);
  return conversation(verified.body, verified.position);
}

/**
 * The source's own submission, opened with the reply secret key:
 * {form, files: [{name, content}], sourceSigningKey (null in a protocol 1 case)}.
 */
export async function openSubmissionAsSource(sodium, input, replySecretKey, caseId) {
  const opened = await openEnvelope(sodium, input, replySecretKey, associatedData('submission', caseId));
  const named = (name) => {
    const found = opened.parts.filter((p) => p.name === name && p.kind !== PartKind.FILE);
    if (found.length !== 1) throw new MalformedError(`the submission has no single ${name}`);
    return found[0].content;
  };
  const replyKey = named('reply_public_key');
  if (replyKey.length !== 32) throw new MalformedError('the reply key is not 32 bytes');
  if (named('identification').length !== SEALED_IDENTIFICATION_BYTES) {
    throw new MalformedError('the identification block has the wrong size');
  }
  let form;
  try {
    form = JSON.parse(fromUtf8(named('form')));
  } catch (error) {
    throw new MalformedError('the form is not JSON');
  }
  if (!form || typeof form !== 'object' || !Array.isArray(form.fields)) throw new MalformedError('the form has no fields');
  const files = opened.parts.filter((p) => p.kind === PartKind.FILE).map((p) => ({ name: p.name, content: p.content }));
  const signing = opened.parts.filter((p) => p.name === SOURCE_SIGNING_KEY_PART && p.kind !== PartKind.FILE);
  if (signing.length > 1 || (signing.length && signing[0].content.length !== 32)) {
    throw new MalformedError("the source's signing key is not 32 bytes");
  }
  return { form, files, sourceSigningKey: signing.length ? signing[0].content : null };
}
