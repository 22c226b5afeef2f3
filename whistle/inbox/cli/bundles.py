"""Bundles and sync: pin the server, import an outbox bundle, export replies, sync through the
courier."""

from pathlib import Path

import click

from whistle.bundling import BundleSummary, read_limited, write_file_then
from whistle.cli_paths import ExistingPath
from whistle.errors import WhistleError
from whistle.inbox import db
from whistle.inbox.cli.common import (
    inbox,
    make_config,
    office_session,
    office_zone,
    officer_option,
    open_engine,
    password_option,
    read_recovery_key,
    recovery_key_file_option,
    signed_in,
    signed_in_office,
)
from whistle.inbox.config import InboxConfig


@inbox.command("trust-server")
@click.argument("data_dir", type=ExistingPath(path_type=Path, file_okay=False, exists=True))
@click.argument("card", type=ExistingPath(path_type=Path, dir_okay=False, exists=True))
@click.option("--yes", is_flag=True, help="Do not ask: the fingerprint was compared already.")
@click.option(
    "--replace",
    is_flag=True,
    help="Replace the pinned card (a server key rotation or a rebuilt server); a manager "
    "signs in with --officer.",
)
@click.option("--officer", "officer_name", default=None, help="With --replace: your name.")
@click.option(
    "--password-file",
    type=ExistingPath(path_type=Path, dir_okay=False, exists=True),
    help="With --replace: read your password from this file's first line.",
)
@click.pass_context
def trust_server(
    ctx: click.Context,
    data_dir: Path,
    card: Path,
    yes: bool,
    replace: bool,
    officer_name: str | None,
    password_file: Path | None,
) -> None:
    """Pin the server's card CARD before the first import (or replace it with --replace)."""
    from whistle.inbox.office_setup import pin_server, read_server_card

    if replace and not officer_name:
        raise click.UsageError("--replace needs --officer: a manager signs in to replace a pin.")
    config = make_config(ctx, data_dir)
    data = card.read_bytes()
    server = read_server_card(data)
    click.echo(f"Server: {server.name} (install {server.install_id})")
    click.echo(f"Fingerprint: {server.fingerprint}")
    question = (
        "Did the server's operator read you this fingerprint over a channel you trust?"
        if replace
        else "Is this the server fingerprint the server's operator read to you "
        "(`whistle server setup` or `init` shows it)?"
    )
    if not yes and not click.confirm(question):
        raise click.ClickException("Not pinned.")
    engine = open_engine(config)
    try:
        if replace:
            from whistle.inbox.server_pin import replace_server_pin

            signed = signed_in(config, engine, str(officer_name), password_file)
            with db.transaction(db.session_factory(engine)) as session:
                _, other_install = replace_server_pin(
                    session, config, data, by_officer_id=signed.officer_id
                )
        else:
            with db.transaction(db.session_factory(engine)) as session:
                pin_server(session, config, data)
    finally:
        engine.dispose()
    if not replace:
        click.echo("Server card pinned.")
        return
    click.echo("Server card replaced; the change is in the audit log.")
    if other_install:
        click.echo(
            "This is another install: its bundles are numbered from 1 again, and sources' "
            "codes from the old install do not open anything on it."
        )


inbox.add_command(trust_server, "pin-server")


def _print_summary(summary: BundleSummary, heading: str) -> None:
    click.echo(heading)
    for line in summary.lines():
        click.echo(f"  {line}")


