// Whistle's browser crypto: what whistle.crypto does for a source, byte for byte.
//
//   const api = await WhistleCrypto.load();   // libsodium ready + self-test passed
//   api.mode                                   // "webassembly" or "javascript"
//   const code = api.generateCode();
//   const keys = api.deriveSourceKeys(code, installSalt);
//   const blob = await api.writeSubmission({deskKey, custodianKey, replyPublicKey: keys.replyPublicKey,
//                                           caseId, form, identification, files, onProgress});
//
// load() rejects (SelfTestError or whatever libsodium threw) when this browser
// cannot be trusted to encrypt; the page then sends nothing and offers the plain form.

import readySodium from './sodium-ready.cjs';
import { fromHex, toHex } from './bytes.js';
import { codeBits, checkSymbol, formatCode, generateCode, normalizeCode } from './codes.js';
import { fingerprint, verifyOfficeCard } from './cards.js';
import { verifyCaseKey } from './case-keys.js';
import { copyDocument, openCopy, sealCopy } from './copies.js';
import { OFFICE_RECORD, SOURCE_RECORD, signObject, verifyObject } from './conversation.js';
import { deriveSourceKeys } from './derive.js';
import { EnvelopeWriter, associatedData, boxedTo, openEnvelope, sealedTo } from './envelope.js';
import * as errors from './errors.js';
import { cleanFileName } from './filenames.js';
import { PartKind } from './framing.js';
import { paddedSize, padme } from './padding.js';
import {
  SubmissionWriter,
  formDocument,
  identificationPlaintext,
  openAsSource,
  openSubmissionAsSource,
  sealIdentification,
  writeFollowup,
  writeSubmission,
} from './records.js';
import { VECTOR, selfTest } from './selftest.js';

export { errors, fromHex, toHex, formatCode, normalizeCode, checkSymbol, codeBits, padme, paddedSize, PartKind, cleanFileName };

/** The API bound to a ready libsodium. */
function bind(sodiumReady) {
  const s = sodiumReady;
  return Object.freeze({
    mode: detectMode(s),
    errors,
    PartKind,
    fromHex,
    toHex,
    generateCode: (randomBytes) => generateCode(randomBytes || s.randombytes_buf),
    /** A new case id: 16 CSPRNG bytes, chosen by the browser that makes the submission. */
    generateCaseId: () => s.randombytes_buf(16),
    normalizeCode,
    formatCode,
    codeBits,
    checkSymbol,
    padme,
    paddedSize,
    cleanFileName,
    deriveSourceKeys: (code, installSalt) => deriveSourceKeys(s, code, installSalt),
    associatedData,
    sealedTo,
    boxedTo,
    EnvelopeWriter: (sink, recipients, ad, options) => new EnvelopeWriter(s, sink, recipients, ad, options),
    SubmissionWriter: (sink, keys) => new SubmissionWriter(s, sink, keys),
    sealIdentification: (fields, custodianKey, caseId, replyPublicKey) =>
      sealIdentification(s, fields, custodianKey, caseId, replyPublicKey),
    identificationPlaintext,
    formDocument,
    writeSubmission: (options) => writeSubmission(s, options),
    writeFollowup: (options) => writeFollowup(s, options),
    openEnvelope: (input, secretKeys, ad) => openEnvelope(s, input, secretKeys, ad),
    openAsSource: (input, kind, replySecretKey, caseId, checks) => openAsSource(s, input, kind, replySecretKey, caseId, checks),
    signObject: (seed, purpose, message) => signObject(s, seed, purpose, message),
    verifyObject: (publicKey, purpose, blob) => verifyObject(s, publicKey, purpose, blob),
    OFFICE_RECORD,
    SOURCE_RECORD,
    fingerprint: (signingKey) => fingerprint(s, signingKey),
    verifyOfficeCard: (signed) => verifyOfficeCard(s, signed),
    verifyCaseKey: (blob, officeSigningKey, caseId) => verifyCaseKey(s, blob, officeSigningKey, caseId),
    openSubmissionAsSource: (input, replySecretKey, caseId) => openSubmissionAsSource(s, input, replySecretKey, caseId),
    copyDocument,
    sealCopy: (document, copyPublicKey, caseId) => sealCopy(s, document, copyPublicKey, caseId),
    openCopy: (input, copySecretKey, caseId) => openCopy(s, input, copySecretKey, caseId),
    selfTest: () => selfTest(s),
    selfTestVector: VECTOR,
  });
}

// libsodium.js replaces its WebAssembly module by the plain-JS backup when
// WebAssembly is missing or blocked (CSP without 'wasm-unsafe-eval'); the backup
// has no useBackupModule. A label for the page and the benchmarks, nothing more.
function detectMode(s) {
  return s.libsodium && typeof s.libsodium.useBackupModule === 'function' ? 'webassembly' : 'javascript';
}

let loading = null;

/** Resolves to the API once libsodium is ready and the self-test has passed. */
export function load() {
  if (!loading) {
    loading = readySodium().then((sodium) => {
      const api = bind(sodium);
      return api.selfTest().then(() => api);
    });
  }
  return loading;
}
