"""The whole loop, plain-form path: submit → export → import → reply → export → import → read."""

import re

from sqlalchemy import func, select

from tests.submit.conftest import check_in, submit_report
from whistle.inbox.cases import case_detail
from whistle.inbox.models import Case
from whistle.inbox.outgoing import queue_reply
from whistle.submit.models import Login, Record

from .conftest import World

CANARY = "CANARY-bundle-loop-4b1d"


def _only_case(world: World) -> str:
    with world.inbox_session() as session:
        return session.scalars(select(Case.id)).one()


def test_whole_loop_plain_form(world: World) -> None:
    client = world.client
    client.get("/language/en")
    code = submit_report(client, description=f"The canary: {CANARY}", files=[(b"ledger", "a.txt")])

    summary = world.inbox_import(world.server_export())
    assert summary.counts["records imported"] == 1
    case_id = _only_case(world)
    with world.inbox_session() as session:
        detail = case_detail(
            session, world.keyring, case_id, today=world.inbox_config.clock().date()
        )
        assert any(CANARY in f["value"] for f in detail.entries[0].form)
        queue_reply(
            session,
            world.keyring,
            case_id=case_id,
            message="We received it. Thank you.",
            files=[],
            now=world.inbox_config.clock(),
            store_dir=world.inbox_config.store_dir,
        )

    # No backup holds the report yet: the reply goes, the acknowledgement waits.
    applied = world.server_import(world.inbox_export())
    assert applied.counts["replies stored"] == 1
    assert applied.counts["acknowledged records deleted"] == 0
    world.inbox_backup()
    applied = world.server_import(world.inbox_export())
    assert applied.counts["acknowledged records deleted"] == 1

    status, page = check_in(client, code)
    assert status == 200
    assert "We received it. Thank you." in page
    with world.server_state().sessions() as session:
        kinds = [r.kind.value for r in session.scalars(select(Record))]
        assert kinds == ["reply"]  # the delivered submission is gone
        assert session.scalar(select(func.count()).select_from(Login)) == 1
        reply = session.scalars(select(Record)).one()
        assert reply.first_read is not None

    # The next outbox confirms the replies bundles and carries nothing old.
    again = world.inbox_import(world.server_export())
    assert again.counts["records imported"] == 0
    assert again.counts["replies the server confirmed"] == 1
    assert not re.search(CANARY, str(world.snapshot()["server"]))


def test_an_export_with_nothing_new_is_the_last_bundle_again(world: World) -> None:
    """`whistle server export` with an empty outbox and nothing changed since: the same bundle
    (number and id), nothing logged, the inbox finds it applied; a new report makes the next
    number. A bundle with records is never written again under its number."""
    from whistle.inbox.bundles import verify_outbox
    from whistle.submit.models import BundleLog

    def opened(data: bytes):  # type: ignore[no-untyped-def]
        with world.inbox_session() as session:
            return verify_outbox(session, world.keyring, data)

    def logged() -> int:
        with world.server_state().sessions() as session:
            return session.scalar(select(func.count()).select_from(BundleLog)) or 0

    world.acknowledge_on_import()
    submit_report(world.client)
    first = world.server_export()
    assert world.inbox_import(first).counts["records imported"] == 1
    resent = world.server_export()  # the record is not acknowledged yet: a new number
    assert opened(resent).manifest.sequence == 2
    assert world.inbox_import(resent).counts["already here"] == 1
    world.server_import(world.inbox_export())  # the acknowledgement: the outbox is empty
    empty = world.server_export()
    assert opened(empty).manifest.records == ()
    assert opened(empty).manifest.sequence == 3
    assert world.inbox_import(empty).counts["records imported"] == 0
    before = logged()
    again = world.server_export()
    assert again != empty  # sealed afresh ...
    assert opened(again).bundle_id == opened(empty).bundle_id  # ... the same bundle
    assert world.inbox_import(again).already_applied
    assert logged() == before
    submit_report(world.client)
    changed = world.server_export()
    assert opened(changed).manifest.sequence == 4
    assert opened(changed).manifest.previous == opened(empty).bundle_id
    assert world.inbox_import(changed).counts["records imported"] == 1


def test_the_source_copy_survives_the_acknowledgement_and_goes_with_the_case(
    world: World,
) -> None:
    """The server keeps the source's sealed copy after the office's acknowledgement deleted
    the report; the bundle never carries it; the office's purge deletes it with the case."""
    from whistle.inbox.outgoing import queue_purge
    from whistle.submit.models import SourceCopy

    client = world.client
    client.get("/language/en")
    code = submit_report(client, description=f"The canary: {CANARY}")
    with world.server_state().sessions() as session:
        copy = session.scalars(select(SourceCopy)).one()
    outbox = world.server_export()
    summary = world.inbox_import(outbox)
    assert summary.counts["records imported"] == 1  # the report only, not its copy
    assert copy.data not in outbox
    world.inbox_backup()
    applied = world.server_import(world.inbox_export())
    assert applied.counts["acknowledged records deleted"] == 1

    status, page = check_in(client, code)
    assert status == 200
    assert CANARY in page  # from the copy: the server no longer holds the report
    assert "Status: the office has collected your report." in page
    with world.server_state().sessions() as session:
        assert session.scalars(select(Record)).all() == []
        assert session.scalar(select(func.count()).select_from(SourceCopy)) == 1

    with world.inbox_session() as session:
        queue_purge(session, case_id=_only_case(world), now=world.inbox_config.clock())
    world.server_import(world.inbox_export())
    with world.server_state().sessions() as session:
        assert session.scalar(select(func.count()).select_from(SourceCopy)) == 0
        assert session.scalar(select(func.count()).select_from(Login)) == 0
