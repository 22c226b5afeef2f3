"""The inbox announces each case's newest key generation in its replies bundles (protocol §17):
signed with the office key, held until a backup's snapshot holds the key, sent until a server
that keeps announcements confirms, superseded by a newer generation, sent again after a server
restore, gone with its case."""

import base64
import io
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from tests.submit.conftest import submit_report
from whistle.bundling import read_bundle_bytes
from whistle.crypto import KdfParams
from whistle.crypto.case_keys import read_case_key
from whistle.inbox import compartments
from whistle.inbox.bundles import _last, export_replies
from whistle.inbox.models import Case, CaseKey, Officer, Outgoing
from whistle.inbox.officers import add_officer
from whistle.inbox.workflow import purge_case
from whistle.submit.case_keys import held_extra

from .conftest import PASSWORD, World, make_world, signed_outbox


@pytest.fixture
def world(tmp_path: Path, insecure_kdf_params: KdfParams) -> Iterator[World]:
    """Both sides, the server on SQLite only: what is tested here is the inbox."""
    w = make_world(tmp_path, insecure_kdf_params)
    yield w
    w.app.extensions["whistle_submit"].engine.dispose()
    w.inbox_sessions.kw["bind"].dispose()


def _reports(world: World, n: int) -> list[str]:
    """``n`` reports through the server's form, imported: their case ids."""
    world.client.get("/language/en")
    for i in range(n):
        submit_report(world.client, "/report/antifraud", description=f"report {i}")
    world.inbox_import(world.server_export())
    with world.inbox_session() as session:
        return sorted(session.scalars(select(Case.id)))


def _export(world: World) -> tuple[bytes, dict[str, object], object]:
    """(bundle, its manifest's extra as the server reads it, the export summary)."""
    out = io.BytesIO()
    with world.inbox_session() as session:
        summary = export_replies(session, world.keyring, out, now=world.inbox_config.clock())
    data = out.getvalue()
    config = world.server_config
    verified = read_bundle_bytes(
        data,
        max_bytes=config.max_bundle_bytes,
        bundle_secret_key=config.bundle_secret,
        signer_public_key=config.office_card.signing_key,
        install_id=config.install_id,
        direction="replies",
    )
    return data, verified.manifest.extra, summary


def _announced(world: World, extra: dict[str, object]) -> dict[str, tuple[int, bytes]]:
    """Case id → (generation, key) of each announcement, verified with the office key."""
    found = {}
    for blob in extra.get("case_keys", []):  # type: ignore[attr-defined]
        announcement = read_case_key(
            base64.b64decode(blob, validate=True),
            office_signing_key=world.server_config.office_card.signing_key,
        )
        found[announcement.case_id.hex()] = (announcement.generation, announcement.public_key)
    return found


def _newest(world: World, case_id: str) -> tuple[int, bytes]:
    with world.inbox_session() as session:
        row = session.scalars(
            select(CaseKey).where(CaseKey.case_id == case_id).order_by(CaseKey.generation.desc())
        ).first()
        assert row is not None
        return row.generation, row.public_key


def _held(world: World) -> dict[str, list[object]]:
    """What the server says it holds in its outbox (``case_keys_held``)."""
    with world.server_state().sessions.begin() as session:
        return held_extra(session)


def _next_outbox(world: World, extra: dict[str, object]) -> object:
    """The inbox imports the server's next outbox, empty but for ``extra``: its summary."""
    with world.inbox_session() as session:
        outbox = _last(session, "outbox")
        assert outbox is not None
        sequence, previous = outbox.sequence + 1, outbox.bundle_id
    return world.inbox_import(signed_outbox(world, sequence, previous, extra))


def _confirm(world: World, data: bytes, *, before_17: bool = False) -> object:
    """The server applies the replies bundle; its next outbox confirms it to the inbox, naming
    the case keys it holds (or not: a server from before §17). Returns the import's
    summary."""
    world.server_import(data)
    with world.inbox_session() as session:
        replies = _last(session, "replies")
        assert replies is not None
    extra: dict[str, object] = {"replies_applied": replies.sequence}
    if not before_17:
        extra["case_keys_held"] = _held(world)
    return _next_outbox(world, extra)


def _acks(world: World) -> list[bool]:
    with world.inbox_session() as session:
        return [
            r.confirmed is not None
            for r in session.scalars(select(Outgoing).where(Outgoing.kind == "ack"))
        ]


def _rows(world: World) -> list[tuple[str, str | None, bool]]:
    with world.inbox_session() as session:
        return sorted(
            (r.case_id, r.record_id, r.confirmed is not None)
            for r in session.scalars(select(Outgoing).where(Outgoing.kind == "case-key"))
        )


