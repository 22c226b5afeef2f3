"""The sealed search entries: kept current with new records and notes, purged cases dropped,
a damaged entry rebuilt, nothing in plaintext at rest."""

from datetime import UTC, date, datetime

from sqlalchemy import select, text

from whistle.inbox import search_index, workflow
from whistle.inbox.cases import CaseFilters, add_note, list_cases
from whistle.inbox.models import CaseSearch

from .conftest import Office, do_import, incoming, make_submission

NOW = datetime(2026, 11, 2, 9, tzinfo=UTC)


def _search(office: Office, signed, query: str, cache=None) -> list[str]:  # type: ignore[no-untyped-def]
    with office.session() as session:
        page = list_cases(
            session,
            signed.keyring,
            CaseFilters(query=query),
            today=date(2026, 11, 2),
            page_size=50,
            cache=cache,
        )
    return [c.id for c in page.cases]


def test_index_follows_notes_and_purges(office: Office) -> None:
    a, env_a = make_submission(office, description="roadworks in Gràcia")
    b, env_b = make_submission(office, description="school canteen")
    do_import(
        office, [incoming("submission", a.case_id, env_a), incoming("submission", b.case_id, env_b)]
    )
    signed = office.sign_in()
    cache: dict = {}
    assert _search(office, signed, "GRÀCIA", cache) == [a.case_id]
    with office.session() as session:
        add_note(session, signed.keyring, b.case_id, "zebra crossing", officer_id=1, now=NOW)
    assert _search(office, signed, "zebra", cache) == [b.case_id]
    assert _search(office, signed, "zebra") == [b.case_id]  # no cache: read from the row
    with office.session() as session:
        blobs = b"".join(session.scalars(select(CaseSearch.blob)))
    assert b"zebra" not in blobs
    assert "gràcia".encode() not in blobs
    with office.session() as session:
        paths = workflow.purge_case(
            session,
            signed.keyring,
            a.case_id,
            confirm=True,
            reason="Test purge.",
            officer_id=1,
            now=NOW,
            today=date(2026, 11, 2),
            store_dir=office.config.store_dir,
        )
    workflow.remove_files(paths)
    assert _search(office, signed, "gràcia", cache) == []
    with office.session() as session:
        entries = search_index.refreshed(session, signed.keyring, now=NOW)
    assert set(entries) == {b.case_id}


def test_damaged_index_is_rebuilt(office: Office) -> None:
    a, env_a = make_submission(office, description="harbour fees")
    do_import(office, [incoming("submission", a.case_id, env_a)])
    signed = office.sign_in()
    assert _search(office, signed, "harbour") == [a.case_id]
    with office.session() as session:
        session.execute(text("UPDATE case_search SET blob = x'00'"))
    assert _search(office, signed, "harbour") == [a.case_id]
