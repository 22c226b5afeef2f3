// Every way input to the browser crypto can be wrong, one class each, mirroring
// whistle/crypto/errors.py. Caller mistakes (a key of the wrong length) raise
// TypeError or RangeError instead: those are bugs, not hostile input.
//
// Each class carries its name on its prototype: the bundle is minified, so
// constructor names are not the class names. Pages test with instanceof
// (WhistleCrypto.errors.X) or by error.name.

export class WhistleCryptoError extends Error {}

export class UnsupportedVersionError extends WhistleCryptoError {
  constructor(what, found, supported) {
    super(`${what} format version ${found} is unknown here (this code reads ${supported.join(', ')})`);
    this.what = what;
    this.found = found;
    this.supported = supported;
  }
}

/** An envelope could not be opened. */
export class DecryptionError extends WhistleCryptoError {}
/** None of the keys given can open this ciphertext. */
export class WrongKeyError extends DecryptionError {}
/** Authentication failed: changed, reordered or bound to other data. */
export class TamperedError extends DecryptionError {}
/** The ciphertext ends before its final authenticated chunk. */
export class TruncatedError extends DecryptionError {}
/** The bytes do not have the structure of the format they claim to be. */
export class MalformedError extends DecryptionError {}
/** Authentic, but written for another case, sender or place in the conversation. */
export class MisboundError extends DecryptionError {}

/** A signed object or a signed record failed verification. */
export class SignatureError extends WhistleCryptoError {}
/** Not signed, signed by another key, for another purpose or record, or altered. */
export class BadSignatureError extends SignatureError {}

/**
 * A source code was entered wrongly. `position` (from 0, spaces and dashes not
 * counted) names the character the check found wrong when it can; `kind` is
 * 'wrong' or 'swapped' (that character and the next), or null.
 */
export class CodeError extends WhistleCryptoError {
  constructor(message, kind = null, position = null) {
    super(message);
    this.kind = kind;
    this.position = position;
  }
}
/** Not a code at all: wrong length or characters outside the alphabet. */
export class CodeFormatError extends CodeError {}
/** The check symbol does not match: the code was mistyped. */
export class CodeChecksumError extends CodeError {}

/** The self-test failed: this browser's crypto cannot be trusted. */
export class SelfTestError extends WhistleCryptoError {}

const NAMES = [
  [WhistleCryptoError, 'WhistleCryptoError'],
  [UnsupportedVersionError, 'UnsupportedVersionError'],
  [DecryptionError, 'DecryptionError'],
  [WrongKeyError, 'WrongKeyError'],
  [TamperedError, 'TamperedError'],
  [TruncatedError, 'TruncatedError'],
  [MalformedError, 'MalformedError'],
  [MisboundError, 'MisboundError'],
  [SignatureError, 'SignatureError'],
  [BadSignatureError, 'BadSignatureError'],
  [CodeError, 'CodeError'],
  [CodeFormatError, 'CodeFormatError'],
  [CodeChecksumError, 'CodeChecksumError'],
  [SelfTestError, 'SelfTestError'],
];
for (const [cls, name] of NAMES) {
  Object.defineProperty(cls.prototype, 'name', { value: name, writable: true, configurable: true });
}
