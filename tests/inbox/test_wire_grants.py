"""The keys of records in transit, by key: each desk's key of an epoch is granted to that
desk's compartment, so a member who leaves opens none of it from the database — not the
current epoch's (their grant is gone), not the next one's (granted to the new generation)."""

from whistle.inbox import compartments, epochs
from whistle.inbox.models import DeskKey

from .conftest import add_officer_in as _add


def _wire(office, signed) -> dict[int, set[str]]:  # type: ignore[no-untyped-def]
    with office.session() as session:
        return {k.epoch: set(k.desks) for k in compartments.wire_keys(session, signed.keyring)}


def test_a_member_who_left_opens_no_key_of_their_old_desk(office) -> None:  # type: ignore[no-untyped-def]
    ana = _add(office, "ana", ["antifraud"])
    carles = _add(office, "carles", ["antifraud"])
    assert _wire(office, carles) == {1: {"antifraud"}}
    with office.session() as session:
        compartments.remove_member(
            session,
            desk_id="antifraud",
            name="carles",
            by_officer_id=office.sign_in().officer_id,
            now=office.config.clock(),
        )
    assert _wire(office, carles) == {1: set()}
    with office.session() as session:
        epochs.rotate(session, ana.keyring, office.config.clock())
        row = session.get(DeskKey, (2, "antifraud"))
        assert row.generation == compartments.newest_generation(session, "antifraud") == 2
    assert _wire(office, carles) == {2: set(), 1: set()}
    # Those who stayed open both epochs' keys, through the old and the new generation.
    assert _wire(office, office.sign_in("ana")) == {2: {"antifraud"}, 1: {"antifraud"}}