def test_held_until_a_backup_then_one_signed_announcement_per_case(world: World) -> None:
    cases = _reports(world, 2)
    _data, extra, summary = _export(world)
    assert "case_keys" not in extra  # no backup holds the keys yet
    assert summary.counts["case keys held back until a backup"] == 2  # type: ignore[attr-defined]
    assert ("case-keys-held", {"n": 2}) in summary.notices  # type: ignore[attr-defined]

    world.inbox_backup()
    _data, extra, summary = _export(world)
    assert summary.counts["case keys announced"] == 2  # type: ignore[attr-defined]
    assert "case keys held back until a backup" not in summary.counts  # type: ignore[attr-defined]
    assert _announced(world, extra) == {c: _newest(world, c) for c in cases}

    # Not confirmed yet: the next bundle carries them again; once confirmed, never again.
    _again, extra, _ = _export(world)
    assert set(_announced(world, extra)) == set(cases)
    _confirm(world, _again)
    assert [confirmed for _c, _g, confirmed in _rows(world)] == [True, True]
    _data, extra, summary = _export(world)
    assert "case_keys" not in extra
    assert "case keys announced" not in summary.counts  # type: ignore[attr-defined]


def test_only_a_server_that_keeps_announcements_confirms_them(world: World) -> None:
    """A server from before §17 applies the bundle and ignores ``case_keys``: its outbox
    confirms the acknowledgements, not the announcements, which go again — and count once
    the server, upgraded, says it keeps them."""
    [case] = _reports(world, 1)
    world.acknowledge_on_import()
    data, extra, _ = _export(world)
    assert set(_announced(world, extra)) == {case}
    summary = _confirm(world, data, before_17=True)
    assert _acks(world) == [True]
    with world.inbox_session() as session:
        [row] = session.scalars(select(Outgoing).where(Outgoing.kind == "case-key")).all()
        assert (row.confirmed, row.bundle_sequence is not None) == (None, True)
    assert summary.counts["replies the server confirmed"] == 0  # type: ignore[attr-defined]
    data, extra, _ = _export(world)
    assert _announced(world, extra) == {case: _newest(world, case)}
    assert extra["acknowledged"] == []
    _confirm(world, data)
    assert _rows(world) == [(case, "1", True)]
    _data, extra, _ = _export(world)
    assert "case_keys" not in extra


