"""Fixtures shared by every area's tests."""

import pytest
from hypothesis import settings

from whistle.crypto import KdfParams

#: Argon2id at libsodium's minimum: only ever used by tests, never by the product.
INSECURE_KDF_PARAMS = KdfParams(opslimit=1, memlimit=8192)


@pytest.fixture
def insecure_kdf_params() -> KdfParams:
    return INSECURE_KDF_PARAMS


# Fuzzing in CI is seeded and bounded: the same examples every run, so a red run
# can be reproduced and a green one means the same thing each time.
settings.register_profile("whistle", derandomize=True, deadline=None, print_blob=True)
settings.load_profile("whistle")
