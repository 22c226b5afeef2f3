"""Fixtures shared by every area's tests."""

import pytest

from whistle.crypto import KdfParams

#: Argon2id at libsodium's minimum: only ever used by tests, never by the product.
INSECURE_KDF_PARAMS = KdfParams(opslimit=1, memlimit=8192)


@pytest.fixture
def insecure_kdf_params() -> KdfParams:
    return INSECURE_KDF_PARAMS
