"""check_envelope_shape: what the server checks of a browser's envelope it cannot open."""

import pytest

from whistle.crypto import check_envelope_shape, generate_box_keypair
from whistle.crypto.conversation import Position
from whistle.crypto.errors import CryptoError, MalformedError
from whistle.crypto.records import seal_followup, seal_reply

CASE = bytes(range(16))


def _followup(size: int = 10) -> bytes:
    reply = generate_box_keypair()
    desks = [generate_box_keypair().public_key for _ in range(2)]
    return seal_followup(
        "m" * size, [], reply_secret_key=reply.secret_key, office_keys=desks, case_id=CASE
    )


def test_a_followup_has_the_shape_of_a_followup() -> None:
    for size in (10, 70_000, 200_000):
        data = _followup(size)
        check_envelope_shape(data[:512], len(data), sealed=1, boxed=2, sender=True)


def test_a_reply_is_not_a_followup() -> None:
    data = seal_reply(
        "r",
        [],
        reply_public_key=generate_box_keypair().public_key,
        desk_key=generate_box_keypair().public_key,
        case_id=CASE,
        office_seed=bytes(32),
        position=Position(1, 0),
    )
    with pytest.raises(MalformedError):
        check_envelope_shape(data[:512], len(data), sealed=1, boxed=2, sender=True)


@pytest.mark.parametrize(
    "mangle",
    [
        lambda d: b"XXXXX" + d[5:],
        lambda d: d[:5] + b"\x09" + d[6:],
        lambda d: d[:200],
        lambda d: d + b"x",
        lambda d: b"",
    ],
)
def test_forged_bytes_are_refused(mangle) -> None:  # type: ignore[no-untyped-def]
    data = mangle(_followup())
    with pytest.raises(CryptoError):
        check_envelope_shape(data[:512], len(data), sealed=1, boxed=2, sender=True)
