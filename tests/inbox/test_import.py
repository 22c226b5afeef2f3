"""Import: envelopes opened with desk keys, checked, re-encrypted under the storage key."""

from datetime import date

import pytest
from sqlalchemy import select

from whistle.crypto import associated_data, generate_box_keypair, open_envelope, seal, sealed_to
from whistle.crypto.framing import PartKind
from whistle.inbox.cases import CaseFilters, case_detail, list_cases
from whistle.inbox.compartments import case_secrets
from whistle.inbox.models import AuditEvent, Case, Record
from whistle.inbox.store import read_attachment

from .conftest import do_import, incoming, make_followup, make_reply, make_submission


def test_submission_and_followup_become_a_readable_case(office) -> None:
    source, envelope = make_submission(office, files=[("evidence.txt", b"ledger lines")])
    followup = make_followup(office, source, "One more thing", [("more.txt", b"second file")])
    report = do_import(
        office,
        [
            incoming("followup", source.case_id, followup),
            incoming("submission", source.case_id, envelope),
        ],
    )
    assert len(report.imported) == 2
    assert not report.refused
    signed = office.sign_in()
    with office.session() as session:
        detail = case_detail(session, signed.keyring, source.case_id, today=date(2026, 11, 2))
        assert detail.case.desk_id == "antifraud"
        assert [e.kind for e in detail.entries] == ["submission", "followup"]
        assert detail.entries[0].form[0] == {
            "key": "subject",
            "label": "Subject",
            "value": "Invoices inflated",
            "deleted": "",
        }
        assert detail.entries[0].files == [{"index": 0, "name": "evidence.txt", "size": 12}]
        assert detail.entries[1].message == "One more thing"
        record = session.get(Record, detail.entries[0].record_id)
        keys = case_secrets(session, signed.keyring, record.case_id)
        assert read_attachment(keys, record, 0, office.config.store_dir, limit=2**20) == (
            "evidence.txt",
            b"ledger lines",
        )


def test_stored_copy_opens_with_the_case_key_not_storage_or_desk_keys(office) -> None:
    source, envelope = make_submission(office)
    do_import(office, [incoming("submission", source.case_id, envelope)])
    signed = office.sign_in()
    with office.session() as session:
        record = session.scalar(select(Record))
        case_keys = case_secrets(session, signed.keyring, source.case_id)
    path = office.config.store_dir / record.stored_name
    ad = associated_data("stored-submission", bytes.fromhex(source.case_id))
    with path.open("rb") as f:
        open_envelope(f, case_keys, ad)
    import pytest

    from whistle.crypto import WrongKeyError
    from whistle.inbox.compartments import wire_keys

    with office.session() as session:
        desk_secrets = [s for k in wire_keys(session, signed.keyring) for s in k.desks.values()]
    # Every officer holds the storage key: it no longer opens a desk's content.
    for others in (desk_secrets, [signed.keyring.storage_secret]):
        with path.open("rb") as f, pytest.raises(WrongKeyError):
            open_envelope(f, others, ad)


def test_desk_is_the_one_whose_key_opened_it(office) -> None:
    source, envelope = make_submission(office, desk="ethics")
    do_import(office, [incoming("submission", source.case_id, envelope)])
    with office.session() as session:
        assert session.get(Case, source.case_id).desk_id == "ethics"


def test_unauthenticated_followup_refused_with_logged_reason(office) -> None:
    source, envelope = make_submission(office)
    # An attacker with the desk public keys but not the reply key: sealed, not boxed.
    forged = seal(
        [(PartKind.TEXT, "message", b"forged")],
        [sealed_to(k) for k in office.card_desks.values()],
        associated_data("followup", bytes.fromhex(source.case_id)),
    )
    # Another source's reply key boxing into this case.
    intruder = generate_box_keypair()
    from whistle.crypto.records import seal_followup

    boxed_by_other = seal_followup(
        "not mine",
        [],
        reply_secret_key=intruder.secret_key,
        office_keys=list(office.card_desks.values()),
        case_id=bytes.fromhex(source.case_id),
    )
    good = make_followup(office, source, "genuine")
    report = do_import(
        office,
        [
            incoming("submission", source.case_id, envelope),
            incoming("followup", source.case_id, forged, "forged"),
            incoming("followup", source.case_id, boxed_by_other, "intruder"),
            incoming("followup", source.case_id, good, "good"),
        ],
    )
    assert {r for r, _ in report.refused} == {"forged", "intruder"}
    assert "good" in report.imported
    with office.session() as session:
        refused = session.scalars(select(AuditEvent).where(AuditEvent.action == "record-refused"))
        assert {e.record_id for e in refused} == {"forged", "intruder"}
        assert session.get(Record, "forged") is None


def test_record_moved_to_another_case_refused(office) -> None:
    a, env_a = make_submission(office)
    b, _ = make_submission(office)
    report = do_import(office, [incoming("submission", b.case_id, env_a, "moved")])
    assert report.refused
    assert report.refused[0][0] == "moved"
    # Presented as another kind: refused too.
    report = do_import(office, [incoming("submission", a.case_id, make_followup(office, a, "x"))])
    assert report.refused


