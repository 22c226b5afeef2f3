"""Records held back, in the inbox alone: the custodian imports like an officer in no desk, and
a held record whose case was deleted since (the list of deletions applied again after a
restore) is dropped, not filed; what waits for a desk removed since is told by its name."""

import dataclasses
import re
from datetime import date

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from whistle.cli import main
from whistle.inbox import compartments, create_app, held_back
from whistle.inbox.bundles import file_held_back
from whistle.inbox.config import NAMES_FILE, load_names
from whistle.inbox.epochs import EpochKeys
from whistle.inbox.models import Case, Outgoing, Record, Tombstone
from whistle.inbox.officers import SignedIn
from whistle.inbox.store import _Importer, import_records
from whistle.inbox.web import LANG_COOKIE
from whistle.inbox.workflow import purge_case

from .conftest import add_officer_in, incoming, make_followup, make_submission
from .test_cli import obj, password_file  # noqa: F401 - fixtures
from .test_desks import _remove
from .test_web import _add_custodian, login


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


def _hold_followup_of_a2(office, w) -> None:  # type: ignore[no-untyped-def]
    """berta (ethics) imports a follow-up of A2 (antifraud): it is held for antifraud."""
    followup = make_followup(office, w["a2"], "one more thing")
    _import(office, w["berta"], [incoming("followup", w["a2"].case_id, followup, "f1")])
    with office.session() as session:
        assert [row.record_id for row in held_back.rows(session)] == ["f1"]


def test_a_held_follow_up_waits_for_its_case_desk_as_it_is_now(office, two_desks) -> None:  # type: ignore[no-untyped-def]
    """The case moved to ethics after its follow-up was held for antifraud: ethics is told,
    and its member files it at sign-in."""
    admin = office.sign_in()  # before the import: admin's sign-in would file it at once
    _hold_followup_of_a2(office, two_desks)
    with office.session() as session:
        compartments.reassign(
            session,
            admin.keyring,
            case_id=two_desks["a2"].case_id,
            desk_id="ethics",
            by_officer_id=admin.officer_id,
            now=office.config.clock(),
        )
    with office.session() as session:
        [group] = held_back.waiting(session)
        assert group.desks == ("Ethics desk",)
    office.sign_in("berta")
    with office.session() as session:
        assert held_back.count(session) == 0
        kinds = session.scalars(
            select(Record.kind).where(Record.case_id == two_desks["a2"].case_id)
        ).all()
        assert sorted(kinds) == ["followup", "submission"]


def test_deleting_a_case_deletes_its_held_follow_ups(office, two_desks) -> None:  # type: ignore[no-untyped-def]
    admin = office.sign_in()
    _hold_followup_of_a2(office, two_desks)
    with office.session() as session:
        purge_case(
            session,
            admin.keyring,
            two_desks["a2"].case_id,
            confirm=True,
            reason="Entered by mistake.",
            officer_id=admin.officer_id,
            now=office.config.clock(),
            today=office.config.today(),
            store_dir=office.config.store_dir,
        )
    with office.session() as session:
        assert held_back.count(session) == 0


def test_a_desk_counts_as_tried_only_for_the_epochs_whose_key_the_importer_holds() -> None:
    """A report sealed to ethics' key of epoch 4, imported by someone holding ethics' key of
    epoch 5 only, was not tried by ethics: it must be held, not refused (which would delete
    it on the server)."""
    keys = [
        EpochKeys(4, {"antifraud": bytes(32)}, bytes(32)),
        EpochKeys(5, {"antifraud": bytes(32), "ethics": bytes(32)}, bytes(32)),
    ]
    importer = _Importer(keys, {"antifraud", "ethics"}, {"antifraud", "ethics"})
    assert importer.tried(4) == {"antifraud"}
    assert importer.tried(5) == {"antifraud", "ethics"}
    assert importer.tried(None) == {"antifraud", "ethics"}


def _held_for_a_removed_desk(office) -> None:  # type: ignore[no-untyped-def]
    """ana (antifraud) imports a report for ethics: it is held. Then mar, a manager of
    antifraud only (so her sign-ins file nothing for ethics), removes ethics: its key of
    the previous epoch is live, so the report still waits for the removed desk's members."""
    mar = add_officer_in(office, "mar", ["antifraud"], roles=("officer", "manager"))
    ana = add_officer_in(office, "ana", ["antifraud"])
    source, envelope = make_submission(office, desk="ethics")
    assert len(_import(office, ana, [incoming("submission", source.case_id, envelope)]).held) == 1
    _remove(office, mar)


@pytest.mark.parametrize(
    ("lang", "shown"),
    [("en", "Ethics desk"), ("ca", "Unitat d'Ètica"), ("es", "Unidad de Ética")],
)
def test_the_bundles_page_names_a_removed_desk_in_the_officers_language(
    office, lang: str, shown: str
) -> None:  # type: ignore[no-untyped-def]
    (office.config.data_dir / NAMES_FILE).write_text(
        '[desk_names.ethics]\nca = "Unitat d\'Ètica"\nes = "Unidad de Ética"\n'
    )
    config = dataclasses.replace(office.config, names=load_names(office.config.data_dir))
    _held_for_a_removed_desk(office)
    client = create_app(config).test_client()
    client.set_cookie(LANG_COOKIE, lang)
    login(client, "ana")
    page = client.get("/bundles/").get_data(as_text=True)
    listed = re.search(r'id="held-back">.*?<ul>(.*?)</ul>', page, re.S)
    assert listed is not None
    assert shown in listed.group(1).replace("&#39;", "'")
    assert "ethics" not in listed.group(1)
    with office.session() as session:
        assert held_back.count(session) == 1  # still held: ana is not in the desk


def test_the_command_line_names_a_removed_desk(office, obj, password_file) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    _held_for_a_removed_desk(office)
    result = CliRunner().invoke(
        main,
        [
            "inbox",
            "file-held",
            str(office.config.data_dir),
            "--officer",
            "ana",
            "--password-file",
            str(password_file),
        ],
        obj=obj,
    )
    assert result.exit_code == 0, result.output
    assert "1 report(s) and 0 follow-up(s) for the desk Ethics desk wait" in result.output
