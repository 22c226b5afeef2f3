"""The command line of part 2: verify-audit, reply, register, export / open-referral."""

import sqlite3
import zipfile

from click.testing import CliRunner

from whistle.cli import main

from .conftest import Office, do_import, incoming, make_submission
from .test_cli import obj, password_file  # noqa: F401 - fixtures


def _case(office: Office) -> str:
    source, envelope = make_submission(office, files=[("ledger.csv", b"a,b\n")])
    do_import(office, [incoming("submission", source.case_id, envelope)])
    return source.case_id


def test_verify_audit_names_the_first_broken_entry(office: Office, obj) -> None:  # noqa: F811
    _case(office)
    data_dir = str(office.config.data_dir)
    good = CliRunner().invoke(main, ["inbox", "verify-audit", data_dir], obj=obj)
    assert good.exit_code == 0, good.output
    assert "intact" in good.output
    db = sqlite3.connect(office.config.database_path)
    db.execute("DROP TRIGGER audit_event_no_update")
    db.execute("UPDATE audit_event SET detail = 'edited' WHERE id = 2")
    db.commit()
    db.close()
    bad = CliRunner().invoke(main, ["inbox", "verify-audit", data_dir], obj=obj)
    assert bad.exit_code == 1
    assert "entry #2" in bad.output


def test_reply_from_the_terminal(office: Office, obj, password_file, tmp_path) -> None:  # noqa: F811
    case = _case(office)
    text = tmp_path / "reply.txt"
    text.write_text("Thank you, we are checking the invoices.\n", encoding="utf-8")
    base = ["--officer", "admin", "--password-file", str(password_file)]
    data_dir = str(office.config.data_dir)
    done = CliRunner().invoke(
        main, ["inbox", "reply", data_dir, case[:10], "--text-file", str(text), *base], obj=obj
    )
    assert done.exit_code == 0, done.output
    assert "queued" in done.output
    shown = CliRunner().invoke(main, ["inbox", "show", data_dir, case, *base], obj=obj)
    assert "we are checking the invoices" in shown.output
    empty = tmp_path / "empty.txt"
    empty.write_text("  \n")
    refused = CliRunner().invoke(
        main, ["inbox", "reply", data_dir, case, "--text-file", str(empty), *base], obj=obj
    )
    assert refused.exit_code == 1
    assert "Write the reply" in refused.output


def test_register_and_referral(office: Office, obj, password_file, tmp_path) -> None:  # noqa: F811
    case = _case(office)
    base = ["--officer", "admin", "--password-file", str(password_file)]
    data_dir = str(office.config.data_dir)
    csv_path = tmp_path / "register.csv"
    done = CliRunner().invoke(
        main, ["inbox", "register", data_dir, "--out", str(csv_path), *base], obj=obj
    )
    assert done.exit_code == 0, done.output
    assert case in csv_path.read_text()
    passphrase = tmp_path / "passphrase"
    passphrase.write_text("a long referral passphrase\n")
    package = tmp_path / "case.wref"
    done = CliRunner().invoke(
        main,
        [
            "inbox",
            "export-case",
            data_dir,
            case,
            "--out",
            str(package),
            "--passphrase-file",
            str(passphrase),
            *base,
        ],
        obj=obj,
    )
    assert done.exit_code == 0, done.output
    opened = tmp_path / "case.zip"
    done = CliRunner().invoke(
        main,
        [
            "inbox",
            "open-referral",
            str(package),
            "--out",
            str(opened),
            "--passphrase-file",
            str(passphrase),
        ],
    )
    assert done.exit_code == 0, done.output
    assert zipfile.ZipFile(opened).read("files/001-ledger.csv") == b"a,b\n"
