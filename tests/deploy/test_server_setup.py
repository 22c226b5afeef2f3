"""`whistle server setup` against a fresh root directory: what it writes, that systemd and tor
accept it, that the written site starts, that a second run changes nothing, and what it refuses.
"""

import base64
import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner, Result

from tests.deploy.gunicorn_server import gunicorn
from tests.deploy.torrc import directives, rewrite
from tests.deploy.units import unit_settings
from tests.submit.conftest import Office, make_office
from whistle.cli import main
from whistle.submit.server_setup import TOR_INCLUDE, account

COURIER_KEY = base64.b32encode(bytes(range(32))).decode().rstrip("=")


@pytest.fixture
def root(tmp_path: Path) -> Path:
    """A fresh root with what a bare Debian 12 has that the command reads: accounts, os-release."""
    fresh = tmp_path / "root"
    (fresh / "etc").mkdir(parents=True)
    for name in ("passwd", "group", "shadow", "gshadow", "os-release"):
        shutil.copy2(f"/etc/{name}", fresh / "etc" / name)
    return fresh


@pytest.fixture(scope="module")
def office() -> Office:
    return make_office()


def setup(root: Path, *args: str) -> Result:
    return CliRunner().invoke(main, ["server", "setup", "--root", str(root), *args])


def first_setup(root: Path, office: Office, tmp_path: Path, *args: str) -> Result:
    card = tmp_path / "office.card"
    card.write_bytes(office.card)
    result = setup(root, "--office-card", str(card), "--fingerprint", office.fingerprint, *args)
    assert result.exit_code == 0, result.output
    return result


def snapshot(root: Path) -> dict[str, tuple[int, int, int, int]]:
    """Every path under ``root`` with its mode, owner, size and (files) modification time.

    A directory's time is left out: the start-up check writes and removes a probe file in the
    data directory, as the site does at every start.
    """
    found = {}
    for path in sorted(root.rglob("*")):
        st = path.lstat()
        mtime = 0 if stat.S_ISDIR(st.st_mode) else st.st_mtime_ns
        found[str(path.relative_to(root))] = (st.st_mode, st.st_uid, st.st_size, mtime)
    return found


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_setup_writes_the_server_with_private_modes_and_a_second_run_changes_nothing(
    root: Path, office: Office, tmp_path: Path
) -> None:
    result = first_setup(root, office, tmp_path)
    user = account(root, "whistle")
    assert user is not None
    passwd = (root / "etc/passwd").read_text()
    assert any(
        line.startswith("whistle:") and line.endswith(":/usr/sbin/nologin")
        for line in passwd.splitlines()
    )
    data = root / "var/lib/whistle"
    assert mode(data) == 0o700
    for path in (data, *data.iterdir()):
        assert (path.stat().st_uid, path.stat().st_gid) == (user.uid, user.gid), path
    for secret in ("server-signing.seed", "server-bundle.key", "install-salt", "pepper"):
        assert mode(data / secret) == 0o600
    assert mode(data / "submit.sqlite3") == 0o600
    assert "Server fingerprint: " in result.output
    assert (root / "usr/local/bin/whistle").readlink() == Path(sys.prefix) / "bin" / "whistle"

    before = snapshot(root)
    again = setup(root)
    assert again.exit_code == 0, again.output
    assert "Nothing to change: this server was already set up." in again.output
    assert "  changed:" not in again.output
    assert snapshot(root) == before


def test_a_changed_file_is_put_back_and_said(root: Path, office: Office, tmp_path: Path) -> None:
    first_setup(root, office, tmp_path)
    unit = root / "etc/systemd/system/whistle-submit.service"
    unit.write_text(unit.read_text().replace("ProtectSystem=strict", "ProtectSystem=no"))
    result = setup(root)
    assert result.exit_code == 0, result.output
    assert "changed:   /etc/systemd/system/whistle-submit.service" in result.output
    assert "ProtectSystem=strict" in unit.read_text()
    assert "Done: 1 change(s)." in result.output


