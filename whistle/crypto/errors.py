"""Every way input to ``whistle.crypto`` can be wrong, one class each.

Caller mistakes (a key of the wrong length, a negative size) raise ``TypeError``
or ``ValueError`` instead: those are bugs, not hostile input.
"""

from whistle.errors import WhistleError


class CryptoError(WhistleError):
    """Input to a cryptographic operation was refused."""


class UnsupportedVersionError(CryptoError):
    """A format version this code does not know (probably newer: upgrade)."""

    def __init__(self, what: str, found: int, supported: tuple[int, ...]) -> None:
        self.what = what
        self.found = found
        self.supported = supported
        newer = found > max(supported)
        hint = "it was made by a newer Whistle: upgrade" if newer else "it is not supported"
        super().__init__(
            f"{what} format version {found} is unknown here "
            f"(this Whistle reads {', '.join(map(str, supported))}); {hint}"
        )


class DecryptionError(CryptoError):
    """An envelope or wrapped secret could not be opened."""


class WrongKeyError(DecryptionError):
    """None of the keys given can open this ciphertext."""


class TamperedError(DecryptionError):
    """Authentication failed: the ciphertext was changed, reordered or bound to other data."""


class TruncatedError(DecryptionError):
    """The ciphertext ends before its final authenticated chunk."""


class MalformedError(DecryptionError):
    """The bytes do not have the structure of the format they claim to be."""


class MisboundError(DecryptionError):
    """A record opened, but it was written for another case, sender or place in the conversation.

    An identification block copied from one case into another, a reply signed
    by someone other than the office: the bytes are authentic, the claim is not.
    """


class WrongPassphraseError(DecryptionError):
    """The passphrase or recovery key does not open this key file."""


class SecondFactorNeededError(WrongPassphraseError):
    """This key file opens only with the passphrase and a second factor together."""


class SignatureError(CryptoError):
    """A signed object failed verification."""


class BadSignatureError(SignatureError):
    """The signature does not match the message and the pinned key."""


class WrongPurposeError(SignatureError):
    """The signature was made for another purpose than the one being checked."""


class CodeError(CryptoError):
    """A source code was entered wrongly.

    ``position`` (from 0, spaces and dashes not counted) names the character the
    check found wrong, when it can; ``kind`` is "wrong" or "swapped" (the
    character at ``position`` and the next one), or None.
    """

    position: int | None = None
    kind: str | None = None


class CodeFormatError(CodeError):
    """Not a code at all: wrong length or characters outside the alphabet."""


class CodeChecksumError(CodeError):
    """The check symbol does not match: the code was mistyped."""


class CardError(CryptoError):
    """A key card is malformed, or its fingerprint is not the one pinned."""


class ManifestError(CryptoError):
    """A bundle manifest is malformed."""
