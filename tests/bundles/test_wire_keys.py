"""Keys for records in transit, by desk (issue 20): an officer imports what their desks' keys
open; the rest waits, sealed as it came, for a member of its desk — and the server keeps its
copy until then. Shown by key: every secret the importer's keyring holds or opens is tried on
the held envelopes."""

import contextlib
import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from tests.bundles.conftest import make_world
from tests.epochs.conftest import Loop
from tests.inbox.conftest import PASSWORD
from tests.submit.conftest import submit_report
from whistle.cli import main
from whistle.crypto import CryptoError, KdfParams, open_bytes, open_envelope
from whistle.inbox import compartments, epochs, held_back
from whistle.inbox.bundles import import_outbox
from whistle.inbox.cases import case_detail
from whistle.inbox.errors import CaseLockedError
from whistle.inbox.models import AuditEvent, Case, HeldRecord, Officer, Outgoing
from whistle.inbox.officers import SignedIn, add_officer, sign_in
from whistle.submit.models import Record as ServerRecord

DESKS = [("antifraud", "Anti-fraud office"), ("urbanism", "Urbanism")]


@pytest.fixture
def loop(
    tmp_path: Path, insecure_kdf_params: KdfParams, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Loop]:
    """Two desks; admin in both (the first officer), ana at antifraud, berta at urbanism,
    carles in none."""
    world = make_world(tmp_path, insecure_kdf_params, desks=DESKS)
    with world.inbox_session() as session:
        for name, desks in (("ana", ["antifraud"]), ("berta", ["urbanism"]), ("carles", [])):
            add_officer(
                session,
                world.inbox_config,
                name=name,
                password=PASSWORD,
                roles=("officer",),
                keyring=world.keyring,
                custodian_keyring=None,
                desks=desks,
            )
    yield Loop(world, monkeypatch)
    world.app.extensions["whistle_submit"].engine.dispose()
    world.inbox_sessions.kw["bind"].dispose()


def _sign_in(loop: Loop, name: str) -> SignedIn:
    with loop.world.inbox_session() as session:
        return sign_in(session, loop.world.inbox_config, name, PASSWORD)


def _import(loop: Loop, signed: SignedIn, data: bytes) -> Any:
    with loop.world.inbox_session() as session:
        return import_outbox(
            session,
            signed.keyring,
            data,
            store_dir=loop.world.inbox_config.store_dir,
            now=loop.world.inbox_config.clock(),
            officer_id=signed.officer_id,
        )


def _everything(loop: Loop, signed: SignedIn) -> list[bytes]:
    """Every secret a keyring holds or opens: office keys, own key, desk compartment keys,
    every live epoch's bundle and desk keys it opens, every case key it opens."""
    keyring = signed.keyring
    found = [keyring.storage_secret, keyring.signing_seed]
    if keyring.personal_secret is not None:
        found.append(keyring.personal_secret)
    with loop.world.inbox_session() as session:
        found += list(compartments.open_desks(session, keyring).desks.values())
        for keys in compartments.wire_keys(session, keyring):
            found += [keys.bundle_secret, *keys.desks.values()]
        for case_id in session.scalars(select(Case.id)):
            with contextlib.suppress(CaseLockedError):
                found += list(compartments.case_key_map(session, keyring, case_id).values())
    return found


def _opens_any(secrets: list[bytes], row: HeldRecord) -> bool:
    from whistle.crypto import associated_data

    ad = associated_data(row.kind, bytes.fromhex(row.case_id))
    try:
        if row.kind == "submission":
            open_envelope(io.BytesIO(row.envelope), secrets, ad).read_all()
        else:
            open_bytes(row.envelope, secrets, ad)
    except CryptoError:
        return False
    return True


def _held(loop: Loop) -> list[HeldRecord]:
    with loop.world.inbox_session() as session:
        rows = held_back.rows(session)
        session.expunge_all()
        return rows


def _server_kinds(loop: Loop) -> list[str]:
    with loop.world.server_state().sessions() as session:
        return sorted(r.kind.value for r in session.scalars(select(ServerRecord)))


def _deliver_acks(loop: Loop, signed: SignedIn) -> Any:
    """A backup (the acknowledgement gate), a replies bundle, the server applies it."""
    loop.world.inbox_backup()
    out = io.BytesIO()
    from whistle.inbox.bundles import export_replies

    with loop.world.inbox_session() as session:
        export_replies(session, signed.keyring, out, now=loop.world.inbox_config.clock())
    return loop.server_import(out.getvalue())


