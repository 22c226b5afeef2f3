"""``whistle office …`` and ``whistle inbox …``: the offline side.

This is the edge: options become an ``InboxConfig`` here and nowhere else.
Tests may pass ``obj={"config": {...}}`` to click to inject weak Argon2
parameters and a clock (the ``insecure_kdf_params`` fixture); the installed
command never does.
"""

import ipaddress
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click

from whistle.errors import WhistleError

DEFAULT_PORT = 8470


def _config(ctx: click.Context, data_dir: Path, **options: Any):  # type: ignore[no-untyped-def]
    from whistle.inbox.config import InboxConfig

    overrides = dict((ctx.obj or {}).get("config", {}))
    overrides.update({k: v for k, v in options.items() if v is not None})
    return InboxConfig(data_dir=data_dir, **overrides)


def _read_password(password_file: Path | None, prompt: str, confirm: bool = False) -> str:
    if password_file is not None:
        lines = password_file.read_text(encoding="utf-8").splitlines()
        if not lines or not lines[0]:
            raise click.ClickException(f"{password_file} holds no password on its first line.")
        return lines[0]
    return str(click.prompt(prompt, hide_input=True, confirmation_prompt=confirm))


class _Edge(click.Group):
    """Turns every ``WhistleError`` into one clear line and exit status 1."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except WhistleError as exc:
            raise click.ClickException(str(exc)) from exc


@click.group(cls=_Edge)
def office() -> None:
    """Create the office: desks, custodian, signing key, first officer."""


@office.command("init")
@click.argument("data_dir", type=click.Path(path_type=Path, file_okay=False))
@click.option("--name", "office_name", required=True, help="The office's name, shown on its card.")
@click.option(
    "--desk",
    "desks",
    multiple=True,
    metavar="ID=NAME",
    help="A desk (receiving unit): id of lower-case letters, digits, dashes. Repeatable.",
)
@click.option("--officer", "officer_name", required=True, help="The first officer's sign-in name.")
@click.option("--password-file", type=click.Path(path_type=Path, dir_okay=False, exists=True))
@click.option(
    "--card-out",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Where to write the office card (default: DATA_DIR/office-card.json).",
)
@click.option(
    "--first-officer-is-custodian",
    is_flag=True,
    help="Also make the first officer the identity custodian (small offices).",
)
@click.pass_context
def init(
    ctx: click.Context,
    data_dir: Path,
    office_name: str,
    desks: tuple[str, ...],
    officer_name: str,
    password_file: Path | None,
    card_out: Path | None,
    first_officer_is_custodian: bool,
) -> None:
    """Create an office in DATA_DIR and its first officer (system manager)."""
    from whistle.inbox.office_setup import init_office

    parsed: list[tuple[str, str]] = []
    for desk in desks or ("office=" + office_name,):
        desk_id, sep, desk_name = desk.partition("=")
        if not sep:
            raise click.BadParameter("write each desk as ID=NAME", param_hint="--desk")
        parsed.append((desk_id.strip(), desk_name.strip()))
    card_path = card_out or data_dir / "office-card.json"
    if card_out is not None and (card_out.exists() or not card_out.parent.is_dir()):
        raise click.BadParameter(
            "give a new file in an existing directory", param_hint="--card-out"
        )
    password = _read_password(password_file, "First officer's password", confirm=True)
    config = _config(ctx, data_dir)
    created = init_office(
        config,
        name=office_name,
        desks=parsed,
        officer_name=officer_name,
        password=password,
        first_officer_is_custodian=first_officer_is_custodian,
    )
    click.echo(f"Office created in {data_dir}.")
    click.echo("")
    click.echo("RECOVERY KEY — shown once, never stored. Print it or write it down and keep it")
    click.echo("in a safe; with it the office keys can be recovered if every password is lost:")
    click.echo("")
    click.echo(f"    {created.recovery_key}")
    click.echo("")
    try:
        card_path.write_bytes(created.card)
    except OSError as exc:
        raise click.ClickException(
            f"The office card could not be written to {card_path} ({exc.strerror}); "
            f"the office exists: write it again with `whistle office card {data_dir} --out FILE`."
        ) from exc
    click.echo(f"Office card for the server: {card_path}")
    click.echo(f"Office fingerprint: {created.fingerprint}")
    click.echo("Compare this fingerprint with the one `whistle server init` shows.")


@office.command("card")
@click.argument("data_dir", type=click.Path(path_type=Path, file_okay=False, exists=True))
@click.option("--out", type=click.Path(path_type=Path, dir_okay=False), required=True)
@click.pass_context
def card(ctx: click.Context, data_dir: Path, out: Path) -> None:
    """Write the office card (public) to OUT again and show its fingerprint."""
    from whistle.inbox.office_setup import load_office

    config = _config(ctx, data_dir)
    with _office_session(config) as session:
        row = load_office(session)
        data, fingerprint = row.card, row.fingerprint
    out.write_bytes(data)
    click.echo(f"Office card: {out}")
    click.echo(f"Office fingerprint: {fingerprint}")


_time_zone = click.option(
    "--time-zone",
    default="UTC",
    show_default=True,
    help="The office's time zone (as on the server): the legal clocks count days there.",
)


@click.group(cls=_Edge)
def inbox() -> None:
    """The officers' inbox (offline, holds the office private keys)."""


