"""``whistle server …``: set up and run the submission server."""

import dataclasses
import datetime
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

import click

from whistle.cli_paths import ExistingPath
from whistle.errors import WhistleError

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from whistle.submit.config import SubmitConfig


fingerprint_option = click.option(
    "--fingerprint",
    help="The office card's fingerprint, as read out by the office. Asked for when omitted.",
)
language_option = click.option(
    "--language",
    type=click.Choice(["ca", "es", "en"]),
    default="ca",
    show_default=True,
    help="The language of a first visit.",
)


@click.group()
def server() -> None:
    """The submission server (online, holds no office private key)."""


@server.command("init")
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
@click.option(
    "--office-card",
    "card_path",
    required=True,
    type=ExistingPath(exists=True, dir_okay=False, path_type=Path),
    help="The office card file from `whistle office init`.",
)
@fingerprint_option
@language_option
@click.option(
    "--database-url",
    default="",
    help="PostgreSQL database (empty: SQLite in DIRECTORY), e.g. "
    "postgresql://whistle@/whistle?host=/run/postgresql",
)
def init(
    directory: Path, card_path: Path, fingerprint: str | None, language: str, database_url: str
) -> None:
    """Create a data directory: config, secrets, pinned office card, server card, database."""
    from whistle.crypto import CardError, read_card
    from whistle.submit.datadir import init_data_directory

    data = card_path.read_bytes()
    if fingerprint is None:
        try:
            card = read_card(data)
        except CardError as exc:
            raise click.ClickException(f"the office card: {exc}") from exc
        click.echo(f"Office card: {card.name}\nFingerprint: {card.fingerprint}")
        fingerprint = click.prompt("Type the fingerprint the office read out to you")
    try:
        card = init_data_directory(
            directory, data, fingerprint=fingerprint, language=language, database_url=database_url
        )
    except WhistleError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"Created {directory} for {card.name} ({len(card.desks)} desk(s)).")
    _show_server_card(directory)


def _show_server_card(directory: Path) -> None:
    """The server card's path and fingerprint: the office compares it at `trust-server`."""
    from whistle.crypto import read_card
    from whistle.submit.config import SERVER_CARD_FILE

    path = directory / SERVER_CARD_FILE
    click.echo(f"Server card (carry it to the inbox): {path}")
    click.echo(f"Server fingerprint: {read_card(path.read_bytes()).fingerprint}")
    click.echo(
        "Read this fingerprint to the office over a channel you trust (in person, by phone); "
        "`whistle inbox trust-server` asks them to compare it."
    )


@server.command("setup")
@click.option(
    "--office-card",
    "card_path",
    type=ExistingPath(exists=True, dir_okay=False, path_type=Path),
    help="The office card file from `whistle office init` (needed the first time).",
)
@fingerprint_option
@language_option
@click.option("--database-url", default="", help="PostgreSQL database (empty: SQLite).")
@click.option(
    "--courier-key",
    help="The office courier machine's x25519 public key (base32): sets up the "
    "client-authorised courier onion service. Without it the courier stays off.",
)
@click.option(
    "--root",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("/"),
    show_default=True,
    help="Write everything under this directory instead of / (for tests); starts nothing.",
)
def setup_command(
    card_path: Path | None,
    fingerprint: str | None,
    language: str,
    database_url: str,
    courier_key: str | None,
    root: Path,
) -> None:
    """Set up this Debian 12 server (run as root): user, data directory, config, hardened
    units, tor, start-up checks, services started. Run it again: it changes only what differs."""
    from whistle.submit.server_setup import DATA_DIR, SetupOptions, run_setup, under

    def confirm(name: str, office_fingerprint: str) -> str:
        click.echo(f"Office card: {name}\nFingerprint: {office_fingerprint}")
        return click.prompt("Type the fingerprint the office read out to you")

    options = SetupOptions(
        root=root.resolve(),
        office_card=card_path,
        fingerprint=fingerprint,
        language=language,
        database_url=database_url,
        courier_key=courier_key,
    )
    click.echo(f"Setting up the Whistle server under {options.root}:")
    try:
        changes = run_setup(options, click.echo, confirm)
    except WhistleError as exc:
        raise click.ClickException(str(exc)) from exc
    _show_server_card(under(options.root, DATA_DIR))
    hostname = under(options.root, "/var/lib/tor/whistle-source/hostname")
    if hostname.is_file():
        click.echo(f"Source site's onion address: {hostname.read_text().strip()}")
    else:
        click.echo(f"tor writes the source site's onion address to {hostname} once it runs.")
    if changes.changed:
        click.echo(f"Done: {len(changes.changed)} change(s).")
    else:
        click.echo("Nothing to change: this server was already set up.")


