"""``whistle server setup``: a fresh Debian 12 server to a running, hardened site in one command.

Run as root after installing whistle-office into a virtual environment. Each step compares
what is there with what should be, changes only what differs, and says which: a second run
changes nothing and says so. Everything is written under ``root`` (``/`` on a real server; a
fresh directory in the tests), and systemd and tor are only told to start on a real server.

The courier onion service is not configured until the office's client-authorisation key is
given (``courier_key``): with no ``authorized_clients/*.auth`` file tor publishes the service to
anyone, so the key file is written before the fragment that makes tor publish it.
"""

import base64
import binascii
import contextlib
import datetime
import os
import shlex
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from whistle.deploy import DEPLOY_DIR
from whistle.errors import WhistleError

USER = "whistle"
TOR_USER = "debian-tor"
DATA_DIR = "/var/lib/whistle"
ETC_DIR = "/etc/whistle"
UNIT_DIR = "/etc/systemd/system"
TORRC = "/etc/tor/torrc"
TORRC_D = "/etc/tor/torrc.d"
TOR_DIR = "/var/lib/tor"
COURIER_AUTH = "whistle-courier/authorized_clients/office.auth"
PATH_LINK = "/usr/local/bin/whistle"
#: The line that makes Debian's tor read the fragments this command writes.
TOR_INCLUDE = f"%include {TORRC_D}/whistle-*.conf"
#: Where torrc.example's courier section begins: the source fragment is everything above it.
COURIER_SECTION = "## --- Onion service 2"
#: The venv path the shipped units name; replaced by the venv whistle really runs from.
UNIT_VENV_BIN = "/opt/whistle/venv/bin/"
SUPPORTED = {"ID": "debian", "VERSION_ID": "12"}
UNITS = ("whistle-submit.service", "whistle-housekeeping.service", "whistle-housekeeping.timer")
COURIER_UNIT = "whistle-courier.service"


class SetupError(WhistleError):
    """The system is not one this command supports, or an input is wrong; nothing was changed
    by the step that raised it."""


@dataclass
class SetupOptions:
    root: Path = Path("/")
    office_card: Path | None = None
    #: Asked for (``confirm_fingerprint``) when None and the data directory is new.
    fingerprint: str | None = None
    language: str = "ca"
    database_url: str = ""
    #: The office courier machine's x25519 public key, base32 (docs/deployment.md).
    courier_key: str | None = None


@dataclass
class Changes:
    say: Callable[[str], None]
    changed: list[str] = field(default_factory=list)

    def done(self, what: str) -> None:
        self.changed.append(what)
        self.say(f"  changed:   {what}")

    def same(self, what: str) -> None:
        self.say(f"  unchanged: {what}")


@dataclass(frozen=True)
class Account:
    uid: int
    gid: int


def os_release(root: Path) -> dict[str, str]:
    for candidate in (root / "etc/os-release", root / "usr/lib/os-release"):
        try:
            text = candidate.read_text(encoding="utf-8")
        except OSError:
            continue
        values = {}
        for line in text.splitlines():
            key, sep, value = line.partition("=")
            if sep:
                values[key.strip()] = value.strip().strip('"')
        return values
    return {}


def check_system(root: Path) -> None:
    """Refuse, before changing anything, a system this command was not made and tested for."""
    if os.geteuid() != 0:
        raise SetupError("run it as root: it creates a system user and writes to /etc")
    release = os_release(root)
    if any(release.get(key) != value for key, value in SUPPORTED.items()):
        name = release.get("PRETTY_NAME", "an unknown system (no /etc/os-release)")
        raise SetupError(
            f"this is {name}; whistle server setup supports Debian 12 only. "
            "docs/deployment.md, Part 2, describes every step it takes, to do by hand."
        )
    if sys.prefix == sys.base_prefix:
        raise SetupError(
            "whistle is not installed in a virtual environment: install it with the "
            "wheelhouse's install.sh (docs/deployment.md, Part 1)"
        )
    for tool, package in (("useradd", "passwd"), ("tor", "tor"), ("systemctl", "systemd")):
        if shutil.which(tool) is None:
            raise SetupError(f"{tool} is missing: apt-get install {package}")


def _accounts(path: Path) -> dict[str, list[str]]:
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        return {}
    return {line.split(":")[0]: line.split(":") for line in lines if line and ":" in line}


