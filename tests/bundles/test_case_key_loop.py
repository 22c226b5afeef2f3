"""Case keys through both real sides (protocol §17): the inbox announces, the server stores the
announcement and seals the next follow-up (JavaScript off) to the case's key alone and names that
key in the outbox; another desk's officer holds it back (their keys do not open it), a
member of the case's desk files it."""

import pytest
from sqlalchemy import select

from tests.submit.conftest import plain_followup, submit_report
from whistle.crypto import WrongKeyError, associated_data, open_bytes
from whistle.inbox import compartments, held_back
from whistle.inbox.bundles import import_outbox, verify_outbox
from whistle.inbox.models import Case, HeldRecord, Officer, Outgoing, Record
from whistle.inbox.officers import add_officer, sign_in

from .conftest import PASSWORD, World


@pytest.fixture
def world(two_desks: World) -> World:
    """Both sides, an office of two desks (admin in both), the server on SQLite."""
    return two_desks


def test_a_follow_up_sealed_to_the_case_key_reaches_only_its_desk(world: World) -> None:
    world.client.get("/language/en")
    code = submit_report(world.client, "/report/antifraud", description="the pylon contract")
    world.inbox_import(world.server_export())
    with world.inbox_session() as session:
        case = session.scalars(select(Case.id)).one()
        admin = session.scalar(select(Officer.id).where(Officer.name == "admin"))
        for name, desks in (("berta", ["ethics"]), ("ana", ["antifraud"])):
            add_officer(
                session,
                world.inbox_config,
                name=name,
                password=PASSWORD,
                roles=("officer",),
                keyring=world.keyring,
                custodian_keyring=None,
                by_officer_id=admin,
                desks=desks,
            )

    world.inbox_backup()
    applied = world.server_import(world.inbox_export())
    assert applied.counts["case keys stored"] == 1
    world.inbox_import(world.server_export())  # the server confirms the bundle
    with world.inbox_session() as session:
        [row] = session.scalars(select(Outgoing).where(Outgoing.kind == "case-key")).all()
        assert (row.record_id, row.confirmed is not None) == ("1", True)

    assert plain_followup(world.client, code, "he called again").status_code == 200
    outbox = world.server_export()
    with world.inbox_session() as session:
        verified = verify_outbox(session, world.keyring, outbox)
        [followup] = [r for r in verified.records if r.kind == "followup"]
        # By key (its hex), not generation; and the server names the key it holds.
        case_key = compartments.case_public(session, case).hex()
        assert verified.manifest.extra["record_case_keys"] == {followup.id: case_key}
        assert verified.manifest.extra["case_keys_held"] == {case: [1, case_key]}
        berta = sign_in(session, world.inbox_config, "berta", PASSWORD)
        berta_keys = [
            s for k in compartments.wire_keys(session, berta.keyring) for s in k.desks.values()
        ]
    with pytest.raises(WrongKeyError):
        open_bytes(followup.envelope, berta_keys, associated_data("followup", bytes.fromhex(case)))
    with world.inbox_session() as session:
        summary = import_outbox(
            session,
            berta.keyring,
            outbox,
            store_dir=world.inbox_config.store_dir,
            now=world.inbox_config.clock(),
        )
        assert summary.counts["held back for another desk"] == 1
        held = session.get(HeldRecord, followup.id)
        assert held is not None
        assert held.case_key == bytes.fromhex(case_key)
    with world.inbox_session() as session:
        sign_in(session, world.inbox_config, "ana", PASSWORD)  # files what waits for her desk
    with world.inbox_session() as session:
        assert held_back.count(session) == 0
        assert session.get(Record, followup.id) is not None
