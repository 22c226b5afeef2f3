"""Key grants: one X25519 secret key sealed to one holder's public key, bound to its place.

The inbox's compartments (desk keys sealed to each member, case keys sealed to a desk or to
each officer of a case) are grants. A grant is ``crypto_box_seal`` of

    BLAKE2b-128 keyed with nothing of ("whistle/key-grant/v1" ‖ context) (16) ‖ secret (32)

to the holder's public key: 96 bytes. ``context`` names what the secret is (for example
``desk/<id>/<generation>`` or ``case/<id>/<generation>``), so a grant copied to another row
opens but is refused as misbound; the secret must also match the public key the caller
expects.
"""

from nacl.bindings import crypto_box_seal, crypto_box_seal_open, crypto_scalarmult_base
from nacl.encoding import RawEncoder
from nacl.exceptions import CryptoError as NaclCryptoError
from nacl.hash import blake2b

from whistle.crypto.errors import MalformedError, MisboundError, WrongKeyError

LABEL = b"whistle/key-grant/v1"
GRANT_BYTES = 96


def _tag(context: str) -> bytes:
    return blake2b(LABEL + context.encode("utf-8"), digest_size=16, encoder=RawEncoder)


def seal_grant(secret: bytes, holder_public: bytes, context: str) -> bytes:
    """``secret`` sealed to ``holder_public`` for ``context``."""
    if len(secret) != 32 or len(holder_public) != 32:
        raise ValueError("a grant seals a 32-byte secret to a 32-byte public key")
    return crypto_box_seal(_tag(context) + secret, holder_public)


def open_grant(
    grant: bytes,
    holder_secret: bytes,
    context: str,
    expected_public: bytes,
    *,
    holder_public: bytes | None = None,
) -> bytes:
    """The secret of a grant; ``WrongKeyError`` when it is not sealed to ``holder_secret``,
    ``MisboundError`` when it was sealed for another place or to another key pair.

    ``holder_public`` spares deriving the holder's public key again when thousands of grants
    to one holder are opened (a wrong one only makes the grant refuse to open)."""
    if len(grant) != GRANT_BYTES:
        raise MalformedError("a key grant is 96 bytes")
    public = holder_public if holder_public is not None else crypto_scalarmult_base(holder_secret)
    try:
        plain = crypto_box_seal_open(grant, public, holder_secret)
    except NaclCryptoError as exc:
        raise WrongKeyError("this key grant is not sealed to this key") from exc
    secret = plain[16:]
    if plain[:16] != _tag(context) or crypto_scalarmult_base(secret) != expected_public:
        raise MisboundError("this key grant was made for another place")
    return secret
