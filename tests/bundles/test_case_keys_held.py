"""The inbox confirms its case key announcements by what the server says it holds
(``extra.case_keys_held``, protocol §17): sent again when the server does not name them,
superseded rows that went out kept for migration 0015's downgrade guard, and a generation
made above one the server holds that this inbox does not (restored from an older backup)."""

import shutil
from pathlib import Path

import pytest
from sqlalchemy import delete, select

from tests.submit.conftest import plain_followup, submit_report
from whistle.crypto.case_keys import MAX_GENERATION
from whistle.inbox import compartments, db
from whistle.inbox.bundles import CaseKeysHeldError, _last, preview_outbox
from whistle.inbox.models import AuditEvent, Case, CaseGrant, CaseKey, Officer, Record
from whistle.inbox.officers import add_officer
from whistle.submit.models import CaseKeyRow

from .conftest import PASSWORD, World, signed_outbox
from .test_case_key_announce import _announced, _export, _next_outbox, _reports, _rows


@pytest.fixture
def world(two_desks: World) -> World:
    """Both sides, an office of two desks (admin in both), the server on SQLite."""
    return two_desks


def _admin(world: World) -> int:
    with world.inbox_session() as session:
        admin_id = session.scalar(select(Officer.id).where(Officer.name == "admin"))
        assert admin_id is not None
        return admin_id


def _move(world: World, case: str, desk: str) -> None:
    with world.inbox_session() as session:
        compartments.reassign(
            session,
            world.keyring,
            case_id=case,
            desk_id=desk,
            by_officer_id=_admin(world),
            now=world.inbox_config.clock(),
        )


def _loop(world: World) -> None:
    """Backup, replies bundle to the server, its outbox back."""
    world.inbox_backup()
    world.server_import(world.inbox_export())
    world.inbox_import(world.server_export())


def _generations(world: World, case: str) -> list[int]:
    with world.inbox_session() as session:
        return sorted(session.scalars(select(CaseKey.generation).where(CaseKey.case_id == case)))


def test_an_announcement_a_server_applied_before_its_upgrade_goes_again(world: World) -> None:
    """The server, still from before §17, applied the replies bundle and ignored the
    announcement; upgraded, its outbox confirms the bundle but does not name the key: the
    announcement stays pending and goes again, and counts once the server names it."""
    [case] = _reports(world, 1)
    world.acknowledge_on_import()
    data, _extra, _ = _export(world)
    world.server_import(data)
    with world.server_state().sessions.begin() as session:
        session.execute(delete(CaseKeyRow))  # what the server from before §17 kept: nothing
    world.inbox_import(world.server_export())
    assert _rows(world) == [(case, "1", False)]
    data, extra, _ = _export(world)
    assert set(_announced(world, extra)) == {case}
    world.server_import(data)
    world.inbox_import(world.server_export())
    assert _rows(world) == [(case, "1", True)]
    _data, extra, _ = _export(world)
    assert "case_keys" not in extra


def test_a_superseded_announcement_that_went_out_blocks_the_downgrade(world: World) -> None:
    """Generation 1 went to the server (which seals to it); the case moved before the server
    confirmed it: the row stays, so going back before 0015 is refused."""
    [case] = _reports(world, 1)
    world.inbox_backup()
    data, _extra, _ = _export(world)
    world.server_import(data)
    _move(world, case, "ethics")
    _export(world)  # generation 2 queued (held: no backup since)
    assert _rows(world) == [(case, "1", False), (case, "2", False)]
    _data, extra, _ = _export(world)
    assert "case_keys" not in extra  # the superseded row does not go again
    engine = world.inbox_sessions.kw["bind"]
    engine.dispose()
    with pytest.raises(RuntimeError, match="1 case key announcement"):
        db.downgrade(engine, "0014_perf")


def test_an_inbox_restored_from_an_older_backup_takes_its_case_back(
    world: World, tmp_path: Path
) -> None:
    """The server holds generation 3, made on a laptop since lost; the office is back at a
    backup holding generations 1 and 2 (2 confirmed). The next outbox names generation 3 with
    a key this inbox does not hold: it makes generation 4, announces it once a backup holds
    it, and the follow-ups sent after that are filed."""
    from whistle.inbox.backup import read_header, restore_backup

    world.client.get("/language/en")
    code = submit_report(world.client, "/report/antifraud", description="x")
    world.inbox_import(world.server_export())
    with world.inbox_session() as session:
        case = session.scalars(select(Case.id)).one()
    _loop(world)  # generation 1 on the server
    _move(world, case, "ethics")
    _loop(world)  # generation 2 on the server, confirmed
    older = world.inbox_backup()
    _move(world, case, "antifraud")
    _loop(world)  # generation 3 on the server
    world.inbox_sessions.kw["bind"].dispose()
    office = world.inbox_config.data_dir
    shutil.move(str(office), str(tmp_path / "lost-laptop"))
    with older.open("rb") as source:
        restore_backup(
            source, read_header(source), world.keyring, office, now=world.inbox_config.clock()
        )
    world.inbox_sessions = db.session_factory(db.make_engine(world.inbox_config.database_path))
    assert _generations(world, case) == [1, 2]

    assert plain_followup(world.client, code, "sealed to generation 3").status_code == 200
    summary = world.inbox_import(world.server_export())
    assert ("case-keys-above-server", {"n": 1}) in summary.notices
    assert _generations(world, case) == [1, 2, 4]
    with world.inbox_session() as session:
        assert session.scalars(
            select(AuditEvent.case_id).where(AuditEvent.action == "case-key-above-server")
        ).all() == [case]
    _data, extra, _ = _export(world)
    assert "case_keys" not in extra  # no backup holds generation 4 yet
    _loop(world)  # announced; the server keeps the higher generation
    with world.server_state().sessions.begin() as session:
        assert session.scalars(select(CaseKeyRow.generation)).all() == [4]
    assert _rows(world)[-1] == (case, "4", True)

    assert plain_followup(world.client, code, "sealed to generation 4").status_code == 200
    world.inbox_import(world.server_export())
    with world.inbox_session() as session:
        assert len(session.scalars(select(Record).where(Record.kind == "followup")).all()) == 1
    assert _generations(world, case) == [1, 2, 4]  # the server's key is this inbox's now