def _case_text(loop: Loop, signed: SignedIn, case_id: str) -> str:
    with loop.world.inbox_session() as session:
        detail = case_detail(
            session, signed.keyring, case_id, today=loop.world.inbox_config.clock().date()
        )
    return repr(detail.entries)


def test_an_officer_files_their_desk_and_the_rest_waits_for_its_members(loop: Loop) -> None:
    client = loop.client
    client.get("/language/en")
    code_a = submit_report(client, "/report/antifraud", description="CANARY-ANTIFRAUD")
    code_b = submit_report(client, "/report/urbanism", description="CANARY-URBANISM-1")
    submit_report(client, "/report/urbanism", description="CANARY-URBANISM-2")
    loop.followup(code_a, "FOLLOW-A")
    loop.followup(code_b, "FOLLOW-B")  # its report is held too: it waits with it

    ana = _sign_in(loop, "ana")
    summary = _import(loop, ana, loop.server_export())
    assert summary.counts["records imported"] == 2
    assert summary.counts["held back for another desk"] == 3
    assert summary.counts["acknowledgements queued"] == 2
    assert ("waiting", {"desks": "Urbanism", "several": False, "reports": 2, "followups": 1}) in (
        summary.notices
    )

    # By key: nothing ana's keyring holds or opens opens a held record.
    held = _held(loop)
    assert sorted(r.kind for r in held) == ["followup", "submission", "submission"]
    secrets = _everything(loop, ana)
    for row in held:
        if row.kind == "submission":
            assert not _opens_any(secrets, row)
        else:
            # Its case is not in the inbox yet, so no key of it was announced (protocol §17):
            # the follow-up is sealed to every desk's key and ana's would open it; the
            # importer's rule keeps it for urbanism, and its report stays closed to her.
            assert _opens_any(secrets, row)
    with loop.world.inbox_session() as session:
        assert {c.desk_id for c in session.scalars(select(Case))} == {"antifraud"}
        events = session.scalars(
            select(AuditEvent.action).where(AuditEvent.action == "record-held-back")
        ).all()
        assert len(events) == 3

    # The server is told only of what was filed: its copies of the held records stay.
    applied = _deliver_acks(loop, ana)
    assert applied.counts["acknowledged records deleted"] == 2
    assert _server_kinds(loop) == ["followup", "submission", "submission"]

    # The next bundle carries them again: held once, not twice; still not acknowledged.
    again = _import(loop, ana, loop.server_export())
    assert again.counts["held back for another desk"] == 3
    assert len(_held(loop)) == 3

    # berta signs in: what is for her desk is filed, with its follow-up, and acknowledged.
    berta = _sign_in(loop, "berta")
    assert _held(loop) == []
    with loop.world.inbox_session() as session:
        urbanism = session.scalars(select(Case).where(Case.desk_id == "urbanism")).all()
        assert len(urbanism) == 2
        ids = [c.id for c in urbanism]
        acks = session.scalars(select(Outgoing).where(Outgoing.kind == "ack")).all()
        assert len(acks) == 5
    texts = " ".join(_case_text(loop, berta, case_id) for case_id in ids)
    assert "CANARY-URBANISM-1" in texts
    assert "CANARY-URBANISM-2" in texts
    assert "FOLLOW-B" in texts
    for case_id in ids:
        with pytest.raises(CaseLockedError):
            _case_text(loop, ana, case_id)
    applied = _deliver_acks(loop, berta)
    assert applied.counts["acknowledged records deleted"] == 3
    assert _server_kinds(loop) == []