def test_duplicates(office) -> None:
    source, envelope = make_submission(office)
    do_import(office, [incoming("submission", source.case_id, envelope, "r1")])
    report = do_import(office, [incoming("submission", source.case_id, envelope, "r1")])
    assert report.already_present == ["r1"]
    assert not report.refused
    followup = make_followup(office, source, "hello")
    other = make_followup(office, source, "different")
    do_import(office, [incoming("followup", source.case_id, followup, "f1")])
    report = do_import(office, [incoming("followup", source.case_id, other, "f1")])
    assert report.refused
    assert "other content" in report.refused[0][1]


def test_bad_batch_entries_do_not_stop_the_rest(office) -> None:
    good, env = make_submission(office)
    broken, env2 = make_submission(office)
    truncated = env2[: len(env2) // 2]
    report = do_import(
        office,
        [
            incoming("submission", broken.case_id, truncated, "cut"),
            incoming("submission", good.case_id, env, "ok"),
            incoming("submission", "nothex", env, "badcase"),
            incoming("weird", good.case_id, env, "badkind"),
            incoming("followup", "ab" * 16, env, "orphan"),
        ],
    )
    assert report.imported == ["ok"]
    assert {r for r, _ in report.refused} == {"cut", "badcase", "badkind", "orphan"}
    assert list(office.config.store_dir.iterdir())
    assert len(list(office.config.store_dir.iterdir())) == 1


def test_original_hash_kept_for_acknowledgement(office) -> None:
    from whistle.crypto import record_hash

    source, envelope = make_submission(office)
    do_import(office, [incoming("submission", source.case_id, envelope, "r1")])
    with office.session() as session:
        assert session.get(Record, "r1").original_hash == record_hash(envelope)


def test_corrupt_stored_record_shows_an_error_others_work(office) -> None:
    a, env_a = make_submission(office, subject="first case")
    b, env_b = make_submission(office, subject="second case")
    do_import(
        office,
        [
            incoming("submission", a.case_id, env_a, "ra"),
            incoming("submission", b.case_id, env_b, "rb"),
        ],
    )
    with office.session() as session:
        row = session.get(Record, "ra")
        row.meta = row.meta[:-5] + bytes(5)
    signed = office.sign_in()
    with office.session() as session:
        page = list_cases(
            session, signed.keyring, CaseFilters(), today=date(2026, 11, 2), page_size=25
        )
        by_id = {c.id: c for c in page.cases}
        assert by_id[a.case_id].error
        assert not by_id[a.case_id].subject
        assert by_id[b.case_id].subject == "second case"
        assert by_id[b.case_id].error is None
        detail = case_detail(session, signed.keyring, a.case_id, today=date(2026, 11, 2))
        assert detail.entries[0].error


def test_stored_file_corruption_is_reported_on_read(office) -> None:
    import pytest

    from whistle.inbox.errors import UnreadableRecordError

    source, envelope = make_submission(office, files=[("a.txt", b"x" * 1000)])
    do_import(office, [incoming("submission", source.case_id, envelope, "r")])
    signed = office.sign_in()
    with office.session() as session:
        record = session.get(Record, "r")
        keys = case_secrets(session, signed.keyring, record.case_id)
    path = office.config.store_dir / record.stored_name
    data = bytearray(path.read_bytes())
    data[-20] ^= 1
    path.write_bytes(bytes(data))
    with pytest.raises(UnreadableRecordError):
        read_attachment(keys, record, 0, office.config.store_dir, limit=2**20)


def test_reply_from_the_office_is_imported_and_shown(office) -> None:
    source, envelope = make_submission(office)
    reply = make_reply(office, source, "We have received your report.")
    report = do_import(
        office,
        [
            incoming("submission", source.case_id, envelope),
            incoming("reply", source.case_id, reply, "rep"),
        ],
    )
    assert "rep" in report.imported
    signed = office.sign_in()
    with office.session() as session:
        detail = case_detail(session, signed.keyring, source.case_id, today=date(2026, 11, 2))
    assert detail.entries[-1].kind == "reply"
    assert detail.entries[-1].message == "We have received your report."


def test_followup_for_a_case_whose_source_keys_are_damaged_is_refused_alone(office) -> None:
    a, env_a = make_submission(office)
    b, env_b = make_submission(office)
    do_import(office, [incoming("submission", a.case_id, env_a, "ra")])
    with office.session() as session:
        row = session.get(Case, a.case_id)
        row.verification = row.verification[:-5] + bytes(5)
    report = do_import(
        office,
        [
            incoming("followup", a.case_id, make_followup(office, a, "hi"), "fa"),
            incoming("submission", b.case_id, env_b, "rb"),
        ],
    )
    assert report.imported == ["rb"]
    assert [r for r, _ in report.refused] == ["fa"]


@pytest.mark.parametrize(
    ("form", "expected"),
    [
        ({"identified": True}, True),
        ({"identified": False}, False),
        ({}, None),  # a form from before the field, or from a browser that leaves it out
        ({"identified": "yes"}, None),
        (None, None),
    ],
)
def test_the_register_learns_whether_the_source_gave_identification(form, expected) -> None:  # type: ignore[no-untyped-def]
    from whistle.inbox.store import _identified

    assert _identified(form) is expected
