// The page's check of a case key announcement (whistle/crypto/case_keys.py, docs/protocol.md
// §17): the server hands the page the key a case's follow-ups go to, so the page believes it
// only when the office signed it for that purpose and it names the case the code found. A
// server can then neither make up a key nor move one from another case.

import { equalBytes, fromHex, fromUtf8, requireBytes, toHex, utf8 } from './bytes.js';
import { verifyObject } from './conversation.js';
import { MalformedError, MisboundError, UnsupportedVersionError } from './errors.js';

export const CASE_KEY = 'whistle/case-key/v1';
export const CASE_KEY_VERSION = 1;
export const MAX_ANNOUNCEMENT_BYTES = 512;
/** Far above any case's key generations (one per step-aside or move). */
export const MAX_GENERATION = 1000000;
const FIELDS = ['case', 'generation', 'key', 'v'];

/**
 * {caseId, generation, publicKey} of an announcement signed by the office key for `caseId`
 * (case_keys.read_case_key). Throws BadSignatureError (not the office's, or signed for
 * something else), MisboundError (another case's key), MalformedError (bad fields, or not in
 * the one canonical form) or UnsupportedVersionError.
 */
export function verifyCaseKey(sodium, blob, officeSigningKey, caseId) {
  requireBytes(blob, undefined, 'a case key announcement');
  requireBytes(caseId, 16, 'the case id');
  if (blob.length > MAX_ANNOUNCEMENT_BYTES) throw new MalformedError('the case key announcement is too long');
  const announcement = parse(verifyObject(sodium, officeSigningKey, CASE_KEY, blob));
  if (!equalBytes(announcement.caseId, caseId)) throw new MisboundError("the case key announced is another case's");
  return announcement;
}

function parse(message) {
  let body;
  try {
    body = JSON.parse(fromUtf8(message));
  } catch (error) {
    throw new MalformedError('the case key announcement is not JSON');
  }
  const isObject = body !== null && typeof body === 'object' && !Array.isArray(body);
  const version = isObject ? body.v : undefined;
  if (Number.isInteger(version) && version > CASE_KEY_VERSION) {
    throw new UnsupportedVersionError('case key announcement', version, [CASE_KEY_VERSION]);
  }
  if (version !== CASE_KEY_VERSION || Object.keys(body).sort().join() !== FIELDS.join()) {
    throw new MalformedError("the case key announcement's fields are not those of version 1");
  }
  if (typeof body.case !== 'string' || !/^[0-9a-f]{32}$/.test(body.case)) {
    throw new MalformedError('the announced case id is not 32 lower-case hex characters');
  }
  if (typeof body.key !== 'string' || !/^[0-9a-f]{64}$/.test(body.key)) {
    throw new MalformedError('the announced case key is not 64 lower-case hex characters');
  }
  const generation = body.generation;
  if (!Number.isInteger(generation) || generation < 1 || generation > MAX_GENERATION) {
    throw new MalformedError("the case key's generation is not a whole number from 1 to 1,000,000");
  }
  const announcement = { caseId: fromHex(body.case), generation, publicKey: fromHex(body.key) };
  // One form only (compact, sorted keys): what was signed is exactly what is read.
  if (!equalBytes(canonical(announcement), message)) {
    throw new MalformedError('the case key announcement is not in its canonical form');
  }
  return announcement;
}

/** The message as case_keys.CaseKeyAnnouncement.message writes it. */
function canonical(announcement) {
  const { caseId, generation, publicKey } = announcement;
  return utf8(`{"case":"${toHex(caseId)}","generation":${generation},"key":"${toHex(publicKey)}","v":${CASE_KEY_VERSION}}`);
}