@inbox.command("run")
@click.argument("data_dir", type=click.Path(path_type=Path, file_okay=False, exists=True))
@click.option("--host", default="127.0.0.1", show_default=True, help="Loopback only.")
@click.option("--port", default=DEFAULT_PORT, show_default=True, type=click.IntRange(1, 65535))
@click.option("--idle-minutes", default=10, show_default=True, type=click.IntRange(1, 240))
@click.option("--language", type=click.Choice(["ca", "es", "en"]), default="ca", show_default=True)
@_time_zone
@click.pass_context
def run(
    ctx: click.Context,
    data_dir: Path,
    host: str,
    port: int,
    idle_minutes: int,
    language: str,
    time_zone: str,
) -> None:
    """Serve the inbox on http://127.0.0.1:PORT/ (never on another interface)."""
    check_loopback(host)
    from werkzeug.serving import run_simple

    from whistle.inbox import create_app

    config = _config(
        ctx,
        data_dir,
        idle_lock_seconds=idle_minutes * 60,
        default_language=language,
        time_zone=time_zone,
    )
    app = create_app(config)
    click.echo(f"Inbox on http://127.0.0.1:{port}/ — stop with Ctrl-C.")
    run_simple("127.0.0.1", port, app, threaded=True, use_reloader=False, use_debugger=False)


def check_loopback(host: str) -> None:
    """Refuse any address but 127.0.0.1: the inbox holds the office private keys."""
    try:
        address = ipaddress.ip_address(host)
    except ValueError as exc:
        raise click.BadParameter("give 127.0.0.1", param_hint="--host") from exc
    if address != ipaddress.ip_address("127.0.0.1"):
        raise click.BadParameter(
            "the inbox binds 127.0.0.1 only (it holds the office keys)", param_hint="--host"
        )


@inbox.command("trust-server")
@click.argument("data_dir", type=click.Path(path_type=Path, file_okay=False, exists=True))
@click.argument("card", type=click.Path(path_type=Path, dir_okay=False, exists=True))
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
    type=click.Path(path_type=Path, dir_okay=False, exists=True),
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
    from whistle.inbox import db
    from whistle.inbox.office_setup import pin_server, read_server_card

    if replace and not officer_name:
        raise click.UsageError("--replace needs --officer: a manager signs in to replace a pin.")
    config = _config(ctx, data_dir)
    data = card.read_bytes()
    server = read_server_card(data)
    click.echo(f"Server: {server.name} (install {server.install_id})")
    click.echo(f"Fingerprint: {server.fingerprint}")
    question = (
        "Did the server's operator read you this fingerprint over a channel you trust?"
        if replace
        else "Is this the fingerprint `whistle server init` showed on the server?"
    )
    if not yes and not click.confirm(question):
        raise click.ClickException("Not pinned.")
    engine = _engine(config)
    try:
        if replace:
            from whistle.inbox.server_pin import replace_server_pin

            signed = _signed_in(config, engine, str(officer_name), password_file)
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


def _engine(config: Any) -> Any:
    from whistle.inbox import db
    from whistle.inbox.errors import NotSetUpError

    if not config.database_path.is_file():
        raise NotSetUpError(f"{config.data_dir} holds no office: run `whistle office init`.")
    engine = db.make_engine(config.database_path)
    db.upgrade(engine)
    return engine


@contextmanager
def _office_session(config: Any) -> Iterator[Any]:
    """One transaction on the office's database (no sign-in); the engine is disposed after."""
    from whistle.inbox import db

    engine = _engine(config)
    try:
        with db.transaction(db.session_factory(engine)) as session:
            yield session
    finally:
        engine.dispose()


@contextmanager
def _signed_in_office(
    ctx: click.Context, data_dir: Path, name: str, password_file: Path | None
) -> Iterator[tuple[Any, Any, Any]]:
    """The office's config, its database engine and a signed-in officer; the engine is
    disposed when the block ends."""
    config = _config(ctx, data_dir)
    engine = _engine(config)
    try:
        yield config, engine, _signed_in(config, engine, name, password_file)
    finally:
        engine.dispose()


def _signed_in(config: Any, engine: Any, name: str, password_file: Path | None) -> Any:
    from whistle.inbox import db
    from whistle.inbox.officers import sign_in

    password = _read_password(password_file, f"Password for {name}")
    with db.transaction(db.session_factory(engine)) as session:
        return sign_in(session, config, name, password)


_officer = click.option("--officer", "officer_name", required=True, help="Your sign-in name.")
_password = click.option(
    "--password-file",
    type=click.Path(path_type=Path, dir_okay=False, exists=True),
    help="Read the password from this file's first line instead of asking.",
)


@inbox.command("list")
@click.argument("data_dir", type=click.Path(path_type=Path, file_okay=False, exists=True))
@_officer
@_password
@click.option("--status", default=None)
@click.option("--desk", default=None)
@click.option("--search", "query", default="", help="Only cases whose content contains this.")
@click.option("--overdue", is_flag=True)
@click.pass_context
def list_command(
    ctx: click.Context,
    data_dir: Path,
    officer_name: str,
    password_file: Path | None,
    status: str | None,
    desk: str | None,
    query: str,
    overdue: bool,
) -> None:
    """List cases: id, status, desk, received day, files, subject (tab-separated)."""
    from whistle.inbox import db
    from whistle.inbox.cases import CaseFilters, list_cases

    with _signed_in_office(ctx, data_dir, officer_name, password_file) as (config, engine, signed):
        filters = CaseFilters(status=status, desk=desk, query=query, overdue=overdue)
        with db.transaction(db.session_factory(engine)) as session:
            page = list_cases(
                session, signed.keyring, filters, today=config.today(), page_size=10**9
            )
    for case in page.cases:
        subject = "[cannot be read: damaged]" if case.error else _one_line(case.subject)
        flag = " OVERDUE" if case.overdue else ""
        click.echo(
            f"{case.id}\t{case.status}{flag}\t{case.desk_id}\t{case.received_day}"
            f"\t{case.attachments}\t{subject}"
        )
    click.echo(f"{page.total} case(s)", err=True)