@server.command("upgrade")
@click.argument("directory", type=ExistingPath(exists=True, file_okay=False, path_type=Path))
def upgrade(directory: Path) -> None:
    """Bring the database to the newest schema (run after installing a new version)."""
    from whistle.submit.config import load_config
    from whistle.submit.server_setup import migrate

    try:
        migrate(load_config(directory).database_url, click.echo)
    except WhistleError as exc:
        raise click.ClickException(str(exc)) from exc


@server.command("run")
@click.argument("directory", type=ExistingPath(exists=True, file_okay=False, path_type=Path))
@click.option("--port", default=8080, show_default=True, type=click.IntRange(1, 65535))
def run(directory: Path, port: int) -> None:
    """Serve DIRECTORY on 127.0.0.1 for development (production uses gunicorn)."""
    from werkzeug.serving import WSGIRequestHandler, run_simple

    from whistle.submit import create_app
    from whistle.submit.config import load_config

    class QuietHandler(WSGIRequestHandler):
        """No access log (no addresses, no paths) and no version in a Server header."""

        def version_string(self) -> str:
            return "whistle"

        def log_request(self, *args: object, **kwargs: object) -> None:
            pass

    try:
        app = create_app(load_config(directory))
    except WhistleError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"Serving on http://127.0.0.1:{port}/ (development only)")
    run_simple("127.0.0.1", port, app, request_handler=QuietHandler)


def _load(directory: Path) -> "tuple[SubmitConfig, Engine]":
    from whistle.submit import db
    from whistle.submit.config import load_config

    try:
        config = load_config(directory)
        engine = db.make_engine(config.database_url)
        db.check_schema(engine)
    except WhistleError as exc:
        raise click.ClickException(str(exc)) from exc
    return config, engine


def _today(config: "SubmitConfig") -> datetime.date:
    import zoneinfo

    return datetime.datetime.now(zoneinfo.ZoneInfo(config.time_zone)).date()


@server.command("export")
@click.argument("directory", type=ExistingPath(exists=True, file_okay=False, path_type=Path))
@click.option(
    "--out",
    "out",
    required=True,
    type=click.Path(dir_okay=False, writable=True, path_type=Path),
    help="Where to write the outbox bundle (for the inbox).",
)
@click.option(
    "--after",
    default=0,
    type=click.IntRange(0),
    help="After restoring a backup: number this bundle above the last number the office "
    "applied (its Bundles page shows it), or the inbox refuses it as old.",
)
def export(directory: Path, out: Path, after: int) -> None:
    """Write the outbox bundle: every report and follow-up not yet acknowledged."""
    from whistle.bundling import write_file_then
    from whistle.submit.bundles import export_outbox
    from whistle.submit.db import make_sessions, start_export

    config, engine = _load(directory)
    try:
        with make_sessions(engine)() as session:
            start_export(session)  # one snapshot: nothing listed twice or half, nothing missed
            summary = None

            def write(handle: BinaryIO) -> None:
                nonlocal summary
                summary = export_outbox(session, config, handle, today=_today(config), after=after)

            write_file_then(out, write, session.commit)
    except (WhistleError, OSError) as exc:
        raise click.ClickException(str(exc)) from exc
    finally:
        engine.dispose()
    for line in summary.lines() if summary else []:
        click.echo(line)
    click.echo(f"Wrote {out}")


@server.command("import")
@click.argument("directory", type=ExistingPath(exists=True, file_okay=False, path_type=Path))
@click.argument("bundle", type=ExistingPath(exists=True, dir_okay=False, path_type=Path))
def import_command(directory: Path, bundle: Path) -> None:
    """Apply a replies bundle from the inbox: replies, acknowledgements, purge orders."""
    from whistle.bundling import read_limited
    from whistle.submit.bundles import apply_replies
    from whistle.submit.db import make_sessions, start_write

    config, engine = _load(directory)
    try:
        with bundle.open("rb") as handle:
            data = read_limited(handle, config.max_bundle_bytes)
        with make_sessions(engine)() as session, session.begin():
            start_write(session)
            summary = apply_replies(session, config, data, today=_today(config))
    except (WhistleError, OSError) as exc:
        raise click.ClickException(f"{exc} — nothing was changed") from exc
    finally:
        engine.dispose()
    for line in summary.lines():
        click.echo(line)


