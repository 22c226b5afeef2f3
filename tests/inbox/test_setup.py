"""Creating an office: keys, card, recovery key, first officer; pinning the server."""

import pytest
from sqlalchemy import select

from whistle.crypto import (
    generate_signing_keypair,
    make_server_card,
    read_card,
    recovery_wrapping_key,
)
from whistle.errors import WhistleError
from whistle.inbox.errors import ServerCardError, SetupError
from whistle.inbox.keyring import unwrap_custodian_recovery, unwrap_office_recovery
from whistle.inbox.models import Office, Officer
from whistle.inbox.office_setup import init_office, pin_server

from .conftest import PASSWORD


def test_office_card_lists_desks_and_custodian(office) -> None:
    card = read_card(office.created.card)
    assert card.epoch == 1
    assert [d.id for d in card.desks] == ["antifraud", "ethics"]
    assert card.fingerprint == office.created.fingerprint


def test_first_officer_is_system_manager_not_custodian(office) -> None:
    with office.session() as session:
        officer = session.scalar(select(Officer))
        assert officer.roles == ("officer", "manager")
        assert officer.wrapped_custodian_keyring is None


def test_recovery_key_opens_both_keyrings(office) -> None:
    signed = office.sign_in()
    key = recovery_wrapping_key(office.created.recovery_key)
    with office.session() as session:
        row = session.scalar(select(Office))
        keyring = unwrap_office_recovery(row.recovery_keyring, key)
        custodian = unwrap_custodian_recovery(row.recovery_custodian_keyring, key)
    # Version 2: the desk keys are in the database. The office keys are the same; the
    # recovery keyring's personal key is its own (every desk key is sealed to it too).
    assert (keyring.signing_seed, keyring.storage_secret) == (
        signed.keyring.signing_seed,
        signed.keyring.storage_secret,
    )
    assert keyring.personal_secret not in (None, signed.keyring.personal_secret)
    from whistle.crypto import box_keypair_from_secret

    assert box_keypair_from_secret(custodian.custodian_secret).public_key == office.custodian_public


def test_init_refuses_an_existing_office(office) -> None:
    with pytest.raises(SetupError):
        init_office(
            office.config,
            time_zone=office.config.time_zone,
            name="Again",
            desks=[("a", "A")],
            officer_name="x",
            password=PASSWORD,
        )


@pytest.mark.parametrize(
    ("desks", "password"),
    [
        ([], PASSWORD),
        ([("Bad Id", "x")], PASSWORD),
        ([("a", "A")], "short"),
        ([("a", "A"), ("a", "B")], PASSWORD),
    ],
)
def test_init_refuses_bad_options(config, desks, password) -> None:
    with pytest.raises(WhistleError):
        init_office(
            config,
            time_zone=config.time_zone,
            name="O",
            desks=desks,
            officer_name="admin",
            password=password,
        )
    assert not config.database_path.exists()


def test_pin_server_card(office) -> None:
    seed = generate_signing_keypair().seed
    card = make_server_card(
        seed, name="srv", bundle_key=bytes(32), install_id="ab" * 16, created="2026-11-01"
    )
    with office.session() as session:
        pinned = pin_server(session, office.config, card)
    with office.session() as session:
        assert session.scalar(select(Office)).server_fingerprint == pinned.fingerprint
        pin_server(session, office.config, card)  # the same card again is fine
    other = make_server_card(
        generate_signing_keypair().seed,
        name="evil",
        bundle_key=bytes(32),
        install_id="cd" * 16,
        created="2026-11-01",
    )
    with office.session() as session, pytest.raises(ServerCardError):
        pin_server(session, office.config, other)


def test_pin_refuses_office_card_and_garbage(office) -> None:
    with office.session() as session:
        with pytest.raises(ServerCardError):
            pin_server(session, office.config, office.created.card)
        with pytest.raises(ServerCardError):
            pin_server(session, office.config, b"{not a card")


def test_failed_init_leaves_nothing_behind(config, monkeypatch) -> None:
    def broken(*args, **kwargs):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr("whistle.inbox.office_setup.add_officer", broken)
    with pytest.raises(RuntimeError):
        init_office(
            config,
            time_zone=config.time_zone,
            name="O",
            desks=[("a", "A")],
            officer_name="admin",
            password=PASSWORD,
        )
    assert not config.data_dir.exists()
    monkeypatch.undo()
    init_office(
        config,
        time_zone=config.time_zone,
        name="O",
        desks=[("a", "A")],
        officer_name="admin",
        password=PASSWORD,
    )
    assert config.database_path.is_file()
