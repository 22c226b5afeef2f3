"""Importing follow-ups sealed to their case's key (protocol §17): the holders of that key file
them, everyone else holds them back (by key: their secrets do not open the envelope), and one
that does not open is refused only when the key it is marked with is one of its case's keys
here; one marked with a key this inbox does not hold is never refused."""

import secrets
from datetime import datetime

import pytest
from sqlalchemy import delete, select

from whistle.crypto import WrongKeyError, associated_data, generate_box_keypair, open_bytes
from whistle.crypto.case_keys import CaseKeyAnnouncement, sign_case_key
from whistle.crypto.conversation import Position
from whistle.crypto.records import seal_followup
from whistle.inbox import compartments, held_back
from whistle.inbox.bundles import file_held_back
from whistle.inbox.errors import CaseLockedError
from whistle.inbox.models import CaseGrant, CaseKey, HeldRecord, Outgoing, Record
from whistle.inbox.officers import SignedIn
from whistle.inbox.store import ImportReport, IncomingRecord, import_records, record_meta

from .conftest import Source, incoming, make_followup


def _sealed_to_case(office, source: Source, message: str, key: bytes | None = None) -> bytes:  # type: ignore[no-untyped-def]
    """A follow-up as the server or the page seals it once the case's key was announced: to
    that key alone (``key``: another one, as if from a generation this inbox never made)."""
    with office.session() as session:
        public = key or compartments.case_public(session, source.case_id)
    source.followups_sent += 1
    return seal_followup(
        message,
        [],
        reply_secret_key=source.reply_secret,
        office_keys=[public],
        case_id=bytes.fromhex(source.case_id),
        signing_seed=source.signing_seed,
        position=Position(source.followups_sent, 0),
    )


def _marked(source: Source, envelope: bytes, key: bytes | None) -> IncomingRecord:
    record = incoming("followup", source.case_id, envelope, secrets.token_hex(16))
    return IncomingRecord(
        record.kind,
        record.record_id,
        record.case_id,
        record.received_day,
        record.envelope,
        case_key=key,
    )


def _import(office, signed: SignedIn, records: list[IncomingRecord]) -> ImportReport:  # type: ignore[no-untyped-def]
    with office.session() as session:
        return import_records(
            session,
            signed.keyring,
            records,
            store_dir=office.config.store_dir,
            now=office.config.clock(),
        )


def _generation(office, case_id: str) -> int:  # type: ignore[no-untyped-def]
    with office.session() as session:
        return max(session.scalars(select(CaseKey.generation).where(CaseKey.case_id == case_id)))


def _public(office, case_id: str, generation: int) -> bytes:  # type: ignore[no-untyped-def]
    with office.session() as session:
        row = session.get(CaseKey, (case_id, generation))
        assert row is not None
        return row.public_key


def _opens_for(office, signed: SignedIn, source: Source, envelope: bytes) -> bool:  # type: ignore[no-untyped-def]
    """Whether any secret ``signed`` holds — the case's keys, every live desk key — opens it."""
    with office.session() as session:
        try:
            keys = list(compartments.case_key_map(session, signed.keyring, source.case_id).values())
        except CaseLockedError:
            keys = []
        for epoch in compartments.wire_keys(session, signed.keyring):
            keys += list(epoch.desks.values())
    assert keys, "the officer holds some desk key"
    try:
        open_bytes(envelope, keys, associated_data("followup", bytes.fromhex(source.case_id)))
    except WrongKeyError:
        return False
    return True


def test_a_member_files_a_follow_up_sealed_to_the_case_key_alone(office, two_desks) -> None:  # type: ignore[no-untyped-def]
    a = two_desks["a"]
    generation = _generation(office, a.case_id)
    assert generation == 2  # carles stepped aside: a new generation
    envelope = _sealed_to_case(office, a, "the contractor called again")
    assert _opens_for(office, two_desks["ana"], a, envelope)
    record = _marked(a, envelope, _public(office, a.case_id, generation))
    report = _import(office, two_desks["ana"], [record])
    assert report.imported == [record.record_id]
    with office.session() as session:
        stored = session.get(Record, record.record_id)
        assert stored is not None
        meta = record_meta(two_desks["ana"].keyring, stored)
    assert meta["message"] == "the contractor called again"


@pytest.mark.parametrize("who", ["berta", "carles"])
def test_another_desk_and_a_recused_officer_hold_it_back(office, two_desks, who: str) -> None:  # type: ignore[no-untyped-def]
    """berta (ethics) and carles (antifraud, stepped aside from A) hold neither the case's
    key nor a desk key that opens it: it waits for ana, who files it at sign-in."""
    a = two_desks["a"]
    envelope = _sealed_to_case(office, a, "more on the pylons")
    assert not _opens_for(office, two_desks[who], a, envelope)
    key = _public(office, a.case_id, _generation(office, a.case_id))
    record = _marked(a, envelope, key)
    report = _import(office, two_desks[who], [record])
    assert (report.imported, report.refused, report.held) == ([], [], [record.record_id])
    with office.session() as session:
        held = session.get(HeldRecord, record.record_id)
        assert held is not None
        assert (held.desk_id, held.case_key) == ("antifraud", key)
        assert session.get(Record, record.record_id) is None
        # Tried again at their next sign-in: still held, never refused.
        applied = file_held_back(
            session,
            two_desks[who].keyring,
            store_dir=office.config.store_dir,
            now=office.config.clock(),
        )
        assert applied is not None
        assert applied.imported.refused == []
        assert held_back.count(session) == 1
    office.sign_in("ana")
    with office.session() as session:
        assert held_back.count(session) == 0
        assert session.get(Record, record.record_id) is not None