def test_a_follow_up_of_another_desks_case_waits_for_its_members(loop: Loop) -> None:
    loop.client.get("/language/en")
    code_b = submit_report(loop.client, "/report/urbanism", description="CANARY-URBANISM")
    berta = _sign_in(loop, "berta")
    assert _import(loop, berta, loop.server_export()).counts["records imported"] == 1
    loop.followup(code_b, "FOLLOW-B-LATER")
    ana = _sign_in(loop, "ana")
    summary = _import(loop, ana, loop.server_export())
    assert summary.counts["records imported"] == 0
    assert summary.counts["held back for another desk"] == 1
    [row] = _held(loop)
    assert (row.kind, row.desk_id) == ("followup", "urbanism")
    # A member of the desk opens the Bundles page (or the command): it is filed.
    result = CliRunner().invoke(
        main,
        [
            "inbox",
            "file-held",
            str(loop.world.inbox_config.data_dir),
            "--officer",
            "berta",
            "--password-file",
            str(_password_file(loop)),
        ],
        obj={"config": _cli_config(loop)},
    )
    assert result.exit_code == 0, result.output
    assert "Nothing is held back" in result.output
    with loop.world.inbox_session() as session:
        [case_id] = session.scalars(select(Case.id)).all()
    assert "FOLLOW-B-LATER" in _case_text(loop, berta, case_id)


def test_an_officer_in_no_desk_files_nothing_and_acknowledges_nothing(loop: Loop) -> None:
    loop.client.get("/language/en")
    submit_report(loop.client, "/report/antifraud")
    submit_report(loop.client, "/report/urbanism")
    carles = _sign_in(loop, "carles")
    summary = _import(loop, carles, loop.server_export())
    assert summary.counts["records imported"] == 0
    assert summary.counts["held back for another desk"] == 2
    assert summary.counts["acknowledgements queued"] == 0
    # Neither desk is known: each report is for one of the two.
    assert (
        "waiting",
        {"desks": "Anti-fraud office, Urbanism", "several": True, "reports": 2, "followups": 0},
    ) in summary.notices
    for row in _held(loop):
        assert not _opens_any(_everything(loop, carles), row)
    # The recovery key opens every desk: it files them all.
    result = CliRunner().invoke(
        main,
        [
            "inbox",
            "file-held",
            str(loop.world.inbox_config.data_dir),
            "--recovery-key-file",
            str(_recovery_file(loop)),
        ],
        obj={"config": _cli_config(loop)},
    )
    assert result.exit_code == 0, result.output
    assert "records imported: 2" in result.output
    assert _held(loop) == []


def test_a_record_no_desk_opens_is_refused_only_once_every_desks_keys_failed(
    loop: Loop,
) -> None:
    from tests.bundles.test_poison import poison_body
    from tests.submit.conftest import csrf_from

    _case, _token, body = poison_body(loop)  # sealed to a desk key this office never had
    csrf = csrf_from(loop.client.get("/report/antifraud").text)
    response = loop.client.post(
        "/report/antifraud/sealed",
        data=body,
        content_type="application/octet-stream",
        headers={"X-CSRFToken": csrf},
    )
    assert response.status_code == 200, response.text
    ana = _sign_in(loop, "ana")
    summary = _import(loop, ana, loop.server_export())
    assert summary.counts["held back for another desk"] == 1  # urbanism's keys not tried
    assert summary.counts["refusals queued"] == 0
    [row] = _held(loop)
    assert row.tried == "antifraud"
    _sign_in(loop, "berta")  # her sign-in tries urbanism's keys: now every desk's failed
    assert _held(loop) == []
    with loop.world.inbox_session() as session:
        refusals = session.scalars(select(Outgoing).where(Outgoing.kind == "refusal")).all()
        assert len(refusals) == 1


def test_a_held_report_whose_desk_was_removed_since_is_filed_at_its_successor(
    loop: Loop,
) -> None:
    loop.client.get("/language/en")
    submit_report(loop.client, "/report/urbanism", description="CANARY-URBANISM")
    ana = _sign_in(loop, "ana")
    _import(loop, ana, loop.server_export())
    with loop.world.inbox_session() as session:
        # A manager removes the desk (without signing in again: that would file the report).
        admin_id = session.scalar(select(Officer.id).where(Officer.name == "admin"))
        compartments.remove_desk(
            session,
            loop.world.keyring,
            desk_id="urbanism",
            successor_id="antifraud",
            move_cases=True,
            by_officer_id=admin_id,
            now=loop.world.inbox_config.clock(),
        )
        # The epoch that holds the removed desk's key stays while the report waits: its keys
        # cannot be destroyed by hand, and so the desk's members keep theirs.
        with pytest.raises(epochs.KeyEpochError, match="held back"):
            epochs.confirm_destroy(session, 1, loop.world.inbox_config.clock(), admin_id)
        assert "urbanism" in epochs.live_desks(session)
    assert len(_held(loop)) == 1
    berta = _sign_in(loop, "berta")  # still holds urbanism's key: files it, at antifraud
    assert _held(loop) == []
    with loop.world.inbox_session() as session:
        [case] = session.scalars(select(Case)).all()
        assert case.desk_id == "antifraud"
        case_id = case.id
    assert "CANARY-URBANISM" in _case_text(loop, ana, case_id)
    with pytest.raises(CaseLockedError):
        _case_text(loop, berta, case_id)


