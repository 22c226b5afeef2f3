"""Desks as key compartments: who can read what, shown by key (each officer's unwrapped
secrets against the stored bytes), and the edges — stepping aside, leaving, the last member,
a desk with open cases, an officer in no desk, the custodian."""

import contextlib
from datetime import date

import pytest
from sqlalchemy import func, select

from whistle.crypto import CryptoError, associated_data, open_bytes, open_envelope
from whistle.inbox import cases as cases_module
from whistle.inbox import compartments, dashboard, epochs, sealing
from whistle.inbox.audit import record_event  # noqa: F401  (the audit chain is the record)
from whistle.inbox.cases import (
    CaseFilters,
    add_note,
    case_detail,
    decide_disclosure,
    identification,
    list_cases,
)
from whistle.inbox.context import OfficerContext
from whistle.inbox.errors import (
    CaseLockedError,
    DeskCasesLockedError,
    DeskError,
    DeskHasCasesError,
    DisclosureRequiredError,
    LastDeskError,
    LastMemberError,
    PermissionDeniedError,
    RecusalError,
    SuccessorDeskError,
)
from whistle.inbox.models import (
    AuditEvent,
    Case,
    CaseGrant,
    CaseSearch,
    Compartment,
    DeskGrant,
    DeskMember,
    DeskSearch,
    Note,
    Office,
    Record,
    RemovedDesk,
)
from whistle.inbox.officers import SignedIn

from .conftest import (
    add_officer_in,
    do_import,
    incoming,
    listed_cases,
    make_followup,
    make_submission,
)

TODAY = date(2026, 11, 2)


def _everything(office, signed: SignedIn) -> list[bytes]:  # type: ignore[no-untyped-def]
    """Every secret an officer's keyring holds or opens: the office keys, their own key, their
    desks' compartment keys and every case key those (or grants to them) open."""
    keyring = signed.keyring
    found = [keyring.storage_secret, keyring.signing_seed]
    if keyring.personal_secret is not None:
        found.append(keyring.personal_secret)
    with office.session() as session:
        found += list(compartments.open_desks(session, keyring).desks.values())
        for case_id in session.scalars(select(Case.id)):
            with contextlib.suppress(CaseLockedError):
                found += list(compartments.case_key_map(session, keyring, case_id).values())
    return found


def _opens(office, secrets: list[bytes], case_id: str) -> bool:  # type: ignore[no-untyped-def]
    """Whether these secrets open the case's stored submission file and its summary row."""
    with office.session() as session:
        record = session.scalar(
            select(Record).where(Record.case_id == case_id, Record.kind == "submission")
        )
        meta = record.meta
        path = office.config.store_dir / record.stored_name
    raw = bytes.fromhex(case_id)
    results = []
    try:
        open_bytes(meta, secrets, associated_data(sealing.META, raw))
        results.append(True)
    except CryptoError:
        results.append(False)
    try:
        with path.open("rb") as handle:
            open_envelope(handle, secrets, associated_data("stored-submission", raw)).read_all()
        results.append(True)
    except CryptoError:
        results.append(False)
    assert results[0] == results[1]  # the summary and the file are in the same compartment
    return results[0]


def test_who_reads_what_by_key(office, two_desks) -> None:  # type: ignore[no-untyped-def]
    w = two_desks
    a, a2, b = w["a"].case_id, w["a2"].case_id, w["b"].case_id
    expected = {
        "ana": {a: True, a2: True, b: False},
        "berta": {a: False, a2: False, b: True},
        "carles": {a: False, a2: True, b: False},  # stepped aside from A
    }
    for name, cases in expected.items():
        secrets = _everything(office, w[name])
        for case_id, readable in cases.items():
            assert _opens(office, secrets, case_id) is readable, (name, case_id)
    # The storage key every officer holds opens no case's content any more.
    assert not _opens(office, [w["ana"].keyring.storage_secret], a)
    # Lists and search show exactly what the keys open.
    assert listed_cases(office, w["ana"]) == {a, a2}
    assert listed_cases(office, w["berta"]) == {b}
    assert listed_cases(office, w["carles"]) == {a2}
    assert listed_cases(office, w["ana"], "archives") == set()
    assert listed_cases(office, w["berta"], "archives") == {b}
    assert listed_cases(office, w["carles"], "pylon") == set()


