// The records a source writes and reads (whistle/crypto/records.py):
//
//   submission  sealed to the chosen desk and to the source's reply key
//               parts: "reply_public_key" (bytes, 32), "form" (text, JSON),
//                      "identification" (bytes, 4096 + 48, sealed to the custodian),
//                      then any number of files
//   followup    boxed from the source's reply key to every desk key, sealed to
//               the source's reply key; parts: "message" (text), files
//   reply       sealed to the source's reply key and to the desk;
//               parts: "message" (text), files
//
// Every envelope's associated data is associatedData(kind, case id).

import { fromUtf8, requireBytes, utf8Exact } from './bytes.js';
import { EnvelopeWriter, associatedData, boxedTo, openEnvelope, sealedTo } from './envelope.js';
import { MalformedError } from './errors.js';
import { MAX_FILES, cleanFileName } from './filenames.js';
import { PartKind } from './framing.js';

export const IDENTIFICATION_BYTES = 4096;
export const SEALED_IDENTIFICATION_BYTES = IDENTIFICATION_BYTES + 48;
export const FORM_VERSION = 1;
export const MAX_FORM_BYTES = 256 * 1024;

/** The fixed-size identification block: `fields` (maybe empty) sealed to the custodian. */
export function sealIdentification(sodium, fields, custodianKey) {
  requireBytes(custodianKey, 32, "the custodian's public key");
  if (!Array.isArray(fields)) throw new TypeError('identification fields are a list');
  const raw = utf8Exact(JSON.stringify({ version: 1, fields }), 'the identification');
  if (raw.length > IDENTIFICATION_BYTES) throw new RangeError('the identification does not fit its fixed size');
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

/** Streams one submission: reply key, form, identification, then files (records.SubmissionWriter). */
export class SubmissionWriter {
  constructor(sodium, sink, keys) {
    requireBytes(keys.deskKey, 32, "the desk's public key");
    requireBytes(keys.custodianKey, 32, "the custodian's public key");
    requireBytes(keys.replyPublicKey, 32, 'the reply public key');
    this._sodium = sodium;
    this._custodianKey = keys.custodianKey;
    this._writer = new EnvelopeWriter(
      sodium,
      sink,
      [sealedTo(keys.deskKey), sealedTo(keys.replyPublicKey)],
      associatedData('submission', keys.caseId),
    );
    this._writer.addBytes('reply_public_key', keys.replyPublicKey);
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
    this._writer.addBytes('identification', sealIdentification(this._sodium, fields, this._custodianKey));
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
 * A follow-up as a Blob: boxed from the reply key to every desk key (so the
 * office knows the code's holder wrote it), sealed to the reply public key (so
 * the source can read it again). Same parts as records.seal_followup.
 */
export async function writeFollowup(sodium, options) {
  requireBytes(options.replySecretKey, 32, 'the reply secret key');
  if (!Array.isArray(options.deskKeys) || !options.deskKeys.length) {
    throw new RangeError('a follow-up goes to at least one desk');
  }
  const recipients = options.deskKeys.map(boxedTo);
  recipients.push(sealedTo(sodium.crypto_scalarmult_base(options.replySecretKey)));
  const out = collector();
  const writer = new EnvelopeWriter(sodium, out.sink, recipients, associatedData('followup', options.caseId), {
    senderSecretKey: options.replySecretKey,
  });
  writer.addText('message', options.message);
  await addFiles(writer, options.files || [], options.onProgress);
  writer.finish();
  return blobOf(out.pieces);
}

function conversation(parts) {
  const messages = parts.filter((p) => p.name === 'message' && p.kind === PartKind.TEXT);
  if (messages.length !== 1) throw new MalformedError('the record has no single message');
  let message;
  try {
    message = fromUtf8(messages[0].content);
  } catch (error) {
    throw new MalformedError("part 'message' is not UTF-8 text");
  }
  const files = parts.filter((p) => p.kind === PartKind.FILE).map((p) => ({ name: p.name, content: p.content }));
  return { message, files };
}

/**
 * A reply, or the source's own follow-up, opened with the reply secret key:
 * {message, files: [{name, content}]} (records.open_as_source).
 */
export async function openAsSource(sodium, input, kind, replySecretKey, caseId) {
  if (kind !== 'reply' && kind !== 'followup') throw new RangeError('a source reads replies and its own follow-ups');
  const opened = await openEnvelope(sodium, input, replySecretKey, associatedData(kind, caseId));
  return conversation(opened.parts);
}

/** The source's own submission, opened with the reply secret key: {form, files: [{name, content}]}. */
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
  return { form, files };
}