def _cli_config(loop: Loop) -> dict[str, Any]:
    config = loop.world.inbox_config
    return {"kdf_params": config.kdf_params, "password_hash": config.password_hash}


def _password_file(loop: Loop) -> Path:
    path = loop.world.tmp / "password"
    path.write_text(PASSWORD + "\n")
    return path


def _recovery_file(loop: Loop) -> Path:
    path = loop.world.tmp / "recovery"
    path.write_text(loop.world.recovery_key + "\n")
    return path


def test_a_restore_from_a_backup_made_while_records_waited_loses_nothing(
    loop: Loop, tmp_path: Path
) -> None:
    import dataclasses

    from whistle.inbox import db
    from whistle.inbox.backup import read_header, restore_backup, unlock_with_password

    loop.client.get("/language/en")
    submit_report(loop.client, "/report/urbanism", description="CANARY-URBANISM")
    ana = _sign_in(loop, "ana")
    _import(loop, ana, loop.server_export())
    backup = loop.world.inbox_backup()  # holds the record, held back
    berta = _sign_in(loop, "berta")  # files it: its acknowledgement is queued, not yet sent
    assert _held(loop) == []
    assert _server_kinds(loop) == ["submission"]  # nothing told the server yet

    # The laptop is lost before the next replies bundle: restore the backup elsewhere.
    loop.world.inbox_sessions.kw["bind"].dispose()
    target = tmp_path / "new-laptop"
    with backup.open("rb") as source:
        info = read_header(source)
        keyring = unlock_with_password(info, "admin", PASSWORD)
        restore_backup(source, info, keyring, target, now=loop.world.inbox_config.clock())
    config = dataclasses.replace(loop.world.inbox_config, data_dir=target)
    engine = db.make_engine(config.database_path)
    loop.world = dataclasses.replace(
        loop.world, inbox_config=config, inbox_sessions=db.session_factory(engine)
    )
    assert [r.kind for r in _held(loop)] == ["submission"]  # the backup held it back
    berta = _sign_in(loop, "berta")
    with loop.world.inbox_session() as session:
        [case_id] = session.scalars(select(Case.id)).all()
    assert "CANARY-URBANISM" in _case_text(loop, berta, case_id)
    applied = _deliver_acks(loop, berta)
    assert applied.counts["acknowledged records deleted"] == 1
    assert _server_kinds(loop) == []
    engine.dispose()


def test_a_held_record_a_manager_ordered_removed_is_not_filed(loop: Loop) -> None:
    from whistle.crypto import record_hash
    from whistle.inbox.outgoing import order_removal, removal_order

    loop.client.get("/language/en")
    submit_report(loop.client, "/report/urbanism", description="CANARY-URBANISM")
    ana = _sign_in(loop, "ana")
    _import(loop, ana, loop.server_export())
    [row] = _held(loop)
    with loop.world.inbox_session() as session:
        # Named exactly, as a filed record would be: its case, kind and hash.
        order = removal_order(session, record_id=row.record_id, case_id=None, reason="x" * 10)
        assert (order.case_id, order.record_kind) == (row.case_id, "submission")
        assert order.record_hash == record_hash(row.envelope).hex()
        order_removal(
            session,
            loop.world.keyring,
            record_id=row.record_id,
            case_id=None,
            reason="Sent to the wrong office by mistake.",
            now=loop.world.inbox_config.clock(),
            officer_id=None,
        )
    _sign_in(loop, "berta")
    assert _held(loop) == []
    with loop.world.inbox_session() as session:
        assert session.scalar(select(Case.id)) is None