def test_a_recused_officer_holds_back_a_follow_up_sealed_to_the_desks_too(
    office, two_desks
) -> None:  # type: ignore[no-untyped-def]
    """Before the announcement a follow-up is sealed to every desk's key, which carles holds:
    he could open it, but it is no longer his to read."""
    a = two_desks["a"]
    envelope = make_followup(office, a, "written before the announcement")
    assert _opens_for(office, two_desks["carles"], a, envelope)
    report = _import(office, two_desks["carles"], [incoming("followup", a.case_id, envelope)])
    assert len(report.held) == 1
    assert report.imported == []


def test_a_follow_up_sealed_to_an_older_generation_is_filed(office, two_desks) -> None:  # type: ignore[no-untyped-def]
    """Sealed to generation 1 before carles stepped aside (its announcement superseded since):
    this inbox keeps every generation, so a holder files it."""
    a = two_desks["a"]
    older = _public(office, a.case_id, 1)
    record = _marked(a, _sealed_to_case(office, a, "sent before the recusal", older), older)
    report = _import(office, two_desks["ana"], [record])
    assert report.imported == [record.record_id]


def test_an_officer_without_the_marked_generation_holds_it_back(office, two_desks) -> None:  # type: ignore[no-untyped-def]
    """ana holds generation 1 of case A but (here) not generation 2, the one the follow-up is
    marked with: it is not hers to try, so it waits rather than being refused."""
    a, ana = two_desks["a"], two_desks["ana"]
    with office.session() as session:
        session.execute(
            delete(CaseGrant).where(
                CaseGrant.case_id == a.case_id,
                CaseGrant.generation == 2,
                CaseGrant.holder == compartments.officer_holder(ana.officer_id),
            )
        )
        assert set(compartments.case_key_map(session, ana.keyring, a.case_id)) == {1}
    key = _public(office, a.case_id, 2)
    record = _marked(a, _sealed_to_case(office, a, "to the newest key", key), key)
    report = _import(office, ana, [record])
    assert (report.imported, report.refused, report.held) == ([], [], [record.record_id])


def _announcement_row(office, source: Source, generation: int, public: bytes) -> None:  # type: ignore[no-untyped-def]
    """A "case-key" row the server confirmed, announcing ``public`` for that generation."""
    admin = office.sign_in()
    announcement = CaseKeyAnnouncement(bytes.fromhex(source.case_id), generation, public)
    with office.session() as session:
        session.add(
            Outgoing(
                kind="case-key",
                case_id=source.case_id,
                record_id=str(generation),
                envelope=sign_case_key(admin.keyring.signing_seed, announcement),
                created=datetime(2026, 11, 2),
                bundle_sequence=1,
                confirmed=datetime(2026, 11, 2),
            )
        )


@pytest.mark.parametrize(
    "case",
    ["does not open", "a confirmed announcement of that key", "opens with a desk key"],
)
def test_a_key_not_held_here_is_never_refused(office, two_desks, case: str) -> None:  # type: ignore[no-untyped-def]
    """This inbox was restored from a backup older than the key (a newer backup holds it): the
    follow-up stays on the server, and the officer is told to restore. Neither an outgoing row
    (even one saying the server confirmed that very key) nor another key that opens it changes
    that."""
    a2 = two_desks["a2"]
    elsewhere = generate_box_keypair().public_key
    if case == "a confirmed announcement of that key":
        _announcement_row(office, a2, 1, elsewhere)
    if case == "opens with a desk key":
        envelope = make_followup(office, a2, "sealed to the desks")
        assert _opens_for(office, two_desks["ana"], a2, envelope)
    else:
        envelope = _sealed_to_case(office, a2, "sealed to a newer key", elsewhere)
    record = _marked(a2, envelope, elsewhere)
    report = _import(office, two_desks["ana"], [record])
    [(record_id, reason)] = report.refused
    assert record_id == record.record_id
    assert "restore the newest backup" in reason
    assert report.unopenable == []  # not refused to the server
    with office.session() as session:
        assert session.get(Record, record.record_id) is None
        assert session.get(HeldRecord, record.record_id) is None


@pytest.mark.parametrize("row", ["none", "a confirmed announcement of another key"])
def test_a_key_held_here_that_does_not_open_is_refused(office, two_desks, row: str) -> None:  # type: ignore[no-untyped-def]
    """No outgoing row is asked: the key is this case's, its holder tried it, it failed."""
    a2 = two_desks["a2"]
    if row != "none":
        _announcement_row(office, a2, 1, generate_box_keypair().public_key)
    elsewhere = generate_box_keypair().public_key
    envelope = _sealed_to_case(office, a2, "not to any key of ours", elsewhere)
    record = _marked(a2, envelope, _public(office, a2.case_id, 1))
    report = _import(office, two_desks["ana"], [record])
    assert report.unopenable == [record.record_id]
    assert "restore" not in report.refused[0][1]
