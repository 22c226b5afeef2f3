"""A sign-in that moves desk keys out from under the storage key (an office that went into
desk compartments before the keys of records in transit did, ``epochs.seal_wire_keys``)
scrubs the write-ahead log after its commit, in the web inbox and at the command line: the
storage-key copies are then in no file under the data directory."""

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import select, text

from whistle.cli import main
from whistle.inbox import compartments, create_app, db, epochs
from whistle.inbox.models import DeskKey
from whistle.inbox.models import Office as OfficeRow

from .conftest import Office
from .test_cli import obj, password_file  # noqa: F401 - fixtures
from .test_web import login


def _seal_wire_keys_to_the_storage_key(office: Office) -> list[bytes]:
    """The state such an office is in before its first sign-in: every live desk key sealed
    to the storage key (no compartment generation). Returns those sealed copies."""
    admin = office.sign_in()
    sealed = []
    with office.session() as session:
        opened = compartments.open_desks(session, admin.keyring).desks
        storage = session.get(OfficeRow, 1).storage_public_key
        for keys in epochs.live_keys(session, admin.keyring, opened):
            for desk_id, secret in keys.desks.items():
                row = session.get(DeskKey, (keys.epoch, desk_id))
                row.sealed_secret = epochs._seal(storage, keys.epoch, f"desk/{desk_id}", secret)
                row.generation = None
                sealed.append(row.sealed_secret)
    assert sealed
    return sealed


def _everything_under(data_dir: Path) -> bytes:
    return b"".join(p.read_bytes() for p in sorted(data_dir.rglob("*")) if p.is_file())


@pytest.fixture
def beside(office: Office) -> Iterator[None]:
    """Another connection open on the database (the web inbox beside the command line): the
    last connection to close would otherwise empty the log itself and hide a missing scrub."""
    engine = db.make_engine(office.config.database_path)
    with engine.connect() as connection:
        connection.execute(text("SELECT count(*) FROM office"))
        connection.rollback()
        yield
    engine.dispose()


def _web_sign_in(office: Office, _obj: object, _password: Path) -> Callable[[], None]:
    app = create_app(office.config)  # its start scrubs the log: before the keys are sealed
    return lambda: login(app.test_client())


def _command_line_sign_in(office: Office, config: object, password: Path) -> Callable[[], None]:
    arguments = ["inbox", "file-held", str(office.config.data_dir), "--officer", "admin"]

    def run() -> None:
        result = CliRunner().invoke(
            main, [*arguments, "--password-file", str(password)], obj=config
        )
        assert result.exit_code == 0, result.output

    return run


@pytest.mark.parametrize("way", [_web_sign_in, _command_line_sign_in], ids=["web", "cli"])
def test_a_sign_in_that_moves_desk_keys_leaves_no_storage_key_copy_in_any_file(
    office: Office,
    beside: None,
    obj: object,  # noqa: F811
    password_file: Path,  # noqa: F811
    way: Callable[..., Callable[[], None]],
) -> None:
    sign_in = way(office, obj, password_file)
    sealed = _seal_wire_keys_to_the_storage_key(office)
    before = _everything_under(office.config.data_dir)
    assert all(blob[-64:] in before for blob in sealed)  # the search bites
    sign_in()
    with office.session() as session:
        moved = session.scalars(
            select(DeskKey.generation).where(DeskKey.sealed_secret.is_not(None))
        )
        assert None not in moved.all()  # every key went to its desk's compartment
    after = _everything_under(office.config.data_dir)
    for blob in sealed:
        # Any 64-byte stretch of a storage-key copy would betray a leftover.
        assert blob[:64] not in after
        assert blob[-64:] not in after
