"""The bundle chain (review finding L5): each bundle's ``previous`` is checked against what the
receiving side applied; a gap, a sender restored from a backup, or a fork is shown (summary,
and the inbox's audit log), never silently accepted, and never refused (restore-tolerant).
An outbox after a broken chain destroys no key."""

import io

import pytest
from sqlalchemy import select

from tests.submit.conftest import submit_report
from whistle.bundling import Chain, check_chain
from whistle.crypto import read_card
from whistle.crypto.bundles import write_bundle
from whistle.inbox import epochs
from whistle.inbox.models import AuditEvent, KeyEpoch

from .conftest import World

A, B, C = "aa" * 32, "bb" * 32, "cc" * 32
APPLIED = {A: 1, B: 2}


@pytest.mark.parametrize(
    ("sequence", "previous", "last", "chain", "missed"),
    [
        (1, None, None, Chain.FIRST, 0),
        (3, C, None, Chain.GAP, 2),  # this side was set up after the sender's first bundles
        (3, B, (2, B), Chain.CONTINUOUS, 0),
        (7, B, (2, B), Chain.CONTINUOUS, 0),  # the sender's numbers jumped; nothing missed
        (5, C, (2, B), Chain.GAP, 2),
        (3, A, (2, B), Chain.RESTORED, 0),  # the sender went back to after bundle 1
        (3, C, (2, B), Chain.FORK, 0),  # nothing missed, yet not our history
        (3, None, (2, B), Chain.FORK, 0),  # a sender set up again
    ],
)
def test_what_previous_says(
    sequence: int, previous: str | None, last: tuple[int, str] | None, chain: Chain, missed: int
) -> None:
    got, note, gone = check_chain(sequence, previous, last, APPLIED.get)
    assert (got, gone) == (chain, missed)
    assert (note is None) == chain.unbroken


def _server_card(world: World):  # type: ignore[no-untyped-def]
    return read_card((world.server_dir / "server-card.json").read_bytes())


def _replies(world: World, sequence: int, previous: str | None) -> bytes:
    out = io.BytesIO()
    write_bundle(
        out,
        records=[],
        signing_seed=world.keyring.signing_seed,
        recipient_bundle_key=_server_card(world).bundle_key,
        install_id=world.server_config.install_id,
        direction="replies",
        sequence=sequence,
        previous=previous,
        created="2026-11-02",
        extra={},
    )
    return out.getvalue()


def _outbox(world: World, sequence: int, previous: str | None, extra: dict) -> bytes:  # type: ignore[type-arg]
    office = read_card((world.server_dir / "office-card.json").read_bytes())
    out = io.BytesIO()
    write_bundle(
        out,
        records=[],
        signing_seed=world.server_config.signing_seed,
        recipient_bundle_key=office.bundle_key,
        install_id=world.server_config.install_id,
        direction="outbox",
        sequence=sequence,
        previous=previous,
        created="2026-11-02",
        extra=extra,
    )
    return out.getvalue()


def test_the_server_shows_a_restored_inbox_and_a_fork(world: World) -> None:
    first = world.server_import(_replies(world, 1, None))
    assert first.chain_note is None
    second = world.server_import(_replies(world, 2, first.bundle_id))
    assert second.chain_note is None
    # The inbox was restored from a backup made after bundle 1: it numbers past what the
    # server applied and names bundle 1 as its previous. Applied, and said.
    restored = world.server_import(_replies(world, 3, first.bundle_id))
    assert "restored from an older backup" in " ".join(restored.lines())
    forked = world.server_import(_replies(world, 4, "ab" * 32))
    assert "bundle chain: the bundle before this one is not no. 3" in forked.lines()[1]


