"""Cases and their workflow: list, show, reply, the register, exports and referrals, the audit
chain."""

from pathlib import Path
from typing import TYPE_CHECKING

import click
from sqlalchemy import select
from sqlalchemy.orm import Session

from whistle.cli_paths import ExistingPath
from whistle.inbox import db
from whistle.inbox.cli.common import (
    inbox,
    make_config,
    office_session,
    office_zone,
    officer_option,
    open_engine,
    password_option,
    read_password,
    signed_in,
    signed_in_office,
    time_zone_option,
)
from whistle.inbox.context import for_officer
from whistle.inbox.errors import CaseNotFoundError

if TYPE_CHECKING:
    from whistle.inbox.cases import CaseDetail


@inbox.command("list")
@click.argument("data_dir", type=ExistingPath(path_type=Path, file_okay=False, exists=True))
@officer_option
@password_option
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
    from whistle.inbox.cases import CaseFilters, list_cases

    with signed_in_office(ctx, data_dir, officer_name, password_file) as (config, engine, signed):
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
@click.argument("data_dir", type=ExistingPath(path_type=Path, file_okay=False, exists=True))
@click.argument("case")
@officer_option
@password_option
@click.pass_context
def show(
    ctx: click.Context, data_dir: Path, case: str, officer_name: str, password_file: Path | None
) -> None:
    """Show a case (its id, or a unique prefix of at least 8 characters) and its conversation."""
    from whistle.inbox.cases import case_detail
    from whistle.inbox.models import Case

    with (
        signed_in_office(ctx, data_dir, officer_name, password_file) as (config, engine, signed),
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


def _print_case(view: "CaseDetail") -> None:
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
            click.echo(_indent(note.text if note.text is not None else note.error or ""))


def _printable(text: str) -> str:
    """No terminal escape sequences from case content."""
    return "".join(c if c.isprintable() or c in "\n\t" else "\ufffd" for c in text)


def _indent(text: str) -> str:
    return "\n".join("   " + line for line in _printable(text).splitlines() or [""])


def _find_case(session: Session, case: str) -> str:
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
@click.argument("data_dir", type=ExistingPath(path_type=Path, file_okay=False, exists=True))
@click.option(
    "--officer",
    "officer_name",
    default=None,
    help="Sign in to check the seals with the office key (needed for --head).",
)
@password_option
@click.option("--head", "written", default=None, help="A head written in the paper logbook.")
@click.pass_context
def verify_audit(
    ctx: click.Context,
    data_dir: Path,
    officer_name: str | None,
    password_file: Path | None,
    written: str | None,
) -> None:
    """Check the audit log's chain and seals; name the first broken entry; find a written head."""
    from whistle.crypto import CodeError
    from whistle.crypto.audit import format_head, normalize_head
    from whistle.inbox import audit

    head_wanted = None
    if written is not None:
        if officer_name is None:
            raise click.UsageError("--head needs --officer: heads are checked with the office key.")
        try:
            head_wanted = normalize_head(written)
        except CodeError as exc:
            raise click.BadParameter(
                f"{exc}: a head is 10 letters or digits and a check symbol."
            ) from exc
    if officer_name is None:
        config = make_config(ctx, data_dir)
        with office_session(config) as session:
            head = audit.verify_chain(session)
    else:
        with (
            signed_in_office(ctx, data_dir, officer_name, password_file) as (_, engine, me),
            db.transaction(db.session_factory(engine)) as session,
        ):
            head = audit.verify_chain(
                session, audit.key_for(me.keyring.storage_secret), written_head=head_wanted
            )
    click.echo(f"The audit log is intact: {head.count} entries, head {head.head.hex()}")
    if not head.keyed:
        click.echo("Seals not checked: give --officer to check them with the office key.")
    elif head.sealed_id is None:
        click.echo("No entry is sealed yet.")
    else:
        assert head.sealed_head is not None
        click.echo(
            f"Every seal is the office's. Head to write in the paper logbook: "
            f"{format_head(head.sealed_head)} (entry #{head.sealed_id})."
        )
        if head.unsealed_after:
            click.echo(
                f"{head.unsealed_after} entries after it are not sealed (written while no "
                "officer was signed in): the next sealed entry will cover them."
            )
    if head_wanted is not None:
        if head.written_head_at is None:
            raise click.ClickException(
                f"The head {format_head(head_wanted)} is not in this audit log: the log was "
                "cut short or rewritten after it was written down."
            )
        click.echo(
            f"The head {format_head(head_wanted)} is entry #{head.written_head_at}'s: "
            "nothing up to it was changed."
        )


@inbox.command("reply")
@click.argument("data_dir", type=ExistingPath(path_type=Path, file_okay=False, exists=True))
@click.argument("case")
@click.option(
    "--text-file",
    required=True,
    type=ExistingPath(path_type=Path, dir_okay=False, exists=True),
    help="The reply's text (UTF-8).",
)
@click.option(
    "--file",
    "files",
    multiple=True,
    type=ExistingPath(path_type=Path, dir_okay=False, exists=True),
    help="Attach a file (repeatable).",
)
@click.option("--draft", is_flag=True, help="Save as a draft instead of queueing it.")
@officer_option
@password_option
@time_zone_option
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
    time_zone: str | None,
) -> None:
    """Write a reply to CASE's source and queue it for the next outgoing bundle."""
    from whistle.inbox import replies

    config = make_config(ctx, data_dir, time_zone=office_zone(ctx, data_dir, time_zone))
    try:
        text = text_file.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise click.ClickException(f"{text_file} is not UTF-8 text.") from exc
    attached = [(path.name, path.read_bytes()) for path in files]
    engine = open_engine(config)
    try:
        signed = signed_in(config, engine, officer_name, password_file)
        with db.transaction(db.session_factory(engine)) as session:
            case_id = _find_case(session, case)
            who = for_officer(config, signed.officer_id)
            written = replies.save_draft(
                session, signed.keyring, case_id, text, ctx=who, files=attached
            )
            if not draft:
                replies.mark_ready(session, signed.keyring, case_id, written.id, ctx=who)
    finally:
        engine.dispose()
    click.echo(
        f"Draft saved for case {case_id[:8]}."
        if draft
        else f"Reply queued for case {case_id[:8]}: it leaves with the next outgoing bundle."
    )