@inbox.command("import")
@click.argument("data_dir", type=ExistingPath(path_type=Path, file_okay=False, exists=True))
@click.argument("bundle", type=ExistingPath(path_type=Path, dir_okay=False, exists=True))
@officer_option
@password_option
@click.pass_context
def import_command(
    ctx: click.Context, data_dir: Path, bundle: Path, officer_name: str, password_file: Path | None
) -> None:
    """Apply an outbox bundle from the server: new reports and follow-ups; then delete the
    cases whose art. 32.4 deadline has come (as the dashboard does)."""
    from whistle.inbox.bundles import MAX_BUNDLE_BYTES, import_outbox, preview_outbox
    from whistle.inbox.deadlines import office_today
    from whistle.inbox.deletions import purge_due
    from whistle.inbox.epochs import scrub
    from whistle.inbox.workflow import remove_files

    time_zone = office_zone(ctx, data_dir, None)

    try:
        with signed_in_office(ctx, data_dir, officer_name, password_file) as (
            config,
            engine,
            signed,
        ):
            with bundle.open("rb") as handle:
                data = read_limited(handle, MAX_BUNDLE_BYTES)
            with db.transaction(db.session_factory(engine)) as session:
                _print_summary(preview_outbox(session, signed.keyring, data), "The bundle holds:")
            with db.transaction(db.session_factory(engine)) as session:
                summary = import_outbox(
                    session,
                    signed.keyring,
                    data,
                    store_dir=config.store_dir,
                    now=config.clock(),
                    officer_id=signed.officer_id,
                )
            with db.transaction(db.session_factory(engine)) as session:
                purged, gone = purge_due(
                    session,
                    signed.keyring,
                    now=config.clock(),
                    today=office_today(config.clock(), time_zone),
                    store_dir=config.store_dir,
                )
            remove_files(gone)
            scrubbed = scrub(engine)  # destroyed keys, if any: out of the write-ahead log too
    except WhistleError as exc:
        raise click.ClickException(f"{exc} — nothing was changed") from exc
    _print_summary(summary, "Applied:")
    if purged:
        click.echo(
            f"{len(purged)} case(s) past their deletion deadline (art. 32.4) deleted; the "
            "register keeps their lines, the next replies bundle orders the server to delete them."
        )
    if not scrubbed:
        click.echo(
            "Note: the inbox is open elsewhere, so the database log could not be emptied now; "
            "the next import or start of the inbox does it."
        )


@inbox.command("file-held")
@click.argument("data_dir", type=ExistingPath(path_type=Path, file_okay=False, exists=True))
@click.option("--officer", "officer_name", default=None, help="Your sign-in name.")
@password_option
@recovery_key_file_option
@click.option(
    "--recovery-key",
    "use_recovery_key",
    is_flag=True,
    help="File with the recovery key instead of an officer's keys (it opens every desk).",
)
@click.pass_context
def file_held_command(
    ctx: click.Context,
    data_dir: Path,
    officer_name: str | None,
    password_file: Path | None,
    recovery_key_file: Path | None,
    use_recovery_key: bool,
) -> None:
    """File the records an import held back for desks the importer is not in: those your
    desks' keys open (a sign-in does it too), or all of them with the recovery key; then
    say what still waits."""
    from whistle.inbox import audit
    from whistle.inbox.bundles import file_held_back
    from whistle.inbox.held_back import waiting
    from whistle.inbox.officers import open_with_recovery_key

    recovery = use_recovery_key or recovery_key_file is not None
    if (officer_name is not None) == recovery:
        raise click.UsageError("Give --officer, or --recovery-key (or --recovery-key-file).")
    config = make_config(ctx, data_dir)
    engine = open_engine(config)
    try:
        if officer_name is not None:
            # The sign-in files what this officer's desks open already.
            signed = signed_in(config, engine, officer_name, password_file)
            keyring, officer_id = signed.keyring, signed.officer_id
        else:
            key = read_recovery_key(recovery_key_file)
            with db.transaction(db.session_factory(engine)) as session:
                keyring, officer_id = open_with_recovery_key(session, key).keyring, None
        with db.transaction(db.session_factory(engine)) as session:
            audit.use_key(session, audit.key_for(keyring.storage_secret))
            applied = file_held_back(
                session,
                keyring,
                store_dir=config.store_dir,
                now=config.clock(),
                officer_id=officer_id,
            )
            left = waiting(session)
    except WhistleError as exc:
        raise click.ClickException(f"{exc} — nothing was changed") from exc
    finally:
        engine.dispose()
    if applied is not None:
        for name, count in applied.counts().items():
            if count:
                click.echo(f"  {name}: {count}")
    for group in left:
        click.echo(group.line())
    if not left:
        click.echo("Nothing is held back for another desk.")