def account(root: Path, name: str) -> Account | None:
    """``name``'s uid and gid in ``root``'s /etc/passwd (not this machine's, under a test root)."""
    entry = _accounts(root / "etc/passwd").get(name)
    return None if entry is None else Account(int(entry[2]), int(entry[3]))


def ensure_user(root: Path, changes: Changes) -> Account:
    found = account(root, USER)
    if found is not None:
        changes.same(f"system user {USER}")
        return found
    command = ["useradd", "--system", "--user-group", "--home-dir", DATA_DIR, "--no-create-home"]
    command += ["--shell", "/usr/sbin/nologin", "--comment", "Whistle submission site"]
    if root != Path("/"):
        command += ["--prefix", str(root)]
    result = subprocess.run([*command, USER], capture_output=True, text=True, check=False)
    created = account(root, USER)
    if result.returncode != 0 or created is None:
        raise SetupError(f"useradd could not create the user {USER}: {result.stderr.strip()}")
    changes.done(f"system user {USER} (no login shell, home {DATA_DIR})")
    return created


def _no_link(path: Path, label: str) -> None:
    if path.is_symlink():
        raise SetupError(
            f"{label} is a symbolic link, not the directory or file whistle writes there: "
            "remove it, then run setup again"
        )


def _open_dir(path: Path, label: str) -> int:
    """``path`` opened without following a link at its last step: what root changes through the
    descriptor is that directory, even if its owner (debian-tor owns /var/lib/tor, whistle its
    data directory) swaps the name for a link in between."""
    try:
        return os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
    except OSError as exc:
        raise SetupError(f"cannot open {label}: {exc.strerror}") from exc


def ensure_dir(path: Path, mode: int, owner: Account, changes: Changes, label: str) -> None:
    _no_link(path, label)
    made = not path.exists()
    if made:
        path.mkdir(mode=mode, parents=True)  # mkdir never follows a link at the last step
    fd = _open_dir(path, label)
    try:
        stat = os.fstat(fd)
        right = (stat.st_mode & 0o7777, stat.st_uid, stat.st_gid) == (mode, owner.uid, owner.gid)
        if not made and right:
            changes.same(label)
            return
        os.fchown(fd, owner.uid, owner.gid)
        os.fchmod(fd, mode)
    finally:
        os.close(fd)
    changes.done(
        f"{label} (mode {mode:o})" if made else f"{label}: owner and mode set back to {mode:o}"
    )