def test_a_search_with_more_hits_than_the_database_binds_lists_the_same(  # type: ignore[no-untyped-def]
    office, two_desks, monkeypatch
) -> None:
    """Past ``MAX_BOUND_IDS`` hits the list filters them itself: by the same keys."""
    w = two_desks
    a, a2 = w["a"].case_id, w["a2"].case_id
    monkeypatch.setattr(cases_module, "MAX_BOUND_IDS", 0)
    assert listed_cases(office, w["ana"], "c") == {a, a2}  # pylon contract, school canteen
    assert listed_cases(office, w["carles"], "c") == {a2}
    assert listed_cases(office, w["berta"], "pylon") == set()
    assert listed_cases(office, w["berta"], "archives") == {w["b"].case_id}


def test_a_list_without_a_cache_opens_each_key_once(office, two_desks, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """The command line keeps no cache: a page opens the desk key twice (its filter, its
    keys) and each case key once, whatever the number of records (it opened the desk key
    and the case key again for every record)."""
    w = two_desks
    env = make_followup(office, w["a2"], "more about the canteen")
    do_import(office, [incoming("followup", w["a2"].case_id, env, "fa2")])
    opened: list[str] = []
    real = compartments.open_grant

    def counting(grant: bytes, secret: bytes, context: str, public: bytes, **kw: bytes) -> bytes:
        opened.append(context)
        return real(grant, secret, context, public, **kw)

    monkeypatch.setattr(compartments, "open_grant", counting)
    with office.session() as session:
        page = list_cases(session, w["ana"].keyring, CaseFilters(), today=TODAY, page_size=10)
        board = dashboard.dashboard(session, w["ana"].keyring, today=TODAY)
    assert {c.id for c in page.cases} == {w["a"].case_id, w["a2"].case_id}
    assert {r.case_id for r in board.rows} == {w["a"].case_id, w["a2"].case_id}
    assert [c.records for c in page.cases if c.id == w["a2"].case_id] == [2]
    desk_opens = [c for c in opened if c.startswith("desk/")]
    assert desk_opens == ["desk/antifraud/1"] * 4  # twice for the list, twice for the board
    assert sorted(c for c in opened if c.startswith("case/")) == sorted(
        f"case/{case_id}/{generation}"
        for case_id, generations in ((w["a"].case_id, (1, 2)), (w["a2"].case_id, (1,)))
        for generation in generations
        for _ in range(2)
    )


def test_a_case_opened_by_id_is_refused_by_key(office, two_desks) -> None:  # type: ignore[no-untyped-def]
    w = two_desks
    with office.session() as session:
        with pytest.raises(CaseLockedError):
            case_detail(session, w["berta"].keyring, w["a"].case_id, today=TODAY)
        with pytest.raises(CaseLockedError):
            case_detail(session, w["carles"].keyring, w["a"].case_id, today=TODAY)
        with pytest.raises(CaseLockedError):  # nor can they write into it
            add_note(
                session, w["carles"].keyring, w["a"].case_id, "x", officer_id=1, now=_now(office)
            )
        assert case_detail(session, w["ana"].keyring, w["a"].case_id, today=TODAY).entries
        notes = session.scalar(select(Note.id))
    assert notes is None


def _now(office):  # type: ignore[no-untyped-def]
    return office.config.clock()


def test_stepping_aside_is_audited_and_covers_what_comes_later(office, two_desks) -> None:  # type: ignore[no-untyped-def]
    w = two_desks
    a = w["a"]
    # A follow-up after the recusal goes to the case's new key: still not carles's.
    do_import(office, [incoming("followup", a.case_id, make_followup(office, a, "later"), "fa")])
    with office.session() as session:
        record = session.get(Record, "fa")
        raw = bytes.fromhex(a.case_id)
        meta = record.meta
        event = session.scalar(select(AuditEvent).where(AuditEvent.action == "case-recusal"))
        assert event.detail == "carles stepped aside"
        assert event.case_id == a.case_id
        assert "brother" not in (event.detail or "")  # the reason is sealed, not logged
    with pytest.raises(CryptoError):
        open_bytes(meta, _everything(office, w["carles"]), associated_data(sealing.META, raw))
    open_bytes(meta, _everything(office, w["ana"]), associated_data(sealing.META, raw))
    with office.session() as session, pytest.raises(RecusalError):
        compartments.recuse(
            session,
            w["ana"].keyring,
            case_id=a.case_id,
            officer_name="carles",
            by_officer_id=None,
            reason="Recorded a second time.",
            now=_now(office),
        )


def test_stepping_aside_needs_a_reason_and_changes_nothing_without(office, two_desks) -> None:  # type: ignore[no-untyped-def]
    w = two_desks
    with office.session() as session:
        before = session.scalars(
            select(CaseGrant.holder).where(CaseGrant.case_id == w["a2"].case_id)
        ).all()
        with pytest.raises(RecusalError):
            compartments.recuse(
                session,
                w["ana"].keyring,
                case_id=w["a2"].case_id,
                officer_name="ana",
                by_officer_id=w["ana"].officer_id,
                reason="short",
                now=_now(office),
            )
        # An officer cannot record it for a colleague: only for themselves, or a manager.
        with pytest.raises(PermissionDeniedError):
            compartments.recuse(
                session,
                w["ana"].keyring,
                case_id=w["a2"].case_id,
                officer_name="carles",
                by_officer_id=w["ana"].officer_id,
                reason="He knows the reporter well.",
                now=_now(office),
            )
    with office.session() as session:
        after = session.scalars(
            select(CaseGrant.holder).where(CaseGrant.case_id == w["a2"].case_id)
        ).all()
    assert after == before
    assert listed_cases(office, w["ana"]) >= {w["a2"].case_id}


def test_leaving_a_desk_rotates_its_key(office, two_desks) -> None:  # type: ignore[no-untyped-def]
    w = two_desks
    admin = office.sign_in()
    with office.session() as session:
        generation = compartments.remove_member(
            session,
            desk_id="antifraud",
            name="ana",
            by_officer_id=admin.officer_id,
            now=_now(office),
        )
        assert generation == 2
        assert not session.scalars(
            select(DeskGrant).where(
                DeskGrant.holder == compartments.officer_holder(w["ana"].officer_id)
            )
        ).all()
    later, env = make_submission(office, description="after ana left")
    do_import(office, [incoming("submission", later.case_id, env, "rl")])
    ana = office.sign_in("ana")
    secrets = _everything(office, ana)
    for case_id in (w["a"].case_id, w["a2"].case_id, later.case_id):
        assert not _opens(office, secrets, case_id)
    assert _opens(office, _everything(office, office.sign_in("carles")), later.case_id)
    assert listed_cases(office, ana) == set()
    with office.session() as session:
        event = session.scalar(select(AuditEvent).where(AuditEvent.action == "desk-member-removed"))
        assert event.detail.startswith("ana from antifraud")


def test_the_last_member_cannot_leave(office, two_desks) -> None:  # type: ignore[no-untyped-def]
    admin = office.sign_in()
    with office.session() as session:
        compartments.remove_member(
            session,
            desk_id="ethics",
            name="admin",
            by_officer_id=admin.officer_id,
            now=_now(office),
        )
    with office.session() as session, pytest.raises(LastMemberError):
        compartments.remove_member(
            session,
            desk_id="ethics",
            name="berta",
            by_officer_id=admin.officer_id,
            now=_now(office),
        )
    assert listed_cases(office, office.sign_in("berta")) == {two_desks["b"].case_id}


def test_only_managers_change_membership(office, two_desks) -> None:  # type: ignore[no-untyped-def]
    w = two_desks
    with office.session() as session, pytest.raises(PermissionDeniedError):
        compartments.add_member(
            session,
            w["ana"].keyring,
            desk_id="ethics",
            name="ana",
            by_officer_id=w["ana"].officer_id,
            now=_now(office),
        )
    with office.session() as session, pytest.raises(DeskError):
        compartments.add_member(
            session,
            office.sign_in().keyring,
            desk_id="nowhere",
            name="ana",
            by_officer_id=1,
            now=_now(office),
        )


def test_a_member_added_later_gets_the_keys(office, two_desks) -> None:  # type: ignore[no-untyped-def]
    w = two_desks
    admin = office.sign_in()
    with office.session() as session:
        delivered = compartments.add_member(
            session,
            admin.keyring,
            desk_id="antifraud",
            name="berta",
            by_officer_id=admin.officer_id,
            now=_now(office),
        )
    assert delivered
    berta = office.sign_in("berta")
    # Both antifraud cases, the one carles stepped aside from included (granted by name).
    assert listed_cases(office, berta) == {w["a"].case_id, w["a2"].case_id, w["b"].case_id}
    assert _opens(office, _everything(office, berta), w["a"].case_id)


def test_a_desk_with_open_cases_cannot_go_until_they_are_reassigned(office, two_desks) -> None:  # type: ignore[no-untyped-def]
    w = two_desks
    admin = office.sign_in()
    with office.session() as session:
        with pytest.raises(DeskHasCasesError):
            compartments.check_removable(session, "ethics")
        compartments.reassign(
            session,
            admin.keyring,
            case_id=w["b"].case_id,
            desk_id="antifraud",
            by_officer_id=admin.officer_id,
            now=_now(office),
        )
    with office.session() as session:
        compartments.check_removable(session, "ethics")
        assert session.get(Case, w["b"].case_id).desk_id == "antifraud"
    assert _opens(office, _everything(office, office.sign_in("ana")), w["b"].case_id)
    assert not _opens(office, _everything(office, office.sign_in("berta")), w["b"].case_id)
    # Carles stepped aside from A only: B opens for him now.
    assert _opens(office, _everything(office, office.sign_in("carles")), w["b"].case_id)


def test_reassigning_needs_a_manager(office, two_desks) -> None:  # type: ignore[no-untyped-def]
    w = two_desks
    with office.session() as session, pytest.raises(PermissionDeniedError):
        compartments.reassign(
            session,
            w["ana"].keyring,
            case_id=w["a2"].case_id,
            desk_id="ethics",
            by_officer_id=w["ana"].officer_id,
            now=_now(office),
        )


def test_an_officer_in_no_desk_sees_no_case(office, two_desks) -> None:  # type: ignore[no-untyped-def]
    nobody = add_officer_in(office, "dani", [])
    assert listed_cases(office, nobody) == set()
    with office.session() as session:
        board = dashboard.dashboard(session, nobody.keyring, today=TODAY)
        assert board.rows == []
        assert board.total_attention == 0
        with pytest.raises(CaseLockedError):
            case_detail(session, nobody.keyring, two_desks["a"].case_id, today=TODAY)
    for case_id in (two_desks["a"].case_id, two_desks["b"].case_id):
        assert not _opens(office, _everything(office, nobody), case_id)


def test_a_custodian_in_the_desk_still_needs_the_recorded_decision(office, two_desks) -> None:  # type: ignore[no-untyped-def]
    from tests.inbox.test_web import _add_custodian

    _add_custodian(office, ("officer", "custodian"))
    carla = office.sign_in("carla")
    case_id = two_desks["a2"].case_id
    with office.session() as session:
        assert case_detail(session, carla.keyring, case_id, today=TODAY).entries  # in the desk
        with pytest.raises(DisclosureRequiredError):
            identification(
                session,
                carla.keyring,
                case_id,
                officer_id=carla.officer_id,
                roles=carla.roles,
                custodian=carla.custodian_keyring,
                now=_now(office),
            )
    with office.session() as session:
        decide_disclosure(
            session,
            carla.keyring,
            case_id,
            "A court order asks for it.",
            ctx=OfficerContext(officer_id=carla.officer_id, now=_now(office), today=TODAY),
            roles=carla.roles,
            custodian=carla.custodian_keyring,
        )
        shown = identification(
            session,
            carla.keyring,
            case_id,
            officer_id=carla.officer_id,
            roles=carla.roles,
            custodian=carla.custodian_keyring,
            now=_now(office),
        )
    assert shown.refused is None


def test_a_custodian_in_no_desk_opens_the_identification_only(office, two_desks) -> None:  # type: ignore[no-untyped-def]
    from tests.inbox.test_web import _add_custodian

    _add_custodian(office)
    carla = office.sign_in("carla")
    case_id = two_desks["b"].case_id
    assert not _opens(office, _everything(office, carla), case_id)
    with office.session() as session:
        decide_disclosure(
            session,
            carla.keyring,
            case_id,
            "A court order asks for it.",
            ctx=OfficerContext(officer_id=carla.officer_id, now=_now(office), today=TODAY),
            roles=carla.roles,
            custodian=carla.custodian_keyring,
        )
        shown = identification(
            session,
            carla.keyring,
            case_id,
            officer_id=carla.officer_id,
            roles=carla.roles,
            custodian=carla.custodian_keyring,
            now=_now(office),
        )
    assert shown.refused is None
    assert listed_cases(office, carla) == set()


def test_the_recovery_key_opens_every_desk(office, two_desks) -> None:  # type: ignore[no-untyped-def]
    from whistle.inbox.officers import open_with_recovery_key

    with office.session() as session:
        recovered = open_with_recovery_key(session, office.created.recovery_key)
        assert (
            session.scalar(select(Office.recovery_public_key)) == recovered.keyring.personal_public
        )
    signed = SignedIn(0, "recovery", (), recovered.keyring, None)
    secrets = _everything(office, signed)
    for case in ("a", "a2", "b"):
        assert _opens(office, secrets, two_desks[case].case_id)


def test_the_desk_index_forgets_a_case_someone_stepped_aside_from(office, two_desks) -> None:  # type: ignore[no-untyped-def]
    w = two_desks
    a2 = w["a2"].case_id
    assert listed_cases(office, w["carles"], "canteen") == {a2}  # the desk's index now holds it
    with office.session() as session:
        compartments.recuse(
            session,
            w["carles"].keyring,
            case_id=a2,
            officer_name="carles",
            by_officer_id=w["carles"].officer_id,
            reason="I was at school with the reporter.",
            now=_now(office),
        )
    carles = office.sign_in("carles")
    # At once, before anyone searches again: no index row his secrets open holds the text.
    secrets = _everything(office, carles)
    with office.session() as session:
        blobs = [r.blob for r in session.scalars(select(DeskSearch))]
        blobs += [r.blob for r in session.scalars(select(CaseSearch))]
    for blob in blobs:
        for case_id in ("00" * 16, a2):
            with contextlib.suppress(CryptoError):
                message = open_bytes(
                    blob, secrets, associated_data(sealing.INDEX, bytes.fromhex(case_id))
                )
                assert "canteen" not in message.part("text").text
    assert listed_cases(office, carles, "canteen") == set()
    assert listed_cases(office, office.sign_in("ana"), "canteen") == {a2}


def test_the_last_member_of_a_desk_cannot_be_removed_as_an_officer(office, two_desks) -> None:  # type: ignore[no-untyped-def]
    from whistle.inbox.officers import remove_officer

    admin = office.sign_in()
    with office.session() as session:
        compartments.remove_member(
            session,
            desk_id="ethics",
            name="admin",
            by_officer_id=admin.officer_id,
            now=_now(office),
        )
    with office.session() as session, pytest.raises(LastMemberError):
        remove_officer(session, office.config, by_officer_id=admin.officer_id, name="berta")
    assert listed_cases(office, office.sign_in("berta")) == {two_desks["b"].case_id}
    with office.session() as session:  # ana is not the last of antifraud: she goes, keys rotate
        remove_officer(session, office.config, by_officer_id=admin.officer_id, name="ana")
    assert _opens(office, _everything(office, office.sign_in("carles")), two_desks["a2"].case_id)
    assert _opens(office, _everything(office, admin), two_desks["a"].case_id)


def test_case_keys_open_at_once_exactly_what_each_case_opens(office, two_desks) -> None:  # type: ignore[no-untyped-def]
    w = two_desks
    with office.session() as session:
        case_ids = list(session.scalars(select(Case.id)))
        for name in ("ana", "berta", "carles"):
            keyring = w[name].keyring
            one_by_one = {}
            for case_id in case_ids:
                with contextlib.suppress(CaseLockedError):
                    one_by_one[case_id] = compartments.case_secrets(session, keyring, case_id)
            cache: dict = {}
            assert compartments.case_keys(session, keyring, case_ids, cache) == one_by_one, name
            # What it puts in the cache is what one case's look-up would find there.
            for case_id in one_by_one:
                assert (
                    compartments.case_secrets(session, keyring, case_id, cache)
                    == (one_by_one[case_id])
                )


def test_a_search_after_an_import_opens_only_the_new_cases_key(  # type: ignore[no-untyped-def]
    office, two_desks, monkeypatch
) -> None:
    w = two_desks
    ana = w["ana"]
    cache: dict = {}
    with office.session() as session:
        page = list_cases(
            session,
            ana.keyring,
            CaseFilters(query="canteen"),
            today=TODAY,
            page_size=50,
            cache=cache,
        )
    assert [c.id for c in page.cases] == [w["a2"].case_id]
    new, env = make_submission(office, description="asphalt bought twice")
    do_import(office, [incoming("submission", new.case_id, env)])
    opened: list[str] = []
    real = compartments.open_grant

    def counting(grant: bytes, secret: bytes, context: str, public: bytes, **kw: bytes) -> bytes:
        opened.append(context)
        return real(grant, secret, context, public, **kw)

    monkeypatch.setattr(compartments, "open_grant", counting)
    with office.session() as session:
        page = list_cases(
            session,
            ana.keyring,
            CaseFilters(query="asphalt"),
            today=TODAY,
            page_size=50,
            cache=cache,
        )
    assert [c.id for c in page.cases] == [new.case_id]
    assert opened == [f"case/{new.case_id}/1"]  # not every case key of every desk again
    assert listed_cases(office, w["berta"], "asphalt") == set()


def test_a_damaged_entry_of_a_case_granted_by_name_is_rebuilt(office, two_desks) -> None:  # type: ignore[no-untyped-def]
    w = two_desks
    a = w["a"].case_id  # granted by name since carles stepped aside: its own entry
    assert listed_cases(office, w["ana"], "pylon") == {a}
    with office.session() as session:
        row = session.get(CaseSearch, a)
        assert row is not None
        row.blob = b"\x00"
    assert listed_cases(office, w["ana"], "pylon") == {a}
    with office.session() as session:
        row = session.get(CaseSearch, a)
        assert row is not None
        assert row.blob != b"\x00"
    assert listed_cases(office, w["carles"], "pylon") == set()


def _remove(office, signed: SignedIn, desk_id: str = "ethics", **options):  # type: ignore[no-untyped-def]
    with office.session() as session:
        return compartments.remove_desk(
            session,
            signed.keyring,
            desk_id=desk_id,
            successor_id=options.get("successor_id", "antifraud"),
            move_cases=options.get("move_cases", False),
            by_officer_id=signed.officer_id,
            now=_now(office),
        )


def _desk_state(office, desk_id: str) -> tuple:  # type: ignore[no-untyped-def,type-arg]
    """Everything that says a desk exists: card, keys, members, cases, audit length."""
    with office.session() as session:
        return (
            [d.id for d in epochs.current_card(session).desks],
            epochs.current_epoch(session),
            session.scalar(select(func.count()).where(Compartment.desk_id == desk_id)),
            session.scalar(select(func.count()).where(DeskGrant.desk_id == desk_id)),
            session.scalar(select(func.count()).where(DeskMember.desk_id == desk_id)),
            sorted(session.scalars(select(Case.id).where(Case.desk_id == desk_id))),
            session.scalar(select(func.count()).select_from(AuditEvent)),
        )


def test_a_desk_with_cases_is_not_removed_and_nothing_changes(office, two_desks) -> None:  # type: ignore[no-untyped-def]
    admin = office.sign_in()
    before = _desk_state(office, "ethics")
    with pytest.raises(DeskHasCasesError) as refused:
        _remove(office, admin)
    assert (refused.value.cases, refused.value.open_cases) == (1, 1)
    for successor in ("ethics", "nowhere"):
        with pytest.raises(SuccessorDeskError):
            _remove(office, admin, successor_id=successor, move_cases=True)
    with pytest.raises(PermissionDeniedError):  # ana is no manager
        _remove(office, two_desks["ana"], move_cases=True)
    assert _desk_state(office, "ethics") == before


def test_moving_needs_keys_that_open_every_case(office, two_desks) -> None:  # type: ignore[no-untyped-def]
    """A manager of antifraud only cannot move ethics's case: refused, nothing moved."""
    mar = add_officer_in(office, "mar", ["antifraud"], roles=("officer", "manager"))
    before = _desk_state(office, "ethics")
    with pytest.raises(DeskCasesLockedError) as refused:
        _remove(office, mar, move_cases=True)
    assert refused.value.locked == 1
    assert _desk_state(office, "ethics") == before


def test_removing_a_desk_moves_its_cases_and_destroys_its_keys(office, two_desks) -> None:  # type: ignore[no-untyped-def]
    w = two_desks
    b = w["b"].case_id
    epoch = _desk_state(office, "ethics")[1]
    done = _remove(office, office.sign_in(), move_cases=True)
    assert (done.moved, done.epoch) == (1, epoch + 1)
    cards, now_epoch, kept, grants, members, cases, _ = _desk_state(office, "ethics")
    assert cards == ["antifraud"]  # the card the server gets no longer offers it
    assert now_epoch == epoch + 1
    assert cases == []
    # By key: antifraud's members open the moved case, berta (ethics only) does not.
    assert _opens(office, _everything(office, office.sign_in("ana")), b)
    berta = office.sign_in("berta")
    assert not _opens(office, _everything(office, berta), b)
    # The previous epoch's ethics key is live (records may be in transit): the desk's own
    # keys wait for it, with its members.
    assert kept
    assert grants
    assert members == 2
    with office.session() as session:
        assert session.get(Case, b).desk_id == "antifraud"
        assert session.get(RemovedDesk, "ethics").successor_id == "antifraud"
        assert session.get(RemovedDesk, "ethics").keys_destroyed_at is None
        events = {e.action: e.detail for e in session.scalars(select(AuditEvent))}
    assert "1 case(s) moved to antifraud" in events["desk-removed"]
    assert "members were admin, berta" in events["desk-removed"]
    # Once that epoch's keys are destroyed, nothing can be on its way: the desk's keys go.
    with office.session() as session:
        epochs.destroy(session, epoch, _now(office))
    cards, now_epoch, kept, grants, members, cases, _ = _desk_state(office, "ethics")
    assert (kept, grants, members) == (0, 0, 0)
    with office.session() as session:
        assert compartments.open_desks(session, berta.keyring).desks == {}
        assert session.get(RemovedDesk, "ethics").keys_destroyed_at is not None
        events = {e.action: e.detail for e in session.scalars(select(AuditEvent))}
    assert "generation(s) destroyed; members were admin, berta" in events["desk-keys-destroyed"]
    # Gone for good: the desk cannot be administered or removed again.
    with office.session() as session, pytest.raises(DeskError):
        compartments.add_member(
            session,
            office.sign_in().keyring,
            desk_id="ethics",
            name="ana",
            by_officer_id=1,
            now=_now(office),
        )
    with pytest.raises(LastDeskError):
        _remove(office, office.sign_in(), "antifraud", successor_id="ethics")


def test_the_last_member_of_a_removed_desk_can_still_be_removed_as_an_officer(  # type: ignore[no-untyped-def]
    office, two_desks
) -> None:
    """Berta is the only officer left at ethics besides admin; once ethics is removed, its keys
    wait only for records in transit, so no last-member rule holds anyone back."""
    admin = office.sign_in()
    _remove(office, admin, move_cases=True)
    with office.session() as session:
        compartments.forget_officer(session, two_desks["berta"].officer_id, _now(office))
        compartments.forget_officer(session, admin.officer_id, _now(office))
        assert compartments.members(session, "ethics") == []


def test_a_report_still_on_its_way_to_a_removed_desk_goes_to_its_successor(
    office, two_desks
) -> None:  # type: ignore[no-untyped-def]
    _remove(office, office.sign_in(), move_cases=True)
    # Sealed to the ethics key of the previous card, which the server still accepts a while.
    late, env = make_submission(office, desk="ethics", description="sent before the new card")
    do_import(office, [incoming("submission", late.case_id, env, "late")])
    with office.session() as session:
        assert session.get(Case, late.case_id).desk_id == "antifraud"
        event = session.scalars(
            select(AuditEvent).where(AuditEvent.action == "case-to-successor-desk")
        ).one()
    assert event.case_id == late.case_id
    assert _opens(office, _everything(office, office.sign_in("ana")), late.case_id)
    assert not _opens(office, _everything(office, office.sign_in("berta")), late.case_id)


def test_a_case_someone_stepped_aside_from_stays_closed_to_them_after_its_desk_goes(  # type: ignore[no-untyped-def]
    office, two_desks
) -> None:
    """Carles stepped aside from A; antifraud is removed into ethics, where he is a member
    too: A moves with its keys, and his own keys still do not open it."""
    w = two_desks
    admin = office.sign_in()
    with office.session() as session:
        compartments.add_member(
            session,
            admin.keyring,
            desk_id="ethics",
            name="carles",
            by_officer_id=admin.officer_id,
            now=_now(office),
        )
    done = _remove(office, admin, "antifraud", successor_id="ethics", move_cases=True)
    assert done.moved == 2
    carles = office.sign_in("carles")
    assert not _opens(office, _everything(office, carles), w["a"].case_id)
    assert _opens(office, _everything(office, carles), w["a2"].case_id)
    assert listed_cases(office, carles) == {w["a2"].case_id, w["b"].case_id}
    berta = office.sign_in("berta")
    assert listed_cases(office, berta) == {w["a"].case_id, w["a2"].case_id, w["b"].case_id}
    assert _opens(office, _everything(office, berta), w["a"].case_id)
    assert not _opens(office, _everything(office, office.sign_in("ana")), w["a2"].case_id)