def test_a_record_for_an_epoch_this_inbox_does_not_hold_is_neither_held_nor_refused(
    loop: Loop,
) -> None:
    import dataclasses

    from tests.inbox.conftest import incoming
    from whistle.inbox.bundles import verify_outbox
    from whistle.inbox.store import import_records

    loop.client.get("/language/en")
    submit_report(loop.client, "/report/urbanism")
    ana = _sign_in(loop, "ana")
    with loop.world.inbox_session() as session:
        [record] = verify_outbox(session, ana.keyring, loop.server_export()).records
        later = dataclasses.replace(incoming("submission", record.case, record.envelope), epoch=9)
        report = import_records(
            session,
            ana.keyring,
            [later],
            store_dir=loop.world.inbox_config.store_dir,
            now=loop.world.inbox_config.clock(),
        )
    assert report.held == []
    assert report.unopenable == []
    [(_, reason)] = report.refused
    assert "newer than this inbox holds" in reason


def _outbox_followup(loop: Loop, data: bytes, case_id: str) -> tuple[bytes, object]:
    """The follow-up of a case in an outbox bundle: its envelope and the case key (hex) the
    server says it was sealed to."""
    from whistle.inbox.bundles import verify_outbox

    with loop.world.inbox_session() as session:
        verified = verify_outbox(session, loop.world.keyring, data)
    [record] = [r for r in verified.records if r.kind == "followup" and r.case == case_id]
    return record.envelope, verified.manifest.extra.get("record_case_keys", {}).get(record.id)


def test_once_its_case_key_is_announced_a_follow_up_opens_only_for_the_cases_readers(
    loop: Loop,
) -> None:
    """Two desks, three officers, by key, in transit: admin (in both desks) steps aside from an
    urbanism case, ana is at antifraud, berta at urbanism. Before the office announces the
    case's key a follow-up opens with any desk key of the card, so with everyone's; after,
    with berta's secrets alone — on its way in the outbox bundle and held back in the inbox —
    and only she files it."""
    from whistle.crypto import associated_data

    client = loop.client
    client.get("/language/en")
    code = submit_report(client, "/report/urbanism", description="CANARY-URBANISM")
    berta = _sign_in(loop, "berta")
    _import(loop, berta, loop.server_export())
    with loop.world.inbox_session() as session:
        case_id = session.scalars(select(Case.id)).one()
        admin_id = session.scalar(select(Officer.id).where(Officer.name == "admin"))
        compartments.recuse(
            session,
            loop.world.keyring,
            case_id=case_id,
            officer_name="admin",
            by_officer_id=admin_id,
            reason="I sat on the tender's panel.",
            now=loop.world.inbox_config.clock(),
        )
    ana, admin = _sign_in(loop, "ana"), _sign_in(loop, "admin")
    ad = associated_data("followup", bytes.fromhex(case_id))

    def readers(envelope: bytes) -> set[str]:
        opened = set()
        for name, signed in (("ana", ana), ("admin", admin), ("berta", berta)):
            with contextlib.suppress(CryptoError):
                open_bytes(envelope, _everything(loop, signed), ad)
                opened.add(name)
        return opened

    loop.followup(code, "BEFORE-ANNOUNCEMENT")
    envelope, sealed_to = _outbox_followup(loop, loop.server_export(), case_id)
    assert (sealed_to, readers(envelope)) == (None, {"ana", "admin", "berta"})
    _import(loop, berta, loop.server_export())

    # A backup holds the case's key (generation 2, made when admin stepped aside); the replies
    # bundle announces it; the server confirms it in its next outbox.
    applied = _deliver_acks(loop, berta)
    assert applied.counts["case keys stored"] == 1
    loop.followup(code, "AFTER-ANNOUNCEMENT")
    outbox = loop.server_export()
    envelope, sealed_to = _outbox_followup(loop, outbox, case_id)
    with loop.world.inbox_session() as session:
        case_key = compartments.case_public(session, case_id).hex()  # generation 2's
    assert (sealed_to, readers(envelope)) == (case_key, {"berta"})

    # ana and admin hold it back for berta, and nothing they hold opens it there either.
    for signed in (ana, admin):
        _import(loop, signed, outbox)
        [held] = [r for r in _held(loop) if r.kind == "followup"]
        assert not _opens_any(_everything(loop, signed), held)
    berta = _sign_in(loop, "berta")
    assert _held(loop) == []
    assert "AFTER-ANNOUNCEMENT" in _case_text(loop, berta, case_id)
    with pytest.raises(CaseLockedError):
        _case_text(loop, admin, case_id)
