"""What every inbox command shares: the two groups, the options, the config, the sign-in."""

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from whistle.cli_paths import ExistingPath
from whistle.errors import WhistleError
from whistle.inbox import db
from whistle.inbox.config import InboxConfig
from whistle.inbox.errors import NotSetUpError

if TYPE_CHECKING:  # loaded by the commands that sign in, not by every `whistle` start
    from sqlalchemy import Engine
    from sqlalchemy.orm import Session

    from whistle.inbox.officers import SignedIn


def make_config(ctx: click.Context, data_dir: Path, **options: Any) -> InboxConfig:
    overrides = dict((ctx.obj or {}).get("config", {}))
    overrides.update({k: v for k, v in options.items() if v is not None})
    return InboxConfig(data_dir=data_dir, **overrides)


def read_password(password_file: Path | None, prompt: str, confirm: bool = False) -> str:
    if password_file is not None:
        lines = password_file.read_text(encoding="utf-8").splitlines()
        if not lines or not lines[0]:
            raise click.ClickException(f"{password_file} holds no password on its first line.")
        return lines[0]
    return str(click.prompt(prompt, hide_input=True, confirmation_prompt=confirm))


class Edge(click.Group):
    """Turns every ``WhistleError`` into one clear line and exit status 1."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except WhistleError as exc:
            raise click.ClickException(str(exc)) from exc


@click.group(cls=Edge)
def office() -> None:
    """Create the office: desks, custodian, signing key, first officer."""


@click.group(cls=Edge)
def inbox() -> None:
    """The officers' inbox (offline, holds the office private keys)."""


time_zone_option = click.option(
    "--time-zone",
    default=None,
    help="The office's time zone; by default the one its card declares (set at `office init`).",
)


def office_zone(ctx: click.Context, data_dir: Path, given: str | None) -> str:
    """The time zone the legal clocks count in: the office card's, never a silent UTC.

    A ``--time-zone`` that contradicts the card is refused (the server dates reports in the
    card's zone); an office whose card predates the field must give one."""
    from whistle.inbox.office_setup import office_time_zone

    with office_session(make_config(ctx, data_dir)) as session:
        declared = office_time_zone(session)
    if declared is None and given is None:
        raise click.ClickException(
            "This office's card declares no time zone: give --time-zone (for example "
            "Europe/Madrid), the same as the server's config.toml."
        )
    if declared is not None and given is not None and given != declared:
        raise click.ClickException(
            f"The office's card says the time zone is {declared}, not {given}."
        )
    return declared or str(given)


def open_engine(config: InboxConfig) -> "Engine":
    if not config.database_path.is_file():
        raise NotSetUpError(f"{config.data_dir} holds no office: run `whistle office init`.")
    engine = db.make_engine(config.database_path)
    db.upgrade(engine)
    return engine


@contextmanager
def office_session(config: InboxConfig) -> "Iterator[Session]":
    """One transaction on the office's database (no sign-in); the engine is disposed after."""
    engine = open_engine(config)
    try:
        with db.transaction(db.session_factory(engine)) as session:
            yield session
    finally:
        engine.dispose()


@contextmanager
def signed_in_office(
    ctx: click.Context, data_dir: Path, name: str, password_file: Path | None
) -> "Iterator[tuple[InboxConfig, Engine, SignedIn]]":
    """The office's config, its database engine and a signed-in officer; the engine is
    disposed when the block ends."""
    config = make_config(ctx, data_dir)
    engine = open_engine(config)
    try:
        yield config, engine, signed_in(config, engine, name, password_file)
    finally:
        engine.dispose()


@contextmanager
def signed_in_transaction(
    ctx: click.Context, data_dir: Path, name: str, password_file: Path | None
) -> "Iterator[tuple[InboxConfig, SignedIn, Session]]":
    """One transaction as a signed-in officer, committed when the block ends. When it
    changed who holds which keys (grants deleted), the write-ahead log that still holds the
    deleted rows is scrubbed after the commit."""
    from whistle.inbox import epochs
    from whistle.inbox.compartments import KEYS_CHANGED

    with signed_in_office(ctx, data_dir, name, password_file) as (config, engine, signed):
        with db.transaction(db.session_factory(engine)) as session:
            yield config, signed, session
            changed = bool(session.info.get(KEYS_CHANGED))
        if changed:
            epochs.scrub(engine)


def signed_in(
    config: InboxConfig, engine: "Engine", name: str, password_file: Path | None
) -> "SignedIn":
    from whistle.inbox import audit
    from whistle.inbox.officers import sign_in

    password = read_password(password_file, f"Password for {name}")
    with db.transaction(db.session_factory(engine)) as session:
        signed = sign_in(session, config, name, password)
    if signed.moved_keys:
        from whistle.inbox import epochs

        epochs.scrub(engine)  # the storage-key copies leave the write-ahead log too
    key = audit.key_for(signed.keyring.storage_secret)
    audit.lend_key(engine, lambda: key)  # this command's events are sealed
    return signed


officer_option = click.option("--officer", "officer_name", required=True, help="Your sign-in name.")


password_option = click.option(
    "--password-file",
    type=ExistingPath(path_type=Path, dir_okay=False, exists=True),
    help="Read the password from this file's first line instead of asking.",
)


def read_recovery_key(recovery_key_file: Path | None) -> str:
    if recovery_key_file is not None:
        lines = recovery_key_file.read_text(encoding="utf-8").splitlines()
        if not lines or not lines[0].strip():
            raise click.ClickException(f"{recovery_key_file} holds no key on its first line.")
        return lines[0]
    return str(click.prompt("Recovery key (spaces and dashes allowed)", hide_input=True))


recovery_key_file_option = click.option(
    "--recovery-key-file",
    type=ExistingPath(path_type=Path, dir_okay=False, exists=True),
    help="Read the recovery key from this file's first line instead of asking.",
)


new_password_file_option = click.option(
    "--new-password-file",
    type=ExistingPath(path_type=Path, dir_okay=False, exists=True),
    help="Read the new password from this file's first line instead of asking.",
)
