"""Fixtures shared by every area's tests."""

from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import settings

from tests.pgcluster import Cluster, running_cluster
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


# --- Databases -----------------------------------------------------------------------------
# Tests that take the `database_url` fixture (or `db_backend`) run once per backend: SQLite and
# PostgreSQL (a private cluster per xdist worker, tests/pgcluster.py; a database per test).
# `--databases=sqlite` runs only SQLite; `@pytest.mark.sqlite_only` pins a test to SQLite
# (browser and Tor tests, SQLite's own pragmas).

BACKENDS = ("sqlite", "postgresql")


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--databases",
        default=",".join(BACKENDS),
        help="comma-separated database backends for the storage and site tests "
        "(default: sqlite,postgresql)",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "sqlite_only: run against SQLite only")
    chosen = config.getoption("--databases").split(",")
    unknown = set(chosen) - set(BACKENDS)
    if unknown or not chosen:
        raise pytest.UsageError(f"--databases: choose from {', '.join(BACKENDS)}")


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "db_backend" not in metafunc.fixturenames:
        return
    chosen = metafunc.config.getoption("--databases").split(",")
    if metafunc.definition.get_closest_marker("sqlite_only"):
        chosen = ["sqlite"]
    metafunc.parametrize("db_backend", chosen, indirect=True)


@pytest.fixture
def db_backend(request: pytest.FixtureRequest) -> str:
    return getattr(request, "param", "sqlite")


@pytest.fixture(scope="session")
def postgres_cluster() -> Iterator[Cluster]:
    with running_cluster() as cluster:
        yield cluster


@pytest.fixture
def database_url(db_backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> str:
    """An empty database (no schema) of the backend under test."""
    if db_backend == "sqlite":
        return f"sqlite:///{tmp_path / 'test.sqlite3'}"
    cluster: Cluster = request.getfixturevalue("postgres_cluster")
    return cluster.new_database()
