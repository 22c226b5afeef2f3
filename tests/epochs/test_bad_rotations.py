"""Rotations that must be refused: each with a clear message, nothing changed on the server."""

import io
from typing import Any

import pytest

from tests.bundles.conftest import World
from whistle.bundling import BundleRefusedError, StaleBundleError
from whistle.crypto import (
    Desk,
    OfficeCard,
    generate_box_keypair,
    generate_signing_keypair,
    make_office_card,
    read_card,
)
from whistle.crypto.bundles import write_bundle
from whistle.epochs import CARD_FIELD, CardRefusedError
from whistle.inbox.bundles import pinned_server
from whistle.submit import epochs as server_epochs
from whistle.submit.bundles import preview_replies

from .conftest import Loop


def _card(seed: bytes, old: OfficeCard, epoch: int, bundle_key: bytes | None = None) -> bytes:
    """A card like ``old`` with fresh desk keys, signed by ``seed``."""
    return make_office_card(
        seed,
        name=old.name,
        bundle_key=bundle_key or generate_box_keypair().public_key,
        desks=[Desk(d.id, d.name, generate_box_keypair().public_key) for d in old.desks],
        custodian_key=old.custodian_key,
        epoch=epoch,
        created="2026-11-02",
    )


def _replies_bundle(
    world: World, *, card: bytes, sequence: int, seed: bytes | None = None
) -> bytes:
    """A replies bundle carrying ``card``, signed by the office key (or ``seed``)."""
    with world.inbox_session() as session:
        server = pinned_server(session)
    out = io.BytesIO()
    write_bundle(
        out,
        records=[],
        signing_seed=seed or world.keyring.signing_seed,
        recipient_bundle_key=server.bundle_key,
        install_id=server.install_id,
        direction="replies",
        sequence=sequence,
        previous=None,
        created="2026-11-02",
        extra={CARD_FIELD: card.decode("utf-8")},
    )
    return out.getvalue()


def _refused(loop: Loop, data: bytes, kind: type[Exception] = CardRefusedError) -> str:
    before = loop.world.snapshot()["server"]
    with pytest.raises(kind) as refused:
        loop.server_import(data)
    assert loop.world.snapshot()["server"] == before, "the refused bundle changed something"
    assert isinstance(refused.value, BundleRefusedError)
    return str(refused.value)


def _current(loop: Loop) -> Any:
    with loop.world.server_state().sessions() as session:
        return server_epochs.current_card(session, loop.world.server_config)


def test_a_rotation_bundle_signed_by_an_unknown_key_is_refused(loop: Loop) -> None:
    stranger = generate_signing_keypair()
    old = loop.world.server_config.office_card
    data = _replies_bundle(
        loop.world, card=_card(stranger.seed, old, 2), sequence=1, seed=stranger.seed
    )
    message = _refused(loop, data, BundleRefusedError)
    assert "not signed by the pinned key" in message
    assert _current(loop).epoch == 1


def test_a_card_with_another_signing_key_is_refused(loop: Loop) -> None:
    """Signed bundle, right office key — but the card inside is another key's."""
    stranger = generate_signing_keypair()
    old = loop.world.server_config.office_card
    data = _replies_bundle(loop.world, card=_card(stranger.seed, old, 2), sequence=1)
    message = _refused(loop, data)
    assert "signed by another key" in message
    assert "nothing was changed" in message
    assert _current(loop) == old