def test_a_key_made_after_the_backups_snapshot_waits_for_the_next_backup(
    two_desks: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The case moves (a new generation) while a backup is being written, after its snapshot
    was taken, at the same clock time: that backup does not hold the new key, so it is not
    announced until one that does."""
    import whistle.inbox.backup as backup

    world = two_desks
    [case] = _reports(world, 1)
    write_content = backup._write_content

    def move_meanwhile(*args, **kwargs):  # type: ignore[no-untyped-def]
        with world.inbox_session() as session:
            admin_id = session.scalar(select(Officer.id).where(Officer.name == "admin"))
            compartments.reassign(
                session,
                world.keyring,
                case_id=case,
                desk_id="ethics",
                by_officer_id=admin_id,
                now=world.inbox_config.clock(),
            )
        return write_content(*args, **kwargs)

    monkeypatch.setattr(backup, "_write_content", move_meanwhile)
    world.inbox_backup()
    monkeypatch.setattr(backup, "_write_content", write_content)
    with world.inbox_session() as session:
        marked = dict(
            session.execute(
                select(CaseKey.generation, CaseKey.backed_up_at).where(CaseKey.case_id == case)
            ).all()
        )
    assert marked[1] is not None
    assert marked[2] is None
    _data, extra, summary = _export(world)
    assert "case_keys" not in extra
    assert summary.counts["case keys held back until a backup"] == 1  # type: ignore[attr-defined]
    world.inbox_backup()
    _data, extra, _ = _export(world)
    assert _announced(world, extra) == {case: _newest(world, case)}
    assert _newest(world, case)[0] == 2


def test_acknowledge_on_import_announces_at_once(world: World) -> None:
    [case] = _reports(world, 1)
    world.acknowledge_on_import()
    _data, extra, _summary = _export(world)
    assert _announced(world, extra) == {case: _newest(world, case)}


def test_a_move_and_a_recusal_announce_the_new_generation_and_drop_the_older(
    two_desks: World,
) -> None:
    world = two_desks
    [case] = _reports(world, 1)
    with world.inbox_session() as session:
        admin_id = session.scalar(select(Officer.id).where(Officer.name == "admin"))
        add_officer(
            session,
            world.inbox_config,
            name="ana",
            password=PASSWORD,
            roles=("officer",),
            keyring=world.keyring,
            custodian_keyring=None,
            by_officer_id=admin_id,
            desks=["antifraud", "ethics"],
        )
    _export(world)  # generation 1 queued, held: no backup yet
    assert _rows(world) == [(case, "1", False)]
    now = world.inbox_config.clock()
    with world.inbox_session() as session:
        compartments.reassign(
            session,
            world.keyring,
            case_id=case,
            desk_id="ethics",
            by_officer_id=admin_id,
            now=now,
        )
    world.inbox_backup()
    data, extra, _ = _export(world)
    assert _rows(world) == [(case, "2", False)]  # generation 1 superseded before it went
    assert _announced(world, extra) == {case: _newest(world, case)}
    assert _newest(world, case)[0] == 2
    _confirm(world, data)

    with world.inbox_session() as session:
        compartments.recuse(
            session,
            world.keyring,
            case_id=case,
            officer_name="ana",
            by_officer_id=admin_id,
            reason="Ana's cousin is named in the report.",
            now=now,
        )
    world.inbox_backup()
    _data, extra, _ = _export(world)
    # The confirmed generation stays (it says what the server knows); the new one goes.
    assert _rows(world) == [(case, "2", True), (case, "3", False)]
    assert _announced(world, extra) == {case: _newest(world, case)}
    assert _newest(world, case)[0] == 3


def test_a_server_restored_from_an_older_backup_is_sent_the_announcement_again(
    world: World,
) -> None:
    [case] = _reports(world, 1)
    world.inbox_backup()
    data, _extra, _ = _export(world)
    _confirm(world, data)
    _d, extra, _ = _export(world)
    assert "case_keys" not in extra
    # The server's next outbox says it applied no replies bundle and holds no case key:
    # restored from a backup.
    summary = _next_outbox(world, {"replies_applied": 0, "case_keys_held": {}})
    assert any(kind == "resent" for kind, _values in summary.notices)  # type: ignore[attr-defined]
    assert _rows(world) == [(case, "1", False)]
    _d, extra, _ = _export(world)
    assert _announced(world, extra) == {case: _newest(world, case)}


def test_a_deleted_case_loses_its_announcements(world: World) -> None:
    first, second = _reports(world, 2)
    world.inbox_backup()
    _export(world)
    assert len(_rows(world)) == 2
    clock = world.inbox_config.clock
    with world.inbox_session() as session:
        admin_id = session.scalar(select(Officer.id).where(Officer.name == "admin"))
        purge_case(
            session,
            world.keyring,
            first,
            confirm=True,
            reason="Entered by mistake.",
            officer_id=admin_id,
            now=clock(),
            today=clock().date(),
            store_dir=world.inbox_config.store_dir,
        )
    assert [c for c, _g, _confirmed in _rows(world)] == [second]
    _d, extra, _ = _export(world)
    assert set(_announced(world, extra)) == {second}
    assert extra["purged"] == [first]


def test_after_a_server_restore_only_the_newest_generation_goes_again(two_desks: World) -> None:
    """Generation 1 was confirmed, then the case moved (generation 2); the server, restored
    from an older backup, forgot both bundles: one announcement per case goes, the newest."""
    world = two_desks
    [case] = _reports(world, 1)
    world.acknowledge_on_import()
    data, _extra, _ = _export(world)
    _confirm(world, data)
    with world.inbox_session() as session:
        admin_id = session.scalar(select(Officer.id).where(Officer.name == "admin"))
        compartments.reassign(
            session,
            world.keyring,
            case_id=case,
            desk_id="ethics",
            by_officer_id=admin_id,
            now=world.inbox_config.clock(),
        )
    data, extra, _ = _export(world)
    assert _announced(world, extra) == {case: _newest(world, case)}
    _confirm(world, data)
    assert _rows(world) == [(case, "1", True), (case, "2", True)]
    _next_outbox(world, {"replies_applied": 0, "case_keys_held": {}})
    _data, extra, _ = _export(world)
    assert len(extra["case_keys"]) == 1  # type: ignore[arg-type]
    assert _announced(world, extra) == {case: _newest(world, case)}
    # Generation 1's row stays as it was: it went out (migration 0015's guard counts it).
    assert _rows(world) == [(case, "1", True), (case, "2", False)]


def test_at_most_the_servers_limit_goes_in_one_bundle(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The server refuses a bundle with more announcements than its limit: the rest wait for
    the next bundle, once the server confirmed the first ones."""
    monkeypatch.setattr("whistle.inbox.bundles.MAX_PER_BUNDLE", 1)
    cases = _reports(world, 2)
    world.acknowledge_on_import()
    data, extra, summary = _export(world)
    [first] = _announced(world, extra)
    assert summary.counts["case keys left for the next bundle"] == 1  # type: ignore[attr-defined]
    _confirm(world, data)
    _data, extra, summary = _export(world)
    assert set(_announced(world, extra)) == set(cases) - {first}
    assert "case keys left for the next bundle" not in summary.counts  # type: ignore[attr-defined]
