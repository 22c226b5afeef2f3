"""The inbox's configuration: one object, built once, passed to ``create_app``.

Nothing in the inbox reads ``os.environ``; the CLI builds an ``InboxConfig``
from its options. The key-derivation parameters and the clock are injectable
so tests can use weak Argon2 (the ``insecure_kdf_params`` fixture) and move
time without sleeping.
"""

import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from whistle.crypto import DEFAULT_PARAMS, KdfParams
from whistle.inbox.errors import InboxError
from whistle.localnames import LocalNames, NamesError, parse_names

LANGUAGES = ("ca", "es", "en")


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class PasswordHashParams:
    """argon2-cffi ``PasswordHasher`` parameters (login check, separate from key wrapping):
    256 MiB, 3 passes, as docs/threat-model.md states; hashes made weaker are redone at the
    officer's next sign-in (``officers.unlock``)."""

    time_cost: int = 3
    memory_cost_kib: int = 256 * 1024
    parallelism: int = 4


@dataclass(frozen=True)
class ThrottleLimits:
    """Failed sign-ins allowed per name typed, per ``window_seconds``.

    Per name only, with no inbox-wide limit: failures under made-up names then never lock a
    real officer out (docs/decisions.md, issue 18).
    """

    per_account: int = 5
    window_seconds: int = 15 * 60


@dataclass(frozen=True)
class InboxConfig:
    data_dir: Path
    kdf_params: KdfParams = DEFAULT_PARAMS
    password_hash: PasswordHashParams = field(default_factory=PasswordHashParams)
    throttle: ThrottleLimits = field(default_factory=ThrottleLimits)
    idle_lock_seconds: int = 10 * 60
    default_language: str = "ca"
    #: False when the office chose the language (``inbox run --language``): the browser's
    #: Accept-Language no longer overrides it; an officer's own choice (the form) still does.
    browser_language: bool = True
    clock: Callable[[], datetime] = utc_now
    page_size: int = 25
    #: Where mat2 gets its temporary copy: memory-backed (tmpfs), never the disk.
    scratch_dir: Path = Path("/dev/shm")  # noqa: S108 - tmpfs by design, see docs/inbox.md
    preview_timeout_seconds: int = 20
    #: Wall-clock seconds all previews of one attachment may cost in an unlocked session.
    preview_budget_seconds: int = 40
    preview_memory_bytes: int = 512 * 1024 * 1024
    testing: bool = False
    #: The office's time zone: the legal clocks count days there (as the server dates them).
    time_zone: str = "UTC"
    #: The desks' (and office's) names per language, from ``names.toml`` (``load_names``).
    names: LocalNames = field(default_factory=LocalNames)

    def __post_init__(self) -> None:
        try:
            ZoneInfo(self.time_zone)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError("the time zone is a name like Europe/Madrid") from exc
        if self.default_language not in LANGUAGES:
            raise ValueError(f"the default language is one of {', '.join(LANGUAGES)}")
        if self.idle_lock_seconds < 1:
            raise ValueError("the idle lock is at least one second")

    @property
    def database_path(self) -> Path:
        return self.data_dir / "inbox.sqlite"

    def today(self) -> date:
        """Today in the office's time zone (the legal clocks' day)."""
        return self.clock().astimezone(ZoneInfo(self.time_zone)).date()

    @property
    def store_dir(self) -> Path:
        return self.data_dir / "store"


def insecure_password_hash() -> PasswordHashParams:
    """argon2-cffi's minimum, for tests only (never reached by the CLI)."""
    return PasswordHashParams(time_cost=1, memory_cost_kib=8, parallelism=1)


NAMES_FILE = "names.toml"


class NamesFileError(InboxError):
    """``names.toml`` in the inbox's directory cannot be read or is malformed."""


def load_names(data_dir: Path) -> LocalNames:
    """The optional ``names.toml`` beside the inbox's database (docs/inbox.md), else none."""
    path = data_dir / NAMES_FILE
    if not path.exists():
        return LocalNames()
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
        return parse_names(raw.get("office_names"), raw.get("desk_names"))
    except OSError as exc:
        raise NamesFileError(f"cannot read {path}: {exc.strerror}") from exc
    except (tomllib.TOMLDecodeError, UnicodeDecodeError, NamesError) as exc:
        raise NamesFileError(f"{path}: {exc}") from exc