def test_a_rotation_replayed_after_a_newer_one_is_refused(loop: Loop) -> None:
    first = loop.rotate()
    loop.server_import(rotation_2 := loop.inbox_export())
    loop.rotate()
    loop.server_import(loop.inbox_export())
    assert _current(loop).epoch == 3

    # The very bundle that brought epoch 2, again: already applied, a no-op.
    again = loop.server_import(rotation_2)
    assert again.already_applied
    assert _current(loop).epoch == 3
    with loop.world.server_state().sessions() as session:
        previewed = preview_replies(session, loop.world.server_config, rotation_2)
    assert previewed.already_applied  # not "a replayed rotation?": it changes nothing
    # The epoch-2 card in a new bundle (a replay dressed up with a new number): refused.
    card_2 = read_card(first_card_bytes := _card_bytes(loop, 2))
    assert card_2 == first
    data = _replies_bundle(loop.world, card=first_card_bytes, sequence=10)
    message = _refused(loop, data)
    assert "key epoch 2, older than the current epoch 3" in message
    # The same bundle number with other content: refused as stale.
    data = _replies_bundle(loop.world, card=first_card_bytes, sequence=1)
    _refused(loop, data, StaleBundleError)


def test_the_current_epoch_with_other_keys_is_refused(loop: Loop) -> None:
    loop.rotate()
    loop.server_import(loop.inbox_export())
    current = _current(loop)
    forged = _card(loop.world.keyring.signing_seed, current, current.epoch)
    message = _refused(loop, _replies_bundle(loop.world, card=forged, sequence=5))
    assert "claims the current key epoch 2 with other keys" in message
    assert _current(loop) == current


def test_a_malformed_card_field_is_refused(loop: Loop) -> None:
    data = _replies_bundle(loop.world, card=b"not a card", sequence=1)
    assert "does not verify" in _refused(loop, data)


def _card_bytes(loop: Loop, epoch: int) -> bytes:
    from whistle.inbox.models import KeyEpoch

    with loop.world.inbox_session() as session:
        row = session.get(KeyEpoch, epoch)
        assert row is not None
        return row.card


def test_an_outbox_with_a_malformed_epoch_report_is_refused(loop: Loop) -> None:
    from whistle.inbox import epochs as inbox_epochs

    world = loop.world
    with world.inbox_session() as session:
        card = inbox_epochs.current_card(session)
    before = world.snapshot()["inbox"]
    for report in ({"current": 2, "accepting": [1], "pending": {}}, {"current": "x"}, [1]):
        out = io.BytesIO()
        write_bundle(
            out,
            records=[],
            signing_seed=world.server_config.signing_seed,
            recipient_bundle_key=card.bundle_key,
            install_id=world.server_config.install_id,
            direction="outbox",
            sequence=1,
            previous=None,
            created="2026-11-02",
            extra={"epochs": report},
        )
        with pytest.raises(BundleRefusedError):
            loop.inbox_import(out.getvalue())
    assert world.snapshot()["inbox"] == before


def test_a_card_written_straight_into_the_database_is_never_used(loop: Loop) -> None:
    """Someone who can write to the (shared) database but holds no office key inserts a
    self-signed card of a newer epoch: the site encrypts nothing to it and says it is
    unavailable, rather than hand its desk keys to sources' pages."""
    import datetime

    from tests.submit.conftest import counts, csrf_from, submit_report
    from whistle.submit.models import OfficeCardRow

    world = loop.world
    world.client.get("/language/en")
    submit_report(world.client, description="Before")
    before = counts(world.app)
    token = csrf_from(world.client.get("/report").text)
    stranger = generate_signing_keypair()
    with world.server_state().sessions.begin() as session:
        session.add(
            OfficeCardRow(
                epoch=99,
                card=_card(stranger.seed, _current(loop), 99),
                applied=datetime.date(2026, 11, 2),
            )
        )
    form = world.client.get("/report")
    assert form.status_code == 503
    assert "Temporarily unavailable" in form.text
    assert stranger.public_key.hex() not in form.text
    posted = world.client.post(
        "/report",
        data={"csrf_token": token, "description": "After", "files": (io.BytesIO(b""), "")},
    )
    assert posted.status_code == 503
    assert counts(world.app) == before
    from click.testing import CliRunner

    from whistle.cli import main

    status = CliRunner().invoke(main, ["server", "status", str(world.server_dir)])
    assert status.exit_code == 1
    assert "PROBLEM: the stored office card of epoch 99" in status.output