@inbox.command("register")
@click.argument("data_dir", type=ExistingPath(path_type=Path, file_okay=False, exists=True))
@click.option("--out", required=True, type=click.Path(path_type=Path, dir_okay=False))
@officer_option
@password_option
@click.pass_context
def register_command(
    ctx: click.Context, data_dir: Path, out: Path, officer_name: str, password_file: Path | None
) -> None:
    """Write the register (libro-registro) as CSV."""
    from whistle.inbox import register

    with (
        signed_in_office(ctx, data_dir, officer_name, password_file) as (_, engine, signed),
        db.transaction(db.session_factory(engine)) as session,
    ):
        lines = register.register_lines(session, signed.keyring)
    out.write_text(register.register_csv(lines), encoding="utf-8")
    click.echo(f"{len(lines)} case(s) written to {out}")


@inbox.command("export-case")
@click.argument("data_dir", type=ExistingPath(path_type=Path, file_okay=False, exists=True))
@click.argument("case")
@click.option("--out", required=True, type=click.Path(path_type=Path, dir_okay=False))
@click.option(
    "--passphrase-file",
    type=ExistingPath(path_type=Path, dir_okay=False, exists=True),
    help="Read the package passphrase from this file's first line instead of asking.",
)
@officer_option
@password_option
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
    from whistle.inbox import export
    from whistle.inbox.audit import record_event

    config = make_config(ctx, data_dir)
    passphrase = read_password(passphrase_file, "Passphrase for the package", confirm=True)
    engine = open_engine(config)
    partial = out.with_name(out.name + ".part")
    try:
        signed = signed_in(config, engine, officer_name, password_file)
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
@click.argument("package", type=ExistingPath(path_type=Path, dir_okay=False, exists=True))
@click.option("--out", required=True, type=click.Path(path_type=Path, dir_okay=False))
@click.option("--passphrase-file", type=ExistingPath(path_type=Path, dir_okay=False, exists=True))
def open_referral(package: Path, out: Path, passphrase_file: Path | None) -> None:
    """Open a referral package (the receiving authority's side): writes the ZIP inside."""
    from whistle.inbox import export

    passphrase = read_password(passphrase_file, "Passphrase")
    with package.open("rb") as source:
        case_id, zipped = export.open_package(source, passphrase)
    out.write_bytes(zipped)
    click.echo(f"Case {case_id} written to {out} (summary.html and files/).")
