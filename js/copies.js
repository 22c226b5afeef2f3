// The source's own copy of what they sent (whistle/crypto/source_copy.py): one envelope per
// record sent, sealed to the copy key derived from the code alone, record type "source-copy";
// one text part "copy", compact JSON, keys in this order:
//
//   {"version":1,"kind":"submission","form":{form document},"files":[{"name","size"}]}
//   {"version":1,"kind":"followup","message":"…","files":[{"name","size"}]}
//
// Files by name and size, never their content. The same bytes as the server writes for the
// same input (JavaScript off), so the server cannot tell who sealed a copy.

import { concat, fromUtf8, utf8Exact } from './bytes.js';
import { EnvelopeWriter, associatedData, openEnvelope, sealedTo } from './envelope.js';
import { MalformedError, UnsupportedVersionError } from './errors.js';
import { cleanFileName } from './filenames.js';
import { PartKind } from './framing.js';

export const COPY_RECORD = 'source-copy';
export const COPY_VERSION = 1;

/** The copy's document (source_copy.copy_document); `files` are File objects or {name, size}. */
export function copyDocument(kind, options) {
  const body = {};
  if (kind === 'submission' && options.form && options.message === undefined) body.form = options.form;
  else if (kind === 'followup' && typeof options.message === 'string' && !options.form) body.message = options.message;
  else throw new TypeError("a submission's copy has its form, a follow-up's its message");
  const files = (options.files || []).map((file) => ({ name: cleanFileName(file.name), size: file.size }));
  return Object.assign({ version: COPY_VERSION, kind }, body, { files });
}

/** The copy's envelope (a Uint8Array), sealed to the copy key alone. */
export function sealCopy(sodium, document, copyPublicKey, caseId) {
  const pieces = [];
  const writer = new EnvelopeWriter(sodium, (bytes) => pieces.push(bytes), [sealedTo(copyPublicKey)], associatedData(COPY_RECORD, caseId));
  writer.addBytes('copy', utf8Exact(JSON.stringify(document), 'the copy'), PartKind.TEXT);
  writer.finish();
  return concat(pieces);
}

/**
 * An opened copy: {kind, files: [{name, size}], fields: [{label, value}], message}. Rejects
 * with WrongKeyError (another code), TamperedError (changed, or another case's), MalformedError.
 */
export async function openCopy(sodium, input, copySecretKey, caseId) {
  const opened = await openEnvelope(sodium, input, copySecretKey, associatedData(COPY_RECORD, caseId));
  const found = opened.parts.filter((p) => p.name === 'copy' && p.kind === PartKind.TEXT);
  if (found.length !== 1) throw new MalformedError('the copy has no single copy part');
  let document;
  try {
    document = JSON.parse(fromUtf8(found[0].content));
  } catch (error) {
    throw new MalformedError('the copy is not JSON');
  }
  if (!document || typeof document !== 'object' || !Number.isInteger(document.version)) {
    throw new MalformedError('the copy has no version');
  }
  if (document.version !== COPY_VERSION) throw new UnsupportedVersionError('source copy', document.version, [COPY_VERSION]);
  if (document.kind !== 'submission' && document.kind !== 'followup') throw new MalformedError('the copy is of no known kind');
  if (!Array.isArray(document.files)) throw new MalformedError("the copy's files are not a list");
  const files = document.files.map((file) => {
    if (!file || typeof file.name !== 'string' || !Number.isInteger(file.size) || file.size < 0) {
      throw new MalformedError('a file of the copy has no name or size');
    }
    return { name: file.name, size: file.size };
  });
  if (document.kind === 'submission') {
    const form = document.form;
    if (!form || typeof form !== 'object' || !Array.isArray(form.fields)) throw new MalformedError("the copy's form has no fields");
    const fields = form.fields
      .filter((f) => f && typeof f === 'object')
      .map((f) => ({ label: String(f.label === undefined ? '' : f.label), value: String(f.value === undefined ? '' : f.value) }));
    return { kind: 'submission', files, fields, message: '' };
  }
  if (typeof document.message !== 'string') throw new MalformedError("the copy's message is not text");
  return { kind: 'followup', files, fields: [], message: document.message };
}
