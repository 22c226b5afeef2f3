"""The command line for officers joining and leaving, and a forgotten password."""

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from whistle.cli import main
from whistle.inbox.config import insecure_password_hash
from whistle.inbox.models import Officer

from .conftest import PASSWORD, do_import, incoming, make_submission

NEW_PASSWORD = "another long passphrase here"


@pytest.fixture
def obj(insecure_kdf_params, clock):
    return {
        "config": {
            "kdf_params": insecure_kdf_params,
            "password_hash": insecure_password_hash(),
            "clock": clock,
        }
    }


@pytest.fixture
def files(tmp_path, office):
    def write(name: str, text: str):  # type: ignore[no-untyped-def]
        path = tmp_path / name
        path.write_text(text + "\n")
        return str(path)

    return {
        "admin": write("admin-password", PASSWORD),
        "new": write("new-password", NEW_PASSWORD),
        "recovery": write("recovery", office.created.recovery_key),
        "wrong-recovery": write("wrong-recovery", "B" + office.created.recovery_key[1:]),
    }


def run(obj, *args):  # type: ignore[no-untyped-def]
    return CliRunner().invoke(main, ["inbox", *args], obj=obj)


def test_add_list_remove(office, obj, files) -> None:
    source, envelope = make_submission(office, subject="Kickbacks")
    do_import(office, [incoming("submission", source.case_id, envelope)])
    directory = str(office.config.data_dir)
    me = ["--officer", "admin", "--password-file", files["admin"]]
    added = run(
        obj, "add-officer", directory, "--name", "berta", "--new-password-file", files["new"], *me
    )
    assert added.exit_code == 0, added.output
    assert "berta added (officer)" in added.output
    berta = ["--officer", "berta", "--password-file", files["new"]]
    listed = run(obj, "list", directory, *berta)
    assert listed.exit_code == 0, listed.output
    assert source.case_id in listed.output
    assert "Kickbacks" in listed.output
    # berta is no manager: she cannot add or remove anyone.
    refused = run(
        obj, "add-officer", directory, "--name", "x", "--new-password-file", files["new"], *berta
    )
    assert refused.exit_code == 1
    assert "Only a system manager" in refused.output
    assert "Traceback" not in refused.output
    refused = run(obj, "remove-officer", directory, "admin", "--yes", *berta)
    assert refused.exit_code == 1
    assert "Only a system manager" in refused.output
    removed = run(obj, "remove-officer", directory, "berta", "--yes", *me)
    assert removed.exit_code == 0, removed.output
    assert "whistle inbox rotate-keys" in removed.output
    assert "copied" in removed.output
    gone = run(obj, "list", directory, *berta)
    assert gone.exit_code == 1
    assert "Wrong name or password" in gone.output
    officers = run(obj, "officers", directory, *me)
    assert "berta\tremoved" in officers.output
    assert "admin\tofficer, manager" in officers.output
    audit = run(obj, "verify-audit", directory)
    assert audit.exit_code == 0, audit.output


def test_last_manager_refused(office, obj, files) -> None:
    me = ["--officer", "admin", "--password-file", files["admin"]]
    result = run(obj, "remove-officer", str(office.config.data_dir), "admin", "--yes", *me)
    assert result.exit_code == 1
    assert "last manager" in result.output


def test_add_custodian_with_the_recovery_key(office, obj, files) -> None:
    directory = str(office.config.data_dir)
    me = ["--officer", "admin", "--password-file", files["admin"]]
    base = ["add-officer", directory, "--name", "carla", "--role", "custodian"]
    base += ["--new-password-file", files["new"], *me]
    refused = run(obj, *base)
    assert refused.exit_code == 1
    assert "custodian" in refused.output
    added = run(obj, *base, "--recovery-key-file", files["recovery"])
    assert added.exit_code == 0, added.output
    assert office.sign_in("carla", NEW_PASSWORD).custodian_keyring is not None


def test_reset_password(office, obj, files) -> None:
    directory = str(office.config.data_dir)
    wrong = run(
        obj,
        "reset-password",
        directory,
        "admin",
        "--recovery-key-file",
        files["wrong-recovery"],
        "--new-password-file",
        files["new"],
    )
    assert wrong.exit_code == 1
    assert "not a recovery key" in wrong.output
    assert "Nothing was changed" in wrong.output
    office.sign_in()
    done = CliRunner().invoke(
        main,
        ["inbox", "reset-password", directory, "admin"],
        obj=obj,
        input=f"{office.created.recovery_key}\n{NEW_PASSWORD}\n{NEW_PASSWORD}\n",
    )
    assert done.exit_code == 0, done.output
    assert office.created.recovery_key not in done.output
    assert office.sign_in(password=NEW_PASSWORD).name == "admin"


def test_set_roles(office, obj, files) -> None:
    directory = str(office.config.data_dir)
    me = ["--officer", "admin", "--password-file", files["admin"]]
    run(obj, "add-officer", directory, "--name", "berta", "--new-password-file", files["new"], *me)
    result = run(
        obj, "set-roles", directory, "berta", "--role", "officer", "--role", "manager", *me
    )
    assert result.exit_code == 0, result.output
    assert office.sign_in("berta", NEW_PASSWORD).roles == ("officer", "manager")