def ensure_file(
    path: Path, content: bytes, mode: int, owner: Account, changes: Changes, label: str
) -> bool:
    """Write ``content`` unless it is there already with this mode and owner; True if written."""
    if path.is_file() and not path.is_symlink():
        stat = path.stat()
        same = (stat.st_mode & 0o7777, stat.st_uid, stat.st_gid) == (mode, owner.uid, owner.gid)
        if same and path.read_bytes() == content:
            changes.same(label)
            return False
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = f".{path.name}.new"
    dir_fd = _open_dir(path.parent, str(path.parent))
    try:
        # Never through a link or into a file someone else made: a fresh file, then renamed.
        with contextlib.suppress(FileNotFoundError):
            os.unlink(partial, dir_fd=dir_fd)
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW
        with os.fdopen(os.open(partial, flags, 0o600, dir_fd=dir_fd), "wb") as out:
            out.write(content)
            os.fchown(out.fileno(), owner.uid, owner.gid)
            os.fchmod(out.fileno(), mode)
        os.replace(partial, path.name, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
    finally:
        os.close(dir_fd)
    changes.done(label)
    return True


def under(root: Path, absolute: str) -> Path:
    return root / absolute.lstrip("/")


def unit_text(name: str, venv_bin: str) -> bytes:
    text = (DEPLOY_DIR / name).read_text(encoding="utf-8")
    return text.replace(UNIT_VENV_BIN, venv_bin).encode()


def torrc_fragments() -> tuple[bytes, bytes]:
    """torrc.example cut in two: the server-wide lines and the source site, then the courier."""
    text = (DEPLOY_DIR / "torrc.example").read_text(encoding="utf-8")
    at = text.index(COURIER_SECTION)
    return text[:at].encode(), text[at:].encode()


def courier_key_line(key: str) -> bytes:
    cleaned = key.strip().upper().rstrip("=")
    try:
        raw = base64.b32decode(cleaned + "=" * (-len(cleaned) % 8))
    except binascii.Error:
        raw = b""
    if len(raw) != 32:
        raise SetupError(
            "--courier-key must be an x25519 public key in base32 (52 letters and digits), "
            "as docs/deployment.md, 'Courier', makes it"
        )
    return f"descriptor:x25519:{cleaned}\n".encode()


@dataclass(frozen=True)
class NewOffice:
    """The office card for a data directory not made yet, its fingerprint confirmed."""

    card: bytes
    fingerprint: str


def check_office_card(
    options: SetupOptions, confirm_fingerprint: Callable[[str, str], str]
) -> NewOffice | None:
    """Before any change: the card is readable, an office card, and the one the office read
    out (a new server), or the one already pinned (a second run). None: nothing to make."""
    from whistle.crypto import CardError, OfficeCard, read_card, same_fingerprint
    from whistle.submit.config import load_config

    data_dir = under(options.root, DATA_DIR)
    card = card_bytes = None
    if options.office_card is not None:
        try:
            card_bytes = options.office_card.read_bytes()
            card = read_card(card_bytes, pinned_fingerprint=options.fingerprint)
        except OSError as exc:
            raise SetupError(f"cannot read {options.office_card}: {exc.strerror}") from exc
        except CardError as exc:
            raise SetupError(f"the office card: {exc}") from exc
        if not isinstance(card, OfficeCard):
            raise SetupError("that is a server card, not an office card")
    if (data_dir / "config.toml").exists():
        config = load_config(data_dir)
        if card is not None and not same_fingerprint(
            card.fingerprint, config.office_card.fingerprint
        ):
            raise SetupError(
                f"{DATA_DIR} is already set up for the office card "
                f"{config.office_card.fingerprint}; the card given is another "
                f"({card.fingerprint}). Nothing was changed."
            )
        return None
    if card is None or card_bytes is None:
        raise SetupError(
            "--office-card is needed the first time: the office card file from "
            "`whistle office init` on the inbox laptop"
        )
    typed = options.fingerprint or confirm_fingerprint(card.name, card.fingerprint)
    if not same_fingerprint(typed, card.fingerprint):
        raise SetupError(
            "the fingerprint typed is not the office card's: do not go on until the office "
            "and you read the same one. Nothing was changed."
        )
    return NewOffice(card_bytes, card.fingerprint)


def set_up_data_directory(
    options: SetupOptions, new: NewOffice | None, owner: Account, changes: Changes
) -> None:
    from whistle.submit.config import load_config
    from whistle.submit.datadir import init_data_directory

    data_dir = under(options.root, DATA_DIR)
    if new is None:
        config = load_config(data_dir)
        changes.same(f"data directory {DATA_DIR} (set up for {config.office_name})")
        if options.root == Path("/"):
            migrate_as_service(changes)
        else:
            said: list[str] = []
            if migrate(config.database_url, said.append):
                changes.done(said[0])
            else:
                changes.same(said[0])
    else:
        previous = os.umask(0o077)  # the database too, as the service's UMask=0077 would make it
        try:
            init_data_directory(
                data_dir,
                new.card,
                fingerprint=new.fingerprint,
                language=options.language,
                database_url=options.database_url,
            )
        finally:
            os.umask(previous)
        for path in (data_dir, *data_dir.rglob("*")):
            os.chown(path, owner.uid, owner.gid, follow_symlinks=False)
        changes.done(f"data directory {DATA_DIR}: keys, database, pinned office card")
    if options.courier_key is not None:
        path = data_dir / "config.toml"
        label = f"{DATA_DIR}/config.toml"
        _no_link(path, label)  # the service's user could have put it there
        text = path.read_text(encoding="utf-8")
        if "courier_enabled = false" in text:
            enabled = text.replace("courier_enabled = false", "courier_enabled = true")
            ensure_file(path, enabled.encode(), 0o600, owner, changes, f"{label}: courier on")


#: What `whistle server upgrade` prints when it had nothing to do.
SCHEMA_CURRENT = "database schema already current"


def migrate(database_url: str, say: Callable[[str], None]) -> bool:
    """After an upgrade of the code: bring the database to its schema (the services are
    stopped first, docs/deployment.md, "Upgrade"). True when migrations were applied."""
    from whistle.submit import db

    engine = db.make_engine(database_url)
    try:
        current, head = db.schema_revisions(engine)
    finally:
        engine.dispose()
    if current == head:
        say(f"{SCHEMA_CURRENT} ({head})")
        return False
    db.upgrade(database_url)
    say(f"database schema: {current} → {head} (migrations applied)")
    return True


def migrate_as_service(changes: Changes) -> None:
    """On a real server the migration runs as the service's user, never as root: the database
    location comes from config.toml, which that user can write, and root must not open (or
    create) whatever file it names."""
    result = _as_service("upgrade")
    if result.returncode != 0:
        raise SetupError(
            "whistle server upgrade failed: " + (result.stderr or result.stdout).strip()
        )
    said = result.stdout.strip()
    if said.startswith(SCHEMA_CURRENT):
        changes.same(said)
    else:
        changes.done(said)


def _as_service(command: str) -> subprocess.CompletedProcess[str]:
    """``whistle server COMMAND /var/lib/whistle`` run as the service's own user."""
    whistle = f"{sys.prefix}/bin/whistle"
    return subprocess.run(
        ["runuser", "-u", USER, "--", whistle, "server", command, DATA_DIR],
        capture_output=True,
        text=True,
        check=False,
    )


def write_tor(options: SetupOptions, changes: Changes) -> bool:
    root = options.root
    root_account = Account(0, 0)
    source, courier = torrc_fragments()
    wrote = ensure_file(
        under(root, f"{TORRC_D}/whistle-source.conf"),
        source,
        0o644,
        root_account,
        changes,
        f"{TORRC_D}/whistle-source.conf (the source site's onion service)",
    )
    torrc = under(root, TORRC)
    current = torrc.read_text(encoding="utf-8") if torrc.exists() else ""
    if TOR_INCLUDE in current.splitlines():
        changes.same(f"{TORRC} includes the Whistle fragments")
    else:
        addition = "\n# Whistle's onion services (whistle server setup)\n" + TOR_INCLUDE + "\n"
        torrc.parent.mkdir(parents=True, exist_ok=True)
        with torrc.open("a", encoding="utf-8") as out:
            out.write(addition)
        changes.done(f"{TORRC}: {TOR_INCLUDE}")
        wrote = True
    if options.courier_key is None:
        return wrote
    tor = account(root, TOR_USER)
    if tor is None:
        raise SetupError(f"the user {TOR_USER} is missing: apt-get install tor")
    # The key file before the fragment: tor must never see the service without it.
    service = under(root, f"{TOR_DIR}/whistle-courier")
    for directory in (service, service / "authorized_clients"):
        ensure_dir(directory, 0o700, tor, changes, str(directory.relative_to(root)))
    wrote |= ensure_file(
        under(root, f"{TOR_DIR}/{COURIER_AUTH}"),
        courier_key_line(options.courier_key),
        0o600,
        tor,
        changes,
        f"{TOR_DIR}/{COURIER_AUTH} (the office's courier key)",
    )
    wrote |= ensure_file(
        under(root, f"{TORRC_D}/whistle-courier.conf"),
        courier,
        0o644,
        root_account,
        changes,
        f"{TORRC_D}/whistle-courier.conf (the courier's client-authorised onion service)",
    )
    return wrote


def courier_configured(root: Path) -> bool:
    return under(root, f"{TOR_DIR}/{COURIER_AUTH}").is_file()


def write_system_files(options: SetupOptions, changes: Changes) -> tuple[bool, bool]:
    """gunicorn config, units and the PATH link; (units changed, courier unit wanted)."""
    root, root_account = options.root, Account(0, 0)
    venv_bin = f"{Path(sys.prefix)}/bin/"
    ensure_dir(under(root, ETC_DIR), 0o755, root_account, changes, ETC_DIR)
    units_changed = ensure_file(
        under(root, f"{ETC_DIR}/gunicorn.conf.py"),
        (DEPLOY_DIR / "gunicorn.conf.py").read_bytes(),
        0o644,
        root_account,
        changes,
        f"{ETC_DIR}/gunicorn.conf.py",
    )
    courier = options.courier_key is not None or courier_configured(root)
    for name in (*UNITS, *((COURIER_UNIT,) if courier else ())):
        units_changed |= ensure_file(
            under(root, f"{UNIT_DIR}/{name}"),
            unit_text(name, venv_bin),
            0o644,
            root_account,
            changes,
            f"{UNIT_DIR}/{name}",
        )
    link = under(root, PATH_LINK)
    target = f"{venv_bin}whistle"
    if link.is_symlink() and os.readlink(link) == target:
        changes.same(f"{PATH_LINK} → {target}")
    elif link.exists() and not link.is_symlink():
        changes.say(f"  left alone: {PATH_LINK} exists and is not a link (whistle is {target})")
    else:
        link.parent.mkdir(parents=True, exist_ok=True)
        link.unlink(missing_ok=True)
        link.symlink_to(target)
        changes.done(f"{PATH_LINK} → {target}")
    return units_changed, courier


def start_up_problems(root: Path) -> list[str]:
    """The checks the site runs at start-up, and the status checks, on the written directory."""
    from whistle.submit import create_app
    from whistle.submit.config import load_config
    from whistle.submit.health import data_directory_problems, server_status
    from whistle.submit.web import EXTENSION

    data_dir = under(root, DATA_DIR)
    if root == Path("/"):
        # As the service's own user: a file only root can read fails here, not at boot.
        result = _as_service("status")
        problems = [line for line in result.stdout.splitlines() if line.startswith("PROBLEM")]
        if result.returncode != 0 and not problems:
            problems = [(result.stderr or result.stdout).strip()]
        return problems
    try:
        config = load_config(data_dir)
        create_app(config).extensions[EXTENSION].engine.dispose()  # no -wal file left behind
        status = server_status(data_dir, config, datetime.datetime.now(datetime.UTC).date())
    except WhistleError as exc:
        return [str(exc)]
    return [*data_directory_problems(data_dir, config), *status.problems]


def start_services(courier: bool, units_changed: bool, tor_changed: bool, changes: Changes) -> None:
    services = ["whistle-submit.service", *([COURIER_UNIT] if courier else [])]
    # tor.service is Debian's umbrella for tor@default (the instance that reads /etc/tor/torrc).
    wanted = [*services, "whistle-housekeeping.timer", "tor.service"]
    commands = []
    if units_changed:
        commands.append(["systemctl", "daemon-reload"])
    commands.append(["systemctl", "enable", "--now", *wanted])
    if units_changed:  # a running service picks up a changed unit or gunicorn config on restart
        commands.append(["systemctl", "try-restart", *services])
    if tor_changed:
        commands.append(["systemctl", "reload-or-restart", "tor@default.service"])
    if not Path("/run/systemd/system").is_dir():
        changes.say("systemd is not running on this machine; start the services with:")
        for command in commands:
            changes.say("  " + shlex.join(command))
        return
    for command in commands:
        result = subprocess.run(command, capture_output=True, text=True, check=False)
        if result.returncode != 0:
            raise SetupError(f"{shlex.join(command)} failed: {result.stderr.strip()}")
    changes.say("  running:   " + ", ".join(wanted))


def run_setup(
    options: SetupOptions,
    say: Callable[[str], None],
    confirm_fingerprint: Callable[[str, str], str],
) -> Changes:
    """Set the server up under ``options.root``; the returned ``changed`` list is empty when
    everything was already as it should be."""
    check_system(options.root)
    if options.courier_key is not None:
        courier_key_line(options.courier_key)  # a bad key is refused before anything is written
    new_office = check_office_card(options, confirm_fingerprint)
    # Whatever root's own umask (hardened servers use 027 or 077): the directories made on the
    # way (/etc/tor/torrc.d...) must be readable by tor, which re-reads them as debian-tor.
    previous = os.umask(0o022)
    try:
        return _set_up(options, new_office, say)
    finally:
        os.umask(previous)


def _set_up(
    options: SetupOptions, new_office: NewOffice | None, say: Callable[[str], None]
) -> Changes:
    changes = Changes(say)
    owner = ensure_user(options.root, changes)
    ensure_dir(under(options.root, DATA_DIR), 0o700, owner, changes, DATA_DIR)
    set_up_data_directory(options, new_office, owner, changes)
    units_changed, courier = write_system_files(options, changes)
    tor_changed = write_tor(options, changes)
    problems = start_up_problems(options.root)
    if problems:
        raise SetupError("the start-up checks failed: " + "; ".join(problems))
    say("  checked:   the site's start-up checks pass")
    if options.root == Path("/"):
        start_services(courier, units_changed, tor_changed, changes)
    return changes
