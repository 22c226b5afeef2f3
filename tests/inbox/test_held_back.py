"""Records held back, in the inbox alone: the custodian imports like an officer in no desk, and
a held record whose case was deleted since (the list of deletions applied again after a
restore) is dropped, not filed."""

from datetime import date

from sqlalchemy import select

from whistle.inbox import held_back
from whistle.inbox.bundles import file_held_back
from whistle.inbox.models import Case, Outgoing, Tombstone
from whistle.inbox.officers import SignedIn
from whistle.inbox.store import import_records

from .conftest import incoming, make_followup, make_submission
from .test_web import _add_custodian


def _import(office, signed: SignedIn, records) -> object:  # type: ignore[no-untyped-def]
    with office.session() as session:
        return import_records(
            session,
            signed.keyring,
            records,
            store_dir=office.config.store_dir,
            now=office.config.clock(),
        )


def test_the_custodian_files_nothing_and_the_officers_file_it_all(office) -> None:  # type: ignore[no-untyped-def]
    _add_custodian(office)
    carla = office.sign_in("carla")
    a, env_a = make_submission(office, description="antifraud matter")
    b, env_b = make_submission(office, desk="ethics", description="ethics matter")
    records = [
        incoming("submission", a.case_id, env_a),
        incoming("submission", b.case_id, env_b),
        incoming("followup", a.case_id, make_followup(office, a, "more")),
    ]
    report = _import(office, carla, records)
    assert report.imported == []
    assert len(report.held) == 3
    with office.session() as session:
        assert session.scalar(select(Case.id)) is None
        [group] = held_back.waiting(session)
        assert (group.desks, group.reports, group.followups) == (
            ("Anti-fraud office", "Ethics desk"),
            2,
            1,
        )
    office.sign_in()  # admin, in both desks: everything is filed at sign-in
    with office.session() as session:
        assert held_back.count(session) == 0
        assert {c.desk_id for c in session.scalars(select(Case))} == {"antifraud", "ethics"}


def test_a_held_record_of_a_deleted_case_is_dropped_not_filed(office) -> None:  # type: ignore[no-untyped-def]
    _add_custodian(office)
    carla = office.sign_in("carla")
    b, env_b = make_submission(office, desk="ethics")
    _import(office, carla, [incoming("submission", b.case_id, env_b)])
    with office.session() as session:
        # What applying the server's copy of the list of deletions leaves for a deleted case.
        session.add(Tombstone(id=b.case_id, kind="case", day=date(2026, 11, 2)))
    admin = office.sign_in()
    with office.session() as session:
        assert held_back.count(session) == 0
        assert session.get(Case, b.case_id) is None
        assert session.scalar(select(Outgoing.id).where(Outgoing.kind == "ack")) is None
        assert (
            file_held_back(
                session, admin.keyring, store_dir=office.config.store_dir, now=office.config.clock()
            )
            is None
        )