def test_security_keys_at_the_command_line(office, obj, files) -> None:
    """An officer with security keys: the CLI refuses to sign them in and says where to go;
    the recovery key lists and removes their keys (not the last), reset-password removes all."""
    from whistle.crypto import prf_wrapping_key
    from whistle.inbox.officers import check_password, enrol_security_key
    from whistle.inbox.security_keys import CheckedKey

    factor = None
    for label, credential in (("blue key", b"cred-a"), ("spare key", b"cred-b")):
        with office.session() as session:
            admin = check_password(session, office.config, "admin", PASSWORD)
            factor = enrol_security_key(
                session,
                office.config,
                officer_id=admin.id,
                password=PASSWORD,
                factor=factor,
                label=label,
                checked=CheckedKey(
                    credential,
                    b"cose",
                    1,
                    b"\x05" * 32,
                    prf_wrapping_key(credential * 5 + b"\x00\x00"),
                ),
            )
    directory = str(office.config.data_dir)
    refused = run(
        obj, "officers", directory, "--officer", "admin", "--password-file", files["admin"]
    )
    assert refused.exit_code == 1
    assert "command line cannot use a security key" in refused.output
    assert "reset-password" in refused.output

    listed = run(obj, "security-keys", directory, "admin", "--recovery-key-file", files["recovery"])
    assert listed.exit_code == 0, listed.output
    lines = listed.output.splitlines()
    assert [line.split("\t")[1] for line in lines] == ["blue key", "spare key"]
    first, second = (line.split("\t")[0] for line in lines)
    wrong = run(
        obj,
        "remove-security-key",
        directory,
        "admin",
        first,
        "--recovery-key-file",
        files["wrong-recovery"],
    )
    assert wrong.exit_code == 1
    assert "Nothing was changed" in wrong.output
    removed = run(
        obj,
        "remove-security-key",
        directory,
        "admin",
        first,
        "--recovery-key-file",
        files["recovery"],
    )
    assert removed.exit_code == 0, removed.output
    assert "blue key" in removed.output
    last = run(
        obj,
        "remove-security-key",
        directory,
        "admin",
        second,
        "--recovery-key-file",
        files["recovery"],
    )
    assert last.exit_code == 1
    assert "last security key" in last.output
    assert "reset-password" in last.output
    unknown = run(
        obj,
        "remove-security-key",
        directory,
        "admin",
        first,
        "--recovery-key-file",
        files["recovery"],
    )
    assert unknown.exit_code == 1
    assert "No such security key" in unknown.output

    reset = run(
        obj,
        "reset-password",
        directory,
        "admin",
        "--recovery-key-file",
        files["recovery"],
        "--new-password-file",
        files["new"],
    )
    assert reset.exit_code == 0, reset.output
    assert "no security key" in reset.output
    assert office.sign_in(password=NEW_PASSWORD).name == "admin"
    none = run(obj, "security-keys", directory, "admin", "--recovery-key-file", files["recovery"])
    assert "has no security key" in none.output


def test_settings_require_security_keys(office, obj, files) -> None:
    directory = str(office.config.data_dir)
    sign_in = ("--officer", "admin", "--password-file", files["admin"])
    shown = run(obj, "settings", directory, *sign_in)
    assert "Security keys: each officer chooses" in shown.output
    changed = run(obj, "settings", directory, "--require-security-keys", *sign_in)
    assert changed.exit_code == 0, changed.output
    assert "Security keys: required for every officer" in changed.output
    back = run(obj, "settings", directory, "--security-keys-optional", *sign_in)
    assert "Security keys: each officer chooses" in back.output


def test_add_officer_chooses_desks(office, obj, files) -> None:
    directory = str(office.config.data_dir)
    me = ["--officer", "admin", "--password-file", files["admin"]]
    new = ["--new-password-file", files["new"], *me]
    both = run(
        obj, "add-officer", directory, "--name", "berta", "--desk", "nowhere", "--no-desk", *new
    )
    assert both.exit_code != 0
    assert "not both" in both.output
    unknown = run(obj, "add-officer", directory, "--name", "berta", "--desk", "nowhere", *new)
    assert unknown.exit_code == 1
    assert "There is no desk 'nowhere'" in unknown.output
    one = run(obj, "add-officer", directory, "--name", "berta", "--desk", "ethics", *new)
    assert one.exit_code == 0, one.output
    assert "Desks: ethics." in one.output
    default = run(obj, "add-officer", directory, "--name", "carles", *new)
    assert "Desks: antifraud, ethics." in default.output  # the desks whose keys admin holds
    none = run(obj, "add-officer", directory, "--name", "dani", "--no-desk", *new)
    assert "In no desk: they open no case" in none.output
    manager = run(
        obj,
        "add-officer",
        directory,
        "--name",
        "eli",
        "--role",
        "manager",
        "--desk",
        "ethics",
        *new,
    )
    assert manager.exit_code == 1
    assert "Only officers handle cases" in manager.output
    with office.session() as session:
        names = set(session.scalars(select(Officer.name)))
    assert names == {"admin", "berta", "carles", "dani"}  # nothing half-added