@server.command("remove-record")
@click.argument("directory", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.argument("order", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def remove_record_command(directory: Path, order: Path) -> None:
    """Apply a record order file from the office now (`whistle inbox remove-record --out`).

    The order is signed by the office key and names one record: it is deleted with a
    tombstone (a report takes its case along), as when a replies bundle carries the order.
    """
    from whistle.crypto.orders import MAX_ORDER_BYTES
    from whistle.record_orders import read_any
    from whistle.submit.db import make_sessions, start_write
    from whistle.submit.record_orders import apply_orders

    config, engine = _load(directory)
    try:
        with order.open("rb") as handle:
            blob = handle.read(MAX_ORDER_BYTES + 1)
        verified = read_any(
            blob,
            office_signing_key=config.office_card.signing_key,
            install_id=config.install_id,
        )
        with make_sessions(engine)() as session, session.begin():
            start_write(session)
            done = apply_orders(session, [verified], _today(config))
    except (WhistleError, OSError) as exc:
        raise click.ClickException(f"{exc} — nothing was changed") from exc
    finally:
        engine.dispose()
    click.echo(f"record {verified.kind} order for {verified.record_id}: {verified.reason}")
    for name, count in done.counts().items():
        click.echo(f"{name}: {count}")


@server.command("housekeeping")
@click.argument("directory", type=ExistingPath(exists=True, file_okay=False, path_type=Path))
def housekeeping_command(directory: Path) -> None:
    """Expire replies, drop stale courier challenges, vacuum the database."""
    import time

    from sqlalchemy import text

    from whistle.submit.bundles import housekeeping
    from whistle.submit.db import make_sessions, start_write

    config, engine = _load(directory)
    try:
        with make_sessions(engine)() as session, session.begin():
            start_write(session)
            report = housekeeping(
                session, config, today=_today(config), now_minute=int(time.time()) // 60
            )
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            if engine.dialect.name == "sqlite":
                connection.exec_driver_sql("VACUUM")
                connection.execute(text("PRAGMA wal_checkpoint(TRUNCATE)"))
            else:
                # Dead rows of deleted ciphertext: their space marked free (docs/deployment.md).
                connection.exec_driver_sql("VACUUM chunks, records, logins, source_copies")
    except WhistleError as exc:
        raise click.ClickException(str(exc)) from exc
    finally:
        engine.dispose()
    click.echo(f"Replies expired: {report.replies_expired}")
    _drop_unused_previous_pepper(directory, config)


def _drop_unused_previous_pepper(directory: Path, config: "SubmitConfig") -> None:
    """After a pepper rotation: remove the previous pepper once no login needs it."""
    from whistle.submit import db
    from whistle.submit.pepper import PepperError, drop_previous

    if config.previous_pepper is None:
        return
    engine = db.make_engine(config.database_url)
    try:
        drop_previous(directory, config, db.make_sessions(engine), force=False)
    except PepperError:
        return  # some logins still need it: kept (whistle server status counts them)
    finally:
        engine.dispose()
    click.echo("The previous pepper is no longer needed by any login: removed.")


@server.command("rotate-pepper")
@click.argument("directory", type=ExistingPath(exists=True, file_okay=False, path_type=Path))
@click.option(
    "--drop-previous",
    is_flag=True,
    help="Instead of rotating: remove the previous pepper now (logins still on it stop working).",
)
@click.option("--yes", is_flag=True, help="Do not ask before dropping a pepper still in use.")
def rotate_pepper_command(directory: Path, drop_previous: bool, yes: bool) -> None:
    """Make a new pepper; the old one is kept until every login has moved to the new one."""
    from whistle.submit import db
    from whistle.submit.pepper import drop_previous as drop
    from whistle.submit.pepper import logins_on_previous, rotate

    config, engine = _load(directory)
    try:
        sessions = db.make_sessions(engine)
        if drop_previous:
            with sessions() as session:
                waiting = logins_on_previous(session, config)
            if waiting is None:
                click.echo("No previous pepper is kept: nothing to drop.")
                drop(directory, config, sessions, force=False)  # a half-way leftover, if any
                return
            if (
                waiting
                and not yes
                and not click.confirm(
                    f"{waiting} login(s) still use the previous pepper: those sources will no "
                    "longer open their case with their code. Drop it?"
                )
            ):
                raise click.ClickException("Nothing was changed.")
            lost = drop(directory, config, sessions, force=True)
            click.echo(f"Previous pepper removed ({lost} login(s) could no longer be opened).")
        else:
            rotate(directory, config, sessions)
            click.echo(f"New pepper in {directory / 'pepper'}; the old one is pepper.previous.")
            click.echo(
                "This host's running site uses it from its next check-in. Other hosts: copy "
                "both files to them now and start them again (docs/deployment.md §16)."
            )
    except WhistleError as exc:
        raise click.ClickException(str(exc)) from exc
    finally:
        engine.dispose()


@server.command("status")
@click.argument("directory", type=ExistingPath(exists=True, file_okay=False, path_type=Path))
def status_command(directory: Path) -> None:
    """What an operator may know: counts, days, storage, health. Exit 1 when unhealthy."""
    from whistle.submit.config import load_config
    from whistle.submit.health import server_status

    try:
        config = load_config(directory)
        status = server_status(directory, config, _today(config))
    except WhistleError as exc:
        raise click.ClickException(str(exc)) from exc
    mib = 2**20
    collected = (
        "never"
        if status.days_since_collection is None
        else f"{status.days_since_collection} day(s) ago"
    )
    click.echo(f"Submissions waiting for collection: {status.submissions_waiting}")
    click.echo(f"Follow-ups waiting for collection:  {status.followups_waiting}")
    click.echo(f"Office replies held for sources:    {status.replies_held}")
    click.echo(f"Last collection (outbox export):    {collected}")
    click.echo(
        f"Storage: {status.storage_used / mib:.1f} MiB of {status.storage_quota / mib:.0f} MiB"
    )
    if status.free_bytes is not None:
        click.echo(f"Free space in the data directory:   {status.free_bytes / mib:.0f} MiB")
    click.echo(f"Database: {'ok' if status.database_ok else 'FAILED its integrity check'}")
    click.echo(
        "Schema: "
        + ("current" if status.schema_current else "out of date: run whistle server upgrade")
    )
    click.echo("Keys and office card: ok (checked when the configuration loaded)")
    if status.logins_on_previous_pepper is not None:
        click.echo(
            f"Logins still on the previous pepper: {status.logins_on_previous_pepper} "
            "(each moves to the new one at its next check-in; housekeeping removes "
            "pepper.previous once none is left)"
        )
    if status.database_ok and status.schema_current:
        try:
            click.echo(f"Office key epoch: {_epoch_line(config)}")
        except WhistleError as exc:
            status = dataclasses.replace(status, problems=(*status.problems, str(exc)))
    for problem in status.problems:
        click.echo(f"PROBLEM: {problem}")
    if not status.healthy:
        raise SystemExit(1)


@server.command("published")
@click.argument("directory", type=ExistingPath(exists=True, file_okay=False, path_type=Path))
def published_command(directory: Path) -> None:
    """Print what the office publishes off the server (deployment.md §8): the office
    fingerprint this server pins and the SHA-256 of the page script it serves."""
    from whistle.submit.config import load_config
    from whistle.submit.published import published_lines

    try:
        config = load_config(directory)
        lines = published_lines(config.office_card.fingerprint)
    except WhistleError as exc:
        raise click.ClickException(str(exc)) from exc
    for line in lines:
        click.echo(line)


@server.command("rotate-signing-key")
@click.argument("directory", type=ExistingPath(exists=True, file_okay=False, path_type=Path))
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
def rotate_signing_key_command(directory: Path, yes: bool) -> None:
    """New server signing and bundle keys, and a new server card (same install).

    Before: collect everything (export, import in the inbox) and apply every replies bundle
    the inbox wrote. After: the office pins the new card with `whistle inbox trust-server
    --replace` (docs/deployment.md, "Rotating the server signing key").
    """
    from whistle.submit.datadir import rotate_signing_key

    if not yes and not click.confirm(
        "Bundles made before the rotation stop being accepted on either side. Have the outbox "
        "been collected and every replies bundle from the inbox applied here?"
    ):
        raise click.ClickException("Nothing was changed.")
    try:
        card = rotate_signing_key(directory)
    except WhistleError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"New server card: {directory / 'server-card.json'}")
    click.echo(f"New fingerprint: {card.fingerprint}")
    click.echo("Copy the three changed files (server-signing.seed, server-bundle.key,")
    click.echo("server-card.json) to every other host, reload the service everywhere, and give")
    click.echo("the office the new card: they pin it with `whistle inbox trust-server --replace`")
    click.echo("after comparing this fingerprint with you over a channel you trust.")


def _epoch_line(config: "SubmitConfig") -> str:
    """The current office key epoch and what is still stored per epoch."""
    from whistle.submit.db import make_engine, make_sessions
    from whistle.submit.epochs import cards, stored_epochs

    engine = make_engine(config.database_url)
    try:
        with make_sessions(engine)() as session:
            known = cards(session, config)
            stored = stored_epochs(session)
    finally:
        engine.dispose()
    waiting = ", ".join(
        f"{count} of epoch {epoch if epoch is not None else config.office_card.epoch}"
        for epoch, count in sorted(stored.items(), key=lambda item: item[0] or 0)
    )
    applied = f", applied {known.applied.isoformat()}" if known.applied else " (the pinned card)"
    return f"{known.current.epoch}{applied}" + (f"; records waiting: {waiting}" if waiting else "")
