// Every way input to the browser crypto can be wrong, one class each, mirroring
// whistle/crypto/errors.py. Caller mistakes (a key of the wrong length) raise
// TypeError or RangeError instead: those are bugs, not hostile input.

export class WhistleCryptoError extends Error {
  constructor(message) {
    super(message);
    this.name = this.constructor.name;
  }
}

export class UnsupportedVersionError extends WhistleCryptoError {
  constructor(what, found, supported) {
    super(`${what} format version ${found} is unknown here (this code reads ${supported.join(', ')})`);
    this.what = what;
    this.found = found;
    this.supported = supported;
  }
}

export class DecryptionError extends WhistleCryptoError {}
export class WrongKeyError extends DecryptionError {}
export class TamperedError extends DecryptionError {}
export class TruncatedError extends DecryptionError {}
export class MalformedError extends DecryptionError {}

export class CodeError extends WhistleCryptoError {}
/** Not a code at all: wrong length or characters outside the alphabet. */
export class CodeFormatError extends CodeError {}
/** The check symbol does not match: the code was mistyped. */
export class CodeChecksumError extends CodeError {}

/** The self-test failed: this browser's crypto cannot be trusted. */
export class SelfTestError extends WhistleCryptoError {}