def test_written_units_pass_systemd_analyze(root: Path, office: Office, tmp_path: Path) -> None:
    first_setup(root, office, tmp_path, "--courier-key", COURIER_KEY)
    units = sorted((root / "etc/systemd/system").iterdir())
    assert [unit.name for unit in units] == [
        "whistle-courier.service",
        "whistle-housekeeping.service",
        "whistle-housekeeping.timer",
        "whistle-submit.service",
    ]
    verify = subprocess.run(
        ["systemd-analyze", "verify", *map(str, units)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        check=False,
    )
    assert (verify.returncode, verify.stderr) == (0, "")
    services = [str(unit) for unit in units if unit.suffix == ".service"]
    security = subprocess.run(
        ["systemd-analyze", "security", "--offline=yes", "--threshold=15", *services],
        capture_output=True,
        text=True,
        check=False,
    )
    assert security.returncode == 0, security.stdout[-2000:]
    (command,) = unit_settings(root / "etc/systemd/system/whistle-submit.service")["ExecStart"]
    assert command.startswith(f"{sys.prefix}/bin/gunicorn --config /etc/whistle/gunicorn.conf.py ")


def tor_config(root: Path) -> str:
    """The torrc as tor reads it: /etc/tor/torrc with its %include expanded."""
    torrc = (root / "etc/tor/torrc").read_text()
    fragments = sorted((root / "etc/tor/torrc.d").glob("whistle-*.conf"))
    assert TOR_INCLUDE in torrc.splitlines()
    return torrc.replace(TOR_INCLUDE, "".join(path.read_text() for path in fragments))


def verify_tor(root: Path, tmp_path: Path) -> None:
    """tor --verify-config on the written torrc, its %include (a glob) read by tor itself; only
    the onion directories and the include's directory are moved into ``tmp_path``."""
    tor_dir, fragments = tmp_path / "tor", tmp_path / "torrc.d"
    tor_dir.mkdir(exist_ok=True)
    shutil.rmtree(fragments, ignore_errors=True)
    fragments.mkdir()
    written = sorted((root / "etc/tor/torrc.d").glob("whistle-*.conf"))
    for path in written:
        (fragments / path.name).write_text(rewrite(path.read_text(), tor_dir))
    torrc = tmp_path / "torrc"
    torrc.write_text(
        (root / "etc/tor/torrc")
        .read_text()
        .replace(TOR_INCLUDE, f"%include {fragments}/whistle-*.conf")
        + f"DataDirectory {tor_dir / 'data'}\n"
    )
    result = subprocess.run(
        ["tor", "--verify-config", "-f", str(torrc)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout[-2000:]
    assert result.stdout.count("Including configuration file") == len(written)


def test_courier_onion_is_written_only_with_its_client_key(
    root: Path, office: Office, tmp_path: Path
) -> None:
    first_setup(root, office, tmp_path)
    without = tor_config(root)
    dirs = [line for line in directives(without) if line.startswith("HiddenServiceDir")]
    assert dirs == ["HiddenServiceDir /var/lib/tor/whistle-source/"]
    assert not (root / "etc/systemd/system/whistle-courier.service").exists()
    verify_tor(root, tmp_path)

    result = setup(root, "--courier-key", COURIER_KEY)
    assert result.exit_code == 0, result.output
    auth = root / "var/lib/tor/whistle-courier/authorized_clients/office.auth"
    assert auth.read_text() == f"descriptor:x25519:{COURIER_KEY}\n"
    tor = account(root, "debian-tor")
    assert tor is not None
    assert (auth.stat().st_uid, mode(auth), mode(auth.parent)) == (tor.uid, 0o600, 0o700)
    assert (root / "etc/systemd/system/whistle-courier.service").exists()
    assert "courier_enabled = true" in (root / "var/lib/whistle/config.toml").read_text()
    with_courier = tor_config(root)
    assert "HiddenServiceDir /var/lib/tor/whistle-courier/" in directives(with_courier)
    verify_tor(root, tmp_path)


def test_the_written_site_starts_as_its_unit_says(
    root: Path, office: Office, tmp_path: Path
) -> None:
    """gunicorn with the written config and the written unit's app, on the written directory."""
    first_setup(root, office, tmp_path, "--language", "es")
    (command,) = unit_settings(root / "etc/systemd/system/whistle-submit.service")["ExecStart"]
    app_spec = command.split()[-1].strip("'").replace("/var/lib/whistle", f"{root}/var/lib/whistle")
    from tests.deploy.tor_network import free_port

    port = free_port(set())
    with gunicorn(
        app_spec, port, tmp_path / "gunicorn.log", config=root / "etc/whistle/gunicorn.conf.py"
    ):
        page = httpx.get(f"http://127.0.0.1:{port}/", timeout=10)
    assert page.status_code == 200
    assert "server" not in page.headers
    assert '<html lang="es"' in page.text


@pytest.mark.parametrize(
    ("os_release", "named"),
    [
        ('PRETTY_NAME="Ubuntu 24.04 LTS"\nID=ubuntu\nVERSION_ID="24.04"\n', "Ubuntu 24.04 LTS"),
        ('PRETTY_NAME="Debian GNU/Linux 11 (bullseye)"\nID=debian\nVERSION_ID="11"\n', "11"),
    ],
)
def test_refuses_an_unsupported_system_before_changing_anything(
    root: Path, office: Office, tmp_path: Path, os_release: str, named: str
) -> None:
    (root / "etc/os-release").write_text(os_release)
    card = tmp_path / "office.card"
    card.write_bytes(office.card)
    before = snapshot(root)
    result = setup(root, "--office-card", str(card), "--fingerprint", office.fingerprint)
    assert result.exit_code == 1
    assert named in result.output
    assert "supports Debian 12 only" in result.output
    assert snapshot(root) == before


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--fingerprint", "AAAA AAAA AAAA AAAA AAAA AAAA AAAA AAAA"], "fingerprint"),
        (["--courier-key", "not-a-key"], "--courier-key must be an x25519 public key"),
    ],
)
def test_bad_input_is_refused_before_anything_is_written(
    root: Path, office: Office, tmp_path: Path, args: list[str], message: str
) -> None:
    card = tmp_path / "office.card"
    card.write_bytes(office.card)
    before = snapshot(root)
    if "--fingerprint" not in args:
        args = [*args, "--fingerprint", office.fingerprint]
    result = setup(root, "--office-card", str(card), *args)
    assert result.exit_code == 1
    assert message in result.output
    assert snapshot(root) == before


def test_a_first_run_needs_the_office_card(root: Path) -> None:
    before = snapshot(root)
    result = setup(root)
    assert result.exit_code == 1
    assert "--office-card is needed the first time" in result.output
    assert snapshot(root) == before


def test_another_office_card_is_refused_on_a_set_up_server(
    root: Path, office: Office, tmp_path: Path
) -> None:
    first_setup(root, office, tmp_path)
    other = make_office()
    card = tmp_path / "other.card"
    card.write_bytes(other.card)
    before = snapshot(root)
    result = setup(root, "--office-card", str(card))
    assert result.exit_code == 1
    assert "already set up for the office card" in result.output
    assert snapshot(root) == before


def test_a_typed_fingerprint_is_compared(root: Path, office: Office, tmp_path: Path) -> None:
    card = tmp_path / "office.card"
    card.write_bytes(office.card)
    result = CliRunner().invoke(
        main,
        ["server", "setup", "--root", str(root), "--office-card", str(card)],
        input=office.fingerprint.lower() + "\n",
    )
    assert result.exit_code == 0, result.output
    assert f"Fingerprint: {office.fingerprint}" in result.output


def test_a_wrongly_typed_fingerprint_stops_setup_before_any_change(
    root: Path, office: Office, tmp_path: Path
) -> None:
    card = tmp_path / "office.card"
    card.write_bytes(office.card)
    before = snapshot(root)
    wrong = office.fingerprint[:-1] + ("A" if office.fingerprint[-1] != "A" else "B")
    result = CliRunner().invoke(
        main,
        ["server", "setup", "--root", str(root), "--office-card", str(card)],
        input=wrong + "\n",
    )
    assert result.exit_code == 1
    assert "the fingerprint typed is not the office card's" in result.output
    assert snapshot(root) == before


def test_an_unreachable_card_is_not_called_missing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A card under /root, read by another user: permission denied, said as such."""
    card = tmp_path / "office.card"
    card.write_bytes(b"{}")
    real_stat = os.stat

    def stat_denied(path: object, *args: object, **kwargs: object) -> os.stat_result:
        if os.fspath(path) == str(card):  # type: ignore[arg-type]
            raise PermissionError(13, "Permission denied")
        return real_stat(path, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(os, "stat", stat_denied)
    result = CliRunner().invoke(
        main, ["server", "init", str(tmp_path / "data"), "--office-card", str(card)]
    )
    assert result.exit_code == 2
    assert "exists but cannot be read by the user" in result.output
    assert "does not exist" not in result.output
    assert not (tmp_path / "data").exists()


def test_after_an_upgrade_setup_applies_the_migrations(
    root: Path, office: Office, tmp_path: Path
) -> None:
    """The upgrade steps: new code installed over an older database, then setup again."""
    from whistle.submit import db
    from whistle.submit.config import load_config

    first_setup(root, office, tmp_path)
    url = load_config(root / "var/lib/whistle").database_url
    db.downgrade(url, "-1")  # the database as the previous release left it
    engine = db.make_engine(url)
    old, head = db.schema_revisions(engine)
    engine.dispose()
    assert old != head

    result = setup(root)
    assert result.exit_code == 0, result.output
    assert f"changed:   database schema: {old} → {head} (migrations applied)" in result.output
    engine = db.make_engine(url)
    assert db.schema_revisions(engine) == (head, head)
    engine.dispose()
    user = account(root, "whistle")
    assert user is not None
    for path in (root / "var/lib/whistle").iterdir():
        assert path.stat().st_uid == user.uid, path
    assert "Nothing to change" in setup(root).output


def test_server_upgrade_says_what_it_did(root: Path, office: Office, tmp_path: Path) -> None:
    """On a real server, setup runs `whistle server upgrade` as the service's user (root never
    opens the database config.toml names) and reports its words as changed or unchanged."""
    from whistle.submit import db
    from whistle.submit.config import load_config
    from whistle.submit.server_setup import SCHEMA_CURRENT

    first_setup(root, office, tmp_path)
    data_dir = root / "var/lib/whistle"
    url = load_config(data_dir).database_url
    db.downgrade(url, "-1")
    engine = db.make_engine(url)
    old, head = db.schema_revisions(engine)
    engine.dispose()

    upgraded = CliRunner().invoke(main, ["server", "upgrade", str(data_dir)])
    assert upgraded.exit_code == 0, upgraded.output
    assert upgraded.output.strip() == f"database schema: {old} → {head} (migrations applied)"
    again = CliRunner().invoke(main, ["server", "upgrade", str(data_dir)])
    assert again.exit_code == 0, again.output
    assert again.output.strip() == f"{SCHEMA_CURRENT} ({head})"


def test_tor_owned_symlinks_cannot_turn_setup_against_root_files(
    root: Path, office: Office, tmp_path: Path
) -> None:
    """/var/lib/tor belongs to debian-tor: a link it planted where setup writes the courier's
    directory or key file must not make root chown, chmod or overwrite what the link points to."""
    first_setup(root, office, tmp_path)
    victim_dir = tmp_path / "victim"
    victim_dir.mkdir(mode=0o755)
    victim = tmp_path / "victim-file"
    victim.write_text("root's\n")
    victim.chmod(0o644)
    service = root / "var/lib/tor/whistle-courier"
    service.parent.mkdir(parents=True, exist_ok=True)
    service.symlink_to(victim_dir)

    result = setup(root, "--courier-key", COURIER_KEY)
    assert result.exit_code != 0
    assert "is a symbolic link" in result.output
    assert (victim_dir.stat().st_uid, mode(victim_dir)) == (0, 0o755)
    assert list(victim_dir.iterdir()) == []

    service.unlink()
    (service / "authorized_clients").mkdir(parents=True)
    (service / "authorized_clients/.office.auth.new").symlink_to(victim)
    result = setup(root, "--courier-key", COURIER_KEY)
    assert result.exit_code == 0, result.output
    assert (victim.read_text(), victim.stat().st_uid, mode(victim)) == ("root's\n", 0, 0o644)
    auth = service / "authorized_clients/office.auth"
    assert not auth.is_symlink()
    assert auth.read_text() == f"descriptor:x25519:{COURIER_KEY}\n"


def test_a_linked_config_is_not_written_through(root: Path, office: Office, tmp_path: Path) -> None:
    """The data directory is the service's to write: root does not write where its link points."""
    first_setup(root, office, tmp_path)
    config = root / "var/lib/whistle/config.toml"
    victim = tmp_path / "victim.toml"
    shutil.copy(config, victim)
    before = victim.read_bytes()
    config.unlink()
    config.symlink_to(victim)
    result = setup(root, "--courier-key", COURIER_KEY)
    assert result.exit_code != 0
    assert "/var/lib/whistle/config.toml is a symbolic link" in result.output
    assert victim.read_bytes() == before


def test_a_strict_root_umask_leaves_tor_able_to_read_its_configuration(
    root: Path, office: Office, tmp_path: Path
) -> None:
    """Hardened servers often give root umask 027 or 077: tor re-reads its configuration as
    debian-tor on reload, so the directory setup makes for the fragments must stay readable."""
    previous = os.umask(0o077)
    try:
        first_setup(root, office, tmp_path)
    finally:
        os.umask(previous)
    for directory in ("etc/tor/torrc.d", "etc/systemd/system", "etc/whistle"):
        assert mode(root / directory) == 0o755, directory
    assert mode(root / "etc/tor/torrc") == 0o644