def _one_line(text: str, limit: int = 100) -> str:
    flat = " ".join(_printable(text).split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


@inbox.command("show")
@click.argument("data_dir", type=click.Path(path_type=Path, file_okay=False, exists=True))
@click.argument("case")
@_officer
@_password
@click.pass_context
def show(
    ctx: click.Context, data_dir: Path, case: str, officer_name: str, password_file: Path | None
) -> None:
    """Show a case (its id, or a unique prefix of at least 8 characters) and its conversation."""
    from sqlalchemy import select

    from whistle.inbox import db
    from whistle.inbox.cases import case_detail
    from whistle.inbox.errors import CaseNotFoundError
    from whistle.inbox.models import Case

    with (
        _signed_in_office(ctx, data_dir, officer_name, password_file) as (config, engine, signed),
        db.transaction(db.session_factory(engine)) as session,
    ):
        prefix = case.strip().lower()
        if len(prefix) < 8 or not all(c in "0123456789abcdef" for c in prefix):
            raise CaseNotFoundError("Give the case id, or at least its first 8 characters.")
        matches = list(session.scalars(select(Case.id).where(Case.id.startswith(prefix))))
        if len(matches) != 1:
            raise CaseNotFoundError(
                "No such case." if not matches else "Several cases start so: give more."
            )
        view = case_detail(session, signed.keyring, matches[0], today=config.today())
    _print_case(view)


def _print_case(view: Any) -> None:
    case = view.case
    click.echo(f"Case {case.id}")
    click.echo(f"Status: {case.status}{' (overdue)' if view.overdue else ''}")
    click.echo(f"Desk: {case.desk_id}")
    click.echo(f"Received: {case.received_day}  Acknowledge by: {view.acknowledgement_due}")
    click.echo(f"Assigned to: {view.assignee or '-'}")
    for entry in view.entries:
        click.echo("")
        click.echo(f"== {entry.kind} {entry.record_id} ({entry.received_day})")
        if entry.error:
            click.echo(f"   {entry.error}")
            continue
        for field in entry.form:
            click.echo(f"{field['label']}:")
            click.echo(_indent(field["value"]))
        if entry.message:
            click.echo(_indent(entry.message))
        for f in entry.files:
            click.echo(f"   file {f['index']}: {_printable(f['name'])} ({f['size']} bytes)")
    if view.notes:
        click.echo("")
        click.echo("== notes")
        for note in view.notes:
            click.echo(f"-- {note.author}, {note.created_at:%Y-%m-%d %H:%M}")
            click.echo(_indent(note.text if note.text is not None else note.error))


def _printable(text: str) -> str:
    """No terminal escape sequences from case content."""
    return "".join(c if c.isprintable() or c in "\n\t" else "\ufffd" for c in text)


def _indent(text: str) -> str:
    return "\n".join("   " + line for line in _printable(text).splitlines() or [""])


def _find_case(session: Any, case: str) -> str:
    from sqlalchemy import select

    from whistle.inbox.errors import CaseNotFoundError
    from whistle.inbox.models import Case, PurgedCase

    prefix = case.strip().lower()
    if len(prefix) < 8 or not all(c in "0123456789abcdef" for c in prefix):
        raise CaseNotFoundError("Give the case id, or at least its first 8 characters.")
    matches = list(session.scalars(select(Case.id).where(Case.id.startswith(prefix))))
    if not matches:
        matches = list(
            session.scalars(select(PurgedCase.case_id).where(PurgedCase.case_id.startswith(prefix)))
        )
    if len(matches) != 1:
        raise CaseNotFoundError(
            "No such case." if not matches else "Several cases start so: give more."
        )
    return str(matches[0])


@inbox.command("verify-audit")
@click.argument("data_dir", type=click.Path(path_type=Path, file_okay=False, exists=True))
@click.pass_context
def verify_audit(ctx: click.Context, data_dir: Path) -> None:
    """Check the audit log's hash chain; name the first broken entry (no password needed)."""
    from whistle.inbox.audit import verify_chain

    config = _config(ctx, data_dir)
    with _office_session(config) as session:
        head = verify_chain(session)
    click.echo(f"The audit log is intact: {head.count} entries, head {head.head.hex()}")


@inbox.command("reply")
@click.argument("data_dir", type=click.Path(path_type=Path, file_okay=False, exists=True))
@click.argument("case")
@click.option(
    "--text-file",
    required=True,
    type=click.Path(path_type=Path, dir_okay=False, exists=True),
    help="The reply's text (UTF-8).",
)
@click.option(
    "--file",
    "files",
    multiple=True,
    type=click.Path(path_type=Path, dir_okay=False, exists=True),
    help="Attach a file (repeatable).",
)
@click.option("--draft", is_flag=True, help="Save as a draft instead of queueing it.")
@_officer
@_password
@_time_zone
@click.pass_context
def reply_command(
    ctx: click.Context,
    data_dir: Path,
    case: str,
    text_file: Path,
    files: tuple[Path, ...],
    draft: bool,
    officer_name: str,
    password_file: Path | None,
    time_zone: str,
) -> None:
    """Write a reply to CASE's source and queue it for the next outgoing bundle."""
    from whistle.inbox import db, replies

    config = _config(ctx, data_dir, time_zone=time_zone)
    try:
        text = text_file.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise click.ClickException(f"{text_file} is not UTF-8 text.") from exc
    attached = [(path.name, path.read_bytes()) for path in files]
    engine = _engine(config)
    try:
        signed = _signed_in(config, engine, officer_name, password_file)
        with db.transaction(db.session_factory(engine)) as session:
            case_id = _find_case(session, case)
            written = replies.save_draft(
                session,
                signed.keyring,
                case_id,
                text,
                officer_id=signed.officer_id,
                now=config.clock(),
                files=attached,
            )
            if not draft:
                replies.mark_ready(
                    session,
                    signed.keyring,
                    case_id,
                    written.id,
                    officer_id=signed.officer_id,
                    now=config.clock(),
                    today=config.today(),
                    store_dir=config.store_dir,
                )
    finally:
        engine.dispose()
    click.echo(
        f"Draft saved for case {case_id[:8]}."
        if draft
        else f"Reply queued for case {case_id[:8]}: it leaves with the next outgoing bundle."
    )


@inbox.command("register")
@click.argument("data_dir", type=click.Path(path_type=Path, file_okay=False, exists=True))
@click.option("--out", required=True, type=click.Path(path_type=Path, dir_okay=False))
@_officer
@_password
@click.pass_context
def register_command(
    ctx: click.Context, data_dir: Path, out: Path, officer_name: str, password_file: Path | None
) -> None:
    """Write the register (libro-registro) as CSV."""
    from whistle.inbox import db, register

    with (
        _signed_in_office(ctx, data_dir, officer_name, password_file) as (_, engine, signed),
        db.transaction(db.session_factory(engine)) as session,
    ):
        lines = register.register_lines(session, signed.keyring)
    out.write_text(register.register_csv(lines), encoding="utf-8")
    click.echo(f"{len(lines)} case(s) written to {out}")


@inbox.command("export-case")
@click.argument("data_dir", type=click.Path(path_type=Path, file_okay=False, exists=True))
@click.argument("case")
@click.option("--out", required=True, type=click.Path(path_type=Path, dir_okay=False))
@click.option(
    "--passphrase-file",
    type=click.Path(path_type=Path, dir_okay=False, exists=True),
    help="Read the package passphrase from this file's first line instead of asking.",
)
@_officer
@_password
@click.pass_context
def export_case_command(
    ctx: click.Context,
    data_dir: Path,
    case: str,
    out: Path,
    passphrase_file: Path | None,
    officer_name: str,
    password_file: Path | None,
) -> None:
    """Export CASE for referral: a package encrypted with a passphrase you choose."""
    from whistle.inbox import db, export
    from whistle.inbox.audit import record_event

    config = _config(ctx, data_dir)
    passphrase = _read_password(passphrase_file, "Passphrase for the package", confirm=True)
    engine = _engine(config)
    partial = out.with_name(out.name + ".part")
    try:
        signed = _signed_in(config, engine, officer_name, password_file)
        with db.transaction(db.session_factory(engine)) as session:
            case_id = _find_case(session, case)
            with partial.open("wb") as target:
                export.export_case(
                    session,
                    signed.keyring,
                    case_id,
                    passphrase,
                    target,
                    store_dir=config.store_dir,
                    kdf_params=config.kdf_params,
                )
            partial.replace(out)
            record_event(
                session,
                config.clock(),
                "case-exported",
                officer_id=signed.officer_id,
                case_id=case_id,
            )
    finally:
        partial.unlink(missing_ok=True)
        engine.dispose()
    click.echo(f"Case {case_id[:8]} written to {out}. Give the passphrase by another channel.")


@inbox.command("open-referral")
@click.argument("package", type=click.Path(path_type=Path, dir_okay=False, exists=True))
@click.option("--out", required=True, type=click.Path(path_type=Path, dir_okay=False))
@click.option("--passphrase-file", type=click.Path(path_type=Path, dir_okay=False, exists=True))
def open_referral(package: Path, out: Path, passphrase_file: Path | None) -> None:
    """Open a referral package (the receiving authority's side): writes the ZIP inside."""
    from whistle.inbox import export

    passphrase = _read_password(passphrase_file, "Passphrase")
    with package.open("rb") as source:
        case_id, zipped = export.open_package(source, passphrase)
    out.write_bytes(zipped)
    click.echo(f"Case {case_id} written to {out} (summary.html and files/).")


def _print_summary(summary: Any, heading: str) -> None:
    click.echo(heading)
    for line in summary.lines():
        click.echo(f"  {line}")


@inbox.command("import")
@click.argument("data_dir", type=click.Path(path_type=Path, file_okay=False, exists=True))
@click.argument("bundle", type=click.Path(path_type=Path, dir_okay=False, exists=True))
@_officer
@_password
@click.pass_context
def import_command(
    ctx: click.Context, data_dir: Path, bundle: Path, officer_name: str, password_file: Path | None
) -> None:
    """Apply an outbox bundle from the server: new reports and follow-ups."""
    from whistle.bundling import read_limited
    from whistle.inbox import db
    from whistle.inbox.bundles import MAX_BUNDLE_BYTES, import_outbox, preview_outbox
    from whistle.inbox.epochs import scrub

    try:
        with _signed_in_office(ctx, data_dir, officer_name, password_file) as (
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
            scrubbed = scrub(engine)  # destroyed keys, if any: out of the write-ahead log too
    except WhistleError as exc:
        raise click.ClickException(f"{exc} — nothing was changed") from exc
    _print_summary(summary, "Applied:")
    if not scrubbed:
        click.echo(
            "Note: the inbox is open elsewhere, so the database log could not be emptied now; "
            "the next import or start of the inbox does it."
        )


@inbox.command("export")
@click.argument("data_dir", type=click.Path(path_type=Path, file_okay=False, exists=True))
@click.option(
    "--out", required=True, type=click.Path(path_type=Path, dir_okay=False), help="Bundle file."
)
@_officer
@_password
@click.pass_context
def export_command(
    ctx: click.Context, data_dir: Path, out: Path, officer_name: str, password_file: Path | None
) -> None:
    """Write a replies bundle for the server: replies, acknowledgements, purge orders."""
    from whistle.bundling import write_file_then
    from whistle.inbox import db
    from whistle.inbox.bundles import export_replies

    with (
        _signed_in_office(ctx, data_dir, officer_name, password_file) as (config, engine, signed),
        db.session_factory(engine)() as session,
    ):
        result: list[Any] = []
        write_file_then(
            out,
            lambda handle: result.append(
                export_replies(session, signed.keyring, handle, now=config.clock())
            ),
            session.commit,
        )
    _print_summary(result[0], f"Wrote {out}:")


@inbox.command("sync")
@click.argument("data_dir", type=click.Path(path_type=Path, file_okay=False, exists=True))
@click.option("--url", required=True, help="The courier's address (its onion, or 127.0.0.1).")
@click.option("--socks", default=None, metavar="HOST:PORT", help="tor's SOCKS port.")
@_officer
@_password
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

    config = _config(ctx, data_dir)
    engine = _engine(config)
    try:
        signed = _signed_in(config, engine, officer_name, password_file)
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


def _say_held(config: Any) -> None:
    """Name the acknowledgements that wait for a backup (the server keeps those reports)."""
    from whistle.inbox.outgoing import held_acks

    with _office_session(config) as session:
        held = held_acks(session)
    if held:
        click.echo(
            f"{held} acknowledgement(s) wait for a backup: the server keeps those reports "
            "until then (`whistle inbox backup`)."
        )


@inbox.command("backup")
@click.argument("data_dir", type=click.Path(path_type=Path, file_okay=False, exists=True))
@click.option(
    "--out",
    required=True,
    type=click.Path(path_type=Path),
    help="The backup file to write, or a directory (a dated name is chosen there).",
)
@_officer
@_password
@click.pass_context
def backup_command(
    ctx: click.Context, data_dir: Path, out: Path, officer_name: str, password_file: Path | None
) -> None:
    """Write the whole inbox into one encrypted file (opens with any officer's password)."""
    from whistle.inbox import db
    from whistle.inbox.backup import default_file_name, make_backup

    with _signed_in_office(ctx, data_dir, officer_name, password_file) as (config, engine, signed):
        now = config.clock()
        target = out / default_file_name(now) if out.is_dir() else out
        made = make_backup(
            db.session_factory(engine),
            config.database_path,
            config.store_dir,
            signed.keyring,
            target,
            now=now,
            officer_id=signed.officer_id,
        )
    click.echo(f"Backup written to {made.path}")
    click.echo(
        f"  {made.records} record(s), {made.size} bytes, made {made.made_at:%Y-%m-%d %H:%M} UTC"
    )
    click.echo(
        "  Acknowledgements for these records can now go to the server with the next export."
    )
    if made.same_disk:
        click.echo(SAME_DISK_WARNING, err=True)


SAME_DISK_WARNING = (
    "Warning: this backup is on the inbox's own disk and dies with this laptop. Copy it to "
    "a USB stick kept elsewhere before the next export lets the server delete these reports."
)


@inbox.command("restore")
@click.argument("backup_file", type=click.Path(path_type=Path, dir_okay=False, exists=True))
@click.argument("data_dir", type=click.Path(path_type=Path, file_okay=False))
@click.option("--officer", "officer_name", help="Open with this officer's password.")
@_password
@click.option(
    "--recovery-key-file",
    type=click.Path(path_type=Path, dir_okay=False, exists=True),
    help="Open with the recovery key (read from this file's first line).",
)
@click.option("--recovery-key", "use_recovery", is_flag=True, help="Type the recovery key.")
@click.option(
    "--expect-fingerprint",
    help="Refuse unless the backup belongs to the office with this fingerprint.",
)
@click.option("--yes", is_flag=True, help="Do not ask: the fingerprint was compared already.")
@click.pass_context
def restore_command(
    ctx: click.Context,
    backup_file: Path,
    data_dir: Path,
    officer_name: str | None,
    password_file: Path | None,
    recovery_key_file: Path | None,
    use_recovery: bool,
    expect_fingerprint: str | None,
    yes: bool,
) -> None:
    """Restore BACKUP_FILE into DATA_DIR (new or empty) on this machine."""
    from whistle.inbox import backup

    config = _config(ctx, data_dir)
    with_recovery = use_recovery or recovery_key_file is not None
    if with_recovery == (officer_name is not None):
        raise click.UsageError("Give either --officer NAME or the recovery key.")
    backup.check_target(data_dir)
    with backup_file.open("rb") as source:
        info = backup.read_header(source)
        click.echo(f"Backup of {info.office_name!r}, made {info.made_at:%Y-%m-%d %H:%M} UTC")
        click.echo(f"  {info.records} record(s); officers then: {', '.join(info.officers)}")
        click.echo(f"Office fingerprint: {info.fingerprint}")
        backup.check_fingerprint(info, expect_fingerprint)
        if (
            expect_fingerprint is None
            and not yes
            and not click.confirm("Is this your office's fingerprint (as on its card)?")
        ):
            raise click.ClickException("Nothing was restored.")
        if with_recovery:
            text = _read_recovery_key(recovery_key_file)
            keyring = backup.unlock_with_recovery_key(info, text)
        else:
            password = _read_password(password_file, f"Password for {officer_name}")
            keyring = backup.unlock_with_password(info, str(officer_name), password)
        restored = backup.restore_backup(
            source,
            info,
            keyring,
            data_dir,
            now=config.clock(),
            expect_fingerprint=expect_fingerprint,
            opened_by="the recovery key" if with_recovery else f"officer {officer_name}",
        )
    click.echo(
        f"Restored into {data_dir}: {restored.records} record(s), "
        f"audit log intact ({restored.audit_entries} entries)."
    )
    click.echo(f"Run the inbox with `whistle inbox run {data_dir}`.")


@inbox.command("settings")
@click.argument("data_dir", type=click.Path(path_type=Path, file_okay=False, exists=True))
@click.option(
    "--acknowledge-on-import/--acknowledge-after-backup",
    "ack_on_import",
    default=None,
    help="When the server may delete a report: as soon as it is imported, or (the default) "
    "once a backup made after the import holds it (docs/officer-guide.md, Backups).",
)
@click.option(
    "--backup-warning-days",
    type=click.IntRange(1, 365),
    help="Warn on the dashboard when the last backup is older than this.",
)
@_officer
@_password
@click.pass_context
def settings_command(
    ctx: click.Context,
    data_dir: Path,
    ack_on_import: bool | None,
    backup_warning_days: int | None,
    officer_name: str,
    password_file: Path | None,
) -> None:
    """Show the office settings; change them (a manager) with the options."""
    from whistle.inbox import db, settings
    from whistle.inbox.backup import backup_status
    from whistle.inbox.officers import require_manager

    with _signed_in_office(ctx, data_dir, officer_name, password_file) as (config, engine, signed):
        changing = ack_on_import is not None or backup_warning_days is not None
        now = config.clock()
        with db.transaction(db.session_factory(engine)) as session:
            if changing:
                require_manager(session, signed.officer_id)
            if ack_on_import is not None:
                settings.set_acknowledge_on_import(
                    session, ack_on_import, officer_id=signed.officer_id, now=now
                )
            if backup_warning_days is not None:
                settings.set_backup_warning_days(
                    session, backup_warning_days, officer_id=signed.officer_id, now=now
                )
            on = settings.acknowledge_on_import(session)
            status = backup_status(session, now)
    click.echo(
        "Acknowledge: on import (the server deletes a report as soon as it is imported)"
        if on
        else "Acknowledge: after a backup holds the report (the default)"
    )
    click.echo(f"Backup warning after: {status.warning_days} day(s)")
    last = f"{status.last.made_at:%Y-%m-%d %H:%M} UTC" if status.last else "never"
    click.echo(f"Last backup: {last}; records in no backup yet: {status.waiting}")


# --- Officers joining and leaving (docs/officer-guide.md) ----------------------------------

ROTATION_ADVICE = (
    "They may have copied the office keys while they had them (or kept a backup holding their "
    "wrapped copy): rotate the desk keys soon with `whistle inbox rotate-keys` "
    '(docs/officer-guide.md, "Rotating keys").'
)


def _read_recovery_key(recovery_key_file: Path | None) -> str:
    if recovery_key_file is not None:
        lines = recovery_key_file.read_text(encoding="utf-8").splitlines()
        if not lines or not lines[0].strip():
            raise click.ClickException(f"{recovery_key_file} holds no key on its first line.")
        return lines[0]
    return str(click.prompt("Recovery key (spaces and dashes allowed)", hide_input=True))


_recovery_key_file = click.option(
    "--recovery-key-file",
    type=click.Path(path_type=Path, dir_okay=False, exists=True),
    help="Read the recovery key from this file's first line instead of asking.",
)
_new_password_file = click.option(
    "--new-password-file",
    type=click.Path(path_type=Path, dir_okay=False, exists=True),
    help="Read the new password from this file's first line instead of asking.",
)


@inbox.command("officers")
@click.argument("data_dir", type=click.Path(path_type=Path, file_okay=False, exists=True))
@_officer
@_password
@click.pass_context
def officers_command(
    ctx: click.Context, data_dir: Path, officer_name: str, password_file: Path | None
) -> None:
    """List the officers: name, roles, the day they were added (removed ones too)."""
    from whistle.inbox import db
    from whistle.inbox.officers import list_officers

    with (
        _signed_in_office(ctx, data_dir, officer_name, password_file) as (_, engine, _signed),
        db.transaction(db.session_factory(engine)) as session,
    ):
        rows = [
            (o.name, "removed" if o.is_removed else ", ".join(o.roles), o.created_at.date())
            for o in list_officers(session)
        ]
    for name, roles, day in rows:
        click.echo(f"{name}\t{roles}\t{day}")


@inbox.command("add-officer")
@click.argument("data_dir", type=click.Path(path_type=Path, file_okay=False, exists=True))
@click.option("--name", "new_name", required=True, help="The new officer's sign-in name.")
@click.option(
    "--role",
    "roles",
    multiple=True,
    type=click.Choice(["officer", "manager", "custodian"]),
    default=("officer",),
    show_default=True,
    help="Repeatable.",
)
@click.option(
    "--use-recovery-key",
    is_flag=True,
    help="Take the custodian key from the recovery key (to add a custodian when you are not one).",
)
@_recovery_key_file
@_new_password_file
@_officer
@_password
@click.pass_context
def add_officer_command(
    ctx: click.Context,
    data_dir: Path,
    new_name: str,
    roles: tuple[str, ...],
    use_recovery_key: bool,
    recovery_key_file: Path | None,
    new_password_file: Path | None,
    officer_name: str,
    password_file: Path | None,
) -> None:
    """Add an officer (managers only): your keys, wrapped for the new officer's password."""
    from whistle.inbox import db
    from whistle.inbox.officers import enrol_officer, open_with_recovery_key

    with _signed_in_office(ctx, data_dir, officer_name, password_file) as (
        config,
        engine,
        signed,
    ):
        recovery_key = (
            _read_recovery_key(recovery_key_file) if use_recovery_key or recovery_key_file else None
        )
        password = _read_password(
            new_password_file, f"New officer {new_name}'s password", confirm=True
        )
        with db.transaction(db.session_factory(engine)) as session:
            custodian = signed.custodian_keyring
            if recovery_key is not None:
                custodian = open_with_recovery_key(session, recovery_key).custodian_keyring
            added = enrol_officer(
                session,
                config,
                by_officer_id=signed.officer_id,
                keyring=signed.keyring,
                custodian_keyring=custodian,
                name=new_name,
                password=password,
                roles=tuple(dict.fromkeys(roles)),
            )
            name, held = added.name, ", ".join(added.roles)
    click.echo(f"Officer {name} added ({held}). They sign in with the password you set.")


@inbox.command("remove-officer")
@click.argument("data_dir", type=click.Path(path_type=Path, file_okay=False, exists=True))
@click.argument("name")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@_officer
@_password
@click.pass_context
def remove_officer_command(
    ctx: click.Context,
    data_dir: Path,
    name: str,
    yes: bool,
    officer_name: str,
    password_file: Path | None,
) -> None:
    """Remove officer NAME (managers only): their copy of the keys is destroyed."""
    from whistle.inbox import db
    from whistle.inbox.officers import remove_officer

    with _signed_in_office(ctx, data_dir, officer_name, password_file) as (
        config,
        engine,
        signed,
    ):
        if not yes and not click.confirm(
            f"Remove {name}? Their password will open nothing here any more."
        ):
            raise click.ClickException("Nothing was changed.")
        with db.transaction(db.session_factory(engine)) as session:
            remove_officer(session, config, by_officer_id=signed.officer_id, name=name)
        _checkpoint(engine)
    click.echo(f"Officer {name} removed: their wrapped keys are destroyed.")
    click.echo(ROTATION_ADVICE)


def _checkpoint(engine: Any) -> None:
    """Best effort: fold the write-ahead log into the database so the old page images (the
    destroyed wrapped keys) leave the -wal file too (secure_delete zeroes them there)."""
    from sqlalchemy import text

    with engine.connect() as connection:
        connection.execute(text("PRAGMA wal_checkpoint(TRUNCATE)"))


@inbox.command("set-roles")
@click.argument("data_dir", type=click.Path(path_type=Path, file_okay=False, exists=True))
@click.argument("name")
@click.option(
    "--role",
    "roles",
    multiple=True,
    required=True,
    type=click.Choice(["officer", "manager", "custodian"]),
    help="The roles NAME will hold (all of them; repeatable).",
)
@_officer
@_password
@click.pass_context
def set_roles_command(
    ctx: click.Context,
    data_dir: Path,
    name: str,
    roles: tuple[str, ...],
    officer_name: str,
    password_file: Path | None,
) -> None:
    """Change officer NAME's roles (managers only; custodian can be taken, not given)."""
    from whistle.inbox import db
    from whistle.inbox.officers import change_roles

    with (
        _signed_in_office(ctx, data_dir, officer_name, password_file) as (config, engine, signed),
        db.transaction(db.session_factory(engine)) as session,
    ):
        changed = change_roles(
            session,
            config,
            by_officer_id=signed.officer_id,
            name=name,
            roles=tuple(dict.fromkeys(roles)),
        )
        held = ", ".join(changed.roles)
    click.echo(f"{name}: {held}")


@inbox.command("reset-password")
@click.argument("data_dir", type=click.Path(path_type=Path, file_okay=False, exists=True))
@click.argument("name")
@_recovery_key_file
@_new_password_file
@click.pass_context
def reset_password_command(
    ctx: click.Context,
    data_dir: Path,
    name: str,
    recovery_key_file: Path | None,
    new_password_file: Path | None,
) -> None:
    """Give officer NAME a new password with the office's recovery key (forgotten password)."""
    from whistle.inbox import db
    from whistle.inbox.officers import reset_password

    config = _config(ctx, data_dir)
    engine = _engine(config)
    try:
        recovery_key = _read_recovery_key(recovery_key_file)
        password = _read_password(new_password_file, f"New password for {name}", confirm=True)
        with db.transaction(db.session_factory(engine)) as session:
            reset_password(
                session, config, name=name, recovery_key=recovery_key, new_password=password
            )
    finally:
        engine.dispose()
    click.echo(f"{name} can sign in with the new password. The reset is in the audit log.")


# --- key epochs (docs/officer-guide.md, "Rotating keys") ------------------------------------


@inbox.command("rotate-keys")
@click.argument("data_dir", type=click.Path(path_type=Path, file_okay=False, exists=True))
@_officer
@_password
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@click.pass_context
def rotate_keys_command(
    ctx: click.Context, data_dir: Path, officer_name: str, password_file: Path | None, yes: bool
) -> None:
    """New desk and bundle keys (a new key epoch); managers only.

    The next replies bundle takes the new card to the server. The old keys are destroyed
    by an import once the server has handed over everything encrypted to them.
    """
    from whistle.inbox import db
    from whistle.inbox.epochs import rotate
    from whistle.inbox.officers import require_manager

    with _signed_in_office(ctx, data_dir, officer_name, password_file) as (config, engine, signed):
        if not yes:
            click.confirm("Make new desk and bundle keys now?", abort=True)
        with db.transaction(db.session_factory(engine)) as session:
            require_manager(session, signed.officer_id)
            card = rotate(session, signed.keyring, config.clock(), signed.officer_id)
    click.echo(f"New keys: epoch {card.epoch}. Office fingerprint (unchanged): {card.fingerprint}")
    click.echo(
        "Make a backup (`whistle inbox backup`), then export a replies bundle (`whistle "
        "inbox export`) and apply it on the server: the new keys go to the server only once "
        "a backup holds them, and new reports are encrypted to them from then on."
    )


@inbox.command("keys")
@click.argument("data_dir", type=click.Path(path_type=Path, file_okay=False, exists=True))
@click.pass_context
def keys_command(ctx: click.Context, data_dir: Path) -> None:
    """The office's key epochs: current, waiting for the server, destroyed (no sign-in)."""
    from whistle.inbox.epochs import rotation_due, status

    config = _config(ctx, data_dir)
    with _office_session(config) as session:
        rows = status(session)
        due = rotation_due(session, config.today())
    if not rows:
        click.echo("No key epochs yet: an officer signs in once to move the keys here.")
    for row in rows:
        state = (
            f"destroyed {row.destroyed_at:%Y-%m-%d}"
            if row.destroyed_at
            else "current"
            if row.current
            else "kept until the server has handed over everything sent to it"
        )
        seen = f", server uses it since {row.confirmed_at:%Y-%m-%d}" if row.confirmed_at else ""
        click.echo(
            f"epoch {row.epoch}: made {row.created_at:%Y-%m-%d}{seen}; {state}; "
            f"desks: {', '.join(row.desks)}"
        )
    if due is not None:
        late = " (due now)" if due <= config.today() else ""
        click.echo(f"Next rotation by the office's reminder: {due.isoformat()}{late}")


@inbox.command("rotation-reminder")
@click.argument("data_dir", type=click.Path(path_type=Path, file_okay=False, exists=True))
@click.option("--days", type=int, default=None, help="Remind every N days.")
@click.option("--never", is_flag=True, help="No reminder.")
@_officer
@_password
@click.pass_context
def rotation_reminder_command(
    ctx: click.Context,
    data_dir: Path,
    days: int | None,
    never: bool,
    officer_name: str,
    password_file: Path | None,
) -> None:
    """Set how often the dashboard reminds the office to rotate its keys; managers only."""
    from whistle.inbox import db
    from whistle.inbox.epochs import set_reminder
    from whistle.inbox.officers import require_manager

    if (days is None) == (not never):
        raise click.UsageError("Give either --days N or --never.")
    with (
        _signed_in_office(ctx, data_dir, officer_name, password_file) as (config, engine, signed),
        db.transaction(db.session_factory(engine)) as session,
    ):
        require_manager(session, signed.officer_id)
        set_reminder(session, None if never else days, config.clock(), signed.officer_id)
    click.echo("No rotation reminder." if never else f"Rotation reminder: every {days} days.")


@inbox.command("rewrap-recovery")
@click.argument("data_dir", type=click.Path(path_type=Path, file_okay=False, exists=True))
@click.option(
    "--recovery-key-file",
    type=click.Path(path_type=Path, dir_okay=False, exists=True),
    help="Read the recovery key from this file's first line instead of asking.",
)
@click.pass_context
def rewrap_recovery_command(
    ctx: click.Context, data_dir: Path, recovery_key_file: Path | None
) -> None:
    """Offices made before key epochs: take the desk keys out of the recovery copy.

    Its version 1 keyring still holds the first epoch's desk and bundle keys; this
    rewraps it as version 2 (storage and signing keys only) with the same recovery key.
    """
    from whistle.inbox.officers import rewrap_recovery

    key = _read_recovery_key(recovery_key_file)
    config = _config(ctx, data_dir)
    with _office_session(config) as session:
        changed = rewrap_recovery(session, key, config.clock())
    click.echo(
        "The recovery copy now holds no desk keys."
        if changed
        else "The recovery copy held no desk keys already: nothing changed."
    )