def test_the_inbox_logs_a_broken_chain_and_destroys_no_key_after_it(world: World) -> None:
    submit_report(world.client)
    first = world.inbox_import(world.server_export())
    assert first.chain_note is None
    with world.inbox_session() as session:
        epochs.rotate(session, world.keyring, world.inbox_config.clock())
    # A server that claims epoch 2 is current and epoch 1 collected, in a bundle whose
    # previous is not the one this inbox applied: noted, logged, and no key goes.
    report = {
        "epochs": {"current": 2, "accepting": [2], "pending": {}},
        "record_epochs": {},
    }
    forked = world.inbox_import(_outbox(world, 2, "ab" * 32, report))
    assert forked.chain_note is not None
    assert "not no. 1 applied here" in forked.chain_note
    with world.inbox_session() as session:
        events = [
            e.detail for e in session.scalars(select(AuditEvent)) if e.action == "bundle-chain"
        ]
        assert events == [f"outbox bundle no. 2: {forked.chain_note}"]
        assert not epochs.is_destroyed(session, 1)
    # Days later, a continuous bundle with the same report: by the inbox's own clock the
    # server has used epoch 2 for three days, so epoch 1's keys go.
    world.inbox_config.clock.advance(days=3)  # type: ignore[attr-defined]
    later = world.inbox_import(_outbox(world, 3, forked.bundle_id, report))
    assert later.chain_note is None
    assert "desk keys of epoch 1 destroyed: everything sent to them is collected" in later.notes
    with world.inbox_session() as session:
        assert session.get(KeyEpoch, 1).destroyed_at is not None


def test_the_server_saying_collected_at_once_destroys_nothing_before_three_days(
    world: World,
) -> None:
    """A (compromised) server that reports the old epoch collected the moment it shows the
    new one cannot have the inbox destroy keys early: the inbox counts from its own clock."""
    submit_report(world.client)
    first = world.inbox_import(world.server_export())
    with world.inbox_session() as session:
        epochs.rotate(session, world.keyring, world.inbox_config.clock())
    report = {"epochs": {"current": 2, "accepting": [2], "pending": {}}, "record_epochs": {}}
    previous = first.bundle_id
    for sequence, hours in ((2, 0), (3, 47), (4, 24)):  # 0 h, 47 h, 71 h after first seen
        world.inbox_config.clock.advance(hours=hours)  # type: ignore[attr-defined]
        summary = world.inbox_import(_outbox(world, sequence, previous, report))
        previous = summary.bundle_id
        with world.inbox_session() as session:
            assert not epochs.is_destroyed(session, 1), f"destroyed at bundle {sequence}"
    world.inbox_config.clock.advance(hours=1)  # type: ignore[attr-defined]
    world.inbox_import(_outbox(world, 5, previous, report))
    with world.inbox_session() as session:
        assert epochs.is_destroyed(session, 1)


def test_a_manager_confirms_destruction_only_after_the_server_used_newer_keys(
    world: World,
) -> None:
    submit_report(world.client)
    first = world.inbox_import(world.server_export())
    now = world.inbox_config.clock()
    with world.inbox_session() as session:
        epochs.rotate(session, world.keyring, now)
    with world.inbox_session() as session, pytest.raises(epochs.KeyEpochError, match="in use"):
        epochs.confirm_destroy(session, 2, now, officer_id=1)
    with world.inbox_session() as session, pytest.raises(epochs.KeyEpochError, match="newer"):
        epochs.confirm_destroy(session, 1, now, officer_id=1)
    # A forked chain: no automatic destruction, but the evidence that the server uses epoch 2
    # is recorded; the manager's confirmation destroys, and the audit log says who decided.
    report = {"epochs": {"current": 2, "accepting": [2], "pending": {}}, "record_epochs": {}}
    world.inbox_import(_outbox(world, 2, None, report))
    assert first.bundle_id
    with world.inbox_session() as session:
        epochs.confirm_destroy(session, 1, now, officer_id=1)
    with world.inbox_session() as session:
        assert epochs.is_destroyed(session, 1)
        [event] = [e for e in session.scalars(select(AuditEvent)) if e.action == "keys-destroyed"]
        assert event.detail == "desk keys of epoch 1 destroyed (confirmed by a manager)"
        assert event.officer_id == 1