@inbox.command("export")
@click.argument("data_dir", type=ExistingPath(path_type=Path, file_okay=False, exists=True))
@click.option(
    "--out", required=True, type=click.Path(path_type=Path, dir_okay=False), help="Bundle file."
)
@officer_option
@password_option
@click.pass_context
def export_command(
    ctx: click.Context, data_dir: Path, out: Path, officer_name: str, password_file: Path | None
) -> None:
    """Write a replies bundle for the server: replies, acknowledgements, purge orders."""
    from whistle.inbox.bundles import export_replies

    with (
        signed_in_office(ctx, data_dir, officer_name, password_file) as (config, engine, signed),
        db.session_factory(engine)() as session,
    ):
        result: list[BundleSummary] = []
        write_file_then(
            out,
            lambda handle: result.append(
                export_replies(session, signed.keyring, handle, now=config.clock())
            ),
            session.commit,
        )
    _print_summary(result[0], f"Wrote {out}:")


@inbox.command("sync")
@click.argument("data_dir", type=ExistingPath(path_type=Path, file_okay=False, exists=True))
@click.option("--url", required=True, help="The courier's address (its onion, or 127.0.0.1).")
@click.option("--socks", default=None, metavar="HOST:PORT", help="tor's SOCKS port.")
@officer_option
@password_option
@click.pass_context
def sync_command(
    ctx: click.Context,
    data_dir: Path,
    url: str,
    socks: str | None,
    officer_name: str,
    password_file: Path | None,
) -> None:
    """Exchange bundles with the server's courier endpoint."""
    from whistle.inbox.courier_client import sync_directory

    config = make_config(ctx, data_dir)
    engine = open_engine(config)
    try:
        signed = signed_in(config, engine, officer_name, password_file)
    finally:
        engine.dispose()
    result = sync_directory(data_dir, signed.keyring, config, url, socks)
    if result.received:
        _print_summary(result.received, "Received:")
    if result.sent:
        _print_summary(result.sent, "Sent:")
        for line in result.server_said:
            click.echo(f"  server: {line}")
    _say_held(config)


def _say_held(config: InboxConfig) -> None:
    """Name the acknowledgements that wait for a backup (the server keeps those reports)."""
    from whistle.inbox.outgoing import held_acks

    with office_session(config) as session:
        held = held_acks(session)
    if held:
        click.echo(
            f"{held} acknowledgement(s) wait for a backup: the server keeps those reports "
            "until then (`whistle inbox backup`)."
        )


@inbox.command("remove-record")
@click.argument("data_dir", type=click.Path(path_type=Path, file_okay=False, exists=True))
@click.argument("record_id")
@click.option(
    "--case",
    "case_id",
    default=None,
    help="The record's case id, for a record this inbox never imported (the import summary "
    "and the audit log name both).",
)
@click.option(
    "--kind",
    "record_kind",
    type=click.Choice(["submission", "followup", "reply"]),
    default=None,
    help="The record's kind, for a record this inbox never imported (the import summary "
    "names it): the server then removes only a record of that kind.",
)
@click.option("--reason", required=True, help="Why (kept in the audit log and in the order).")
@click.option(
    "--out",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="Also write the signed order to this file: the server's operator can apply it at "
    "once with `whistle server remove-record`.",
)
@officer_option
@password_option
@click.pass_context
def remove_record_command(
    ctx: click.Context,
    data_dir: Path,
    record_id: str,
    case_id: str | None,
    record_kind: str | None,
    reason: str,
    out: Path | None,
    officer_name: str,
    password_file: Path | None,
) -> None:
    """Order the server to remove one record RECORD_ID; managers only.

    The order is signed by the office key and goes with the next replies bundle; the server
    deletes the record (a report takes its whole case along) and keeps a tombstone.
    """
    from whistle.inbox.officers import require_manager
    from whistle.inbox.outgoing import order_removal

    with (
        signed_in_office(ctx, data_dir, officer_name, password_file) as (config, engine, signed),
        db.transaction(db.session_factory(engine)) as session,
    ):
        require_manager(session, signed.officer_id)
        blob = order_removal(
            session,
            signed.keyring,
            record_id=record_id.strip().lower(),
            case_id=case_id.strip().lower() if case_id else None,
            record_kind=record_kind,
            reason=reason,
            now=config.clock(),
            officer_id=signed.officer_id,
        )
        if out is not None:
            write_file_then(out, lambda handle: handle.write(blob), lambda: None)
    click.echo(f"Removal of record {record_id} queued: it goes with the next replies bundle.")
    if out is not None:
        click.echo(f"Wrote {out}: `whistle server remove-record DIR {out.name}` applies it now.")