def test_the_generation_above_the_servers_is_granted_as_after_a_recusal(world: World) -> None:
    """A new generation after someone stepped aside goes to the other members by name and
    the recovery key, not to the desk: so does one made above the server's."""
    [case] = _reports(world, 1)
    with world.inbox_session() as session:
        add_officer(
            session,
            world.inbox_config,
            name="ana",
            password=PASSWORD,
            roles=("officer",),
            keyring=world.keyring,
            custodian_keyring=None,
            by_officer_id=_admin(world),
            desks=["antifraud"],
        )
        compartments.recuse(
            session,
            world.keyring,
            case_id=case,
            officer_name="ana",
            by_officer_id=_admin(world),
            reason="Ana's cousin is named in the report.",
            now=world.inbox_config.clock(),
        )
    assert _generations(world, case) == [1, 2]
    lost = "ab" * 32  # a key this inbox never held, at generation 7
    summary = _next_outbox(world, {"replies_applied": 0, "case_keys_held": {case: [7, lost]}})
    assert ("case-keys-above-server", {"n": 1}) in summary.notices  # type: ignore[attr-defined]
    assert _generations(world, case) == [1, 2, 8]
    with world.inbox_session() as session:

        def holders(generation: int) -> set[str]:
            return set(
                session.scalars(
                    select(CaseGrant.holder).where(
                        CaseGrant.case_id == case, CaseGrant.generation == generation
                    )
                )
            )

        ana = session.scalar(select(Officer.id).where(Officer.name == "ana"))
        assert holders(8) == holders(2)
        assert "recovery" in holders(8)
        assert f"officer:{ana}" not in holders(8)
    # Named again, below this inbox's newest now: nothing more is made.
    _next_outbox(world, {"replies_applied": 0, "case_keys_held": {case: [7, lost]}})
    assert _generations(world, case) == [1, 2, 8]


def test_a_generation_below_the_newest_here_makes_nothing_and_leaves_it_pending(
    world: World,
) -> None:
    """The server names an older generation of this case (restored from an older backup):
    the newest is sent again; no new key, since the newest here is above the server's."""
    [case] = _reports(world, 1)
    world.acknowledge_on_import()
    _export(world)
    _move(world, case, "ethics")
    data, _extra, _ = _export(world)
    world.server_import(data)
    world.inbox_import(world.server_export())
    assert _rows(world) == [(case, "1", True), (case, "2", True)]
    with world.inbox_session() as session:
        first = session.get(CaseKey, (case, 1)).public_key.hex()  # type: ignore[union-attr]
    _next_outbox(world, {"replies_applied": 0, "case_keys_held": {case: [1, first]}})
    assert _rows(world) == [(case, "1", True), (case, "2", False)]
    assert _generations(world, case) == [1, 2]
    _data, extra, _ = _export(world)
    assert set(_announced(world, extra)) == {case}


@pytest.mark.parametrize(
    "value",
    [
        [],
        "x",
        {"not-a-case-id": [1, "cd" * 32]},
        {"ab" * 16: [1]},
        {"ab" * 16: [1, "cd" * 32, 3]},
        {"ab" * 16: {"generation": 1, "key": "cd" * 32}},
        {"ab" * 16: [True, "cd" * 32]},
        {"ab" * 16: [0, "cd" * 32]},
        {"ab" * 16: [MAX_GENERATION + 1, "cd" * 32]},
        {"ab" * 16: ["1", "cd" * 32]},
        {"ab" * 16: [1, "CD" * 32]},
        {"ab" * 16: [1, "cd" * 31]},
        {"ab" * 16: [1, None]},
    ],
)
def test_a_malformed_case_keys_held_refuses_the_bundle_and_writes_nothing(
    world: World, value: object
) -> None:
    _reports(world, 1)
    with world.inbox_session() as session:
        last = _last(session, "outbox")
        assert last is not None
        sequence, previous = last.sequence + 1, last.bundle_id
    data = signed_outbox(world, sequence, previous, {"replies_applied": 0, "case_keys_held": value})
    before = world.snapshot()["inbox"]
    with world.inbox_session() as session, pytest.raises(CaseKeysHeldError):
        preview_outbox(session, world.keyring, data)
    with pytest.raises(CaseKeysHeldError):
        world.inbox_import(data)
    assert world.snapshot()["inbox"] == before
