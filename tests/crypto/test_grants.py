"""Key grants: a secret sealed to a holder's key for one place (docs/protocol.md §12)."""

import pytest

from whistle.crypto import generate_box_keypair, open_grant, seal_grant
from whistle.crypto.errors import MisboundError, WrongKeyError


def test_a_grant_opens_with_the_holders_public_key_given_or_derived() -> None:
    holder, case = generate_box_keypair(), generate_box_keypair()
    grant = seal_grant(case.secret_key, holder.public_key, "case/ab/1")
    for given in (None, holder.public_key):
        opened = open_grant(
            grant, holder.secret_key, "case/ab/1", case.public_key, holder_public=given
        )
        assert opened == case.secret_key


def test_a_wrong_holder_public_key_opens_nothing() -> None:
    """Passing the holder's public key skips deriving it, not any check."""
    holder, other, case = generate_box_keypair(), generate_box_keypair(), generate_box_keypair()
    grant = seal_grant(case.secret_key, holder.public_key, "case/ab/1")
    with pytest.raises(WrongKeyError):
        open_grant(
            grant, holder.secret_key, "case/ab/1", case.public_key, holder_public=other.public_key
        )
    with pytest.raises(WrongKeyError):  # another's secret with the holder's public key
        open_grant(
            grant, other.secret_key, "case/ab/1", case.public_key, holder_public=holder.public_key
        )
    with pytest.raises(MisboundError):  # the right keys, another place
        open_grant(
            grant, holder.secret_key, "case/cd/1", case.public_key, holder_public=holder.public_key
        )
