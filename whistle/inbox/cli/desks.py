"""Desks as compartments at the command line: membership, stepping aside, moving a case to
another desk, and moving an office from before desks into them (docs/officer-guide.md)."""

from pathlib import Path

import click

from whistle.cli_paths import ExistingPath
from whistle.inbox import db
from whistle.inbox.cli.common import (
    inbox,
    make_config,
    office_session,
    officer_option,
    open_engine,
    password_option,
    read_recovery_key,
    recovery_key_file_option,
    signed_in_transaction,
)

data_dir_argument = click.argument(
    "data_dir", type=ExistingPath(path_type=Path, file_okay=False, exists=True)
)


@inbox.group("desks")
def desks() -> None:
    """Desks: who is a member, who stepped aside from which case."""


@desks.command("list")
@data_dir_argument
@click.pass_context
def list_command(ctx: click.Context, data_dir: Path) -> None:
    """Each desk's members, and members still waiting for their desk's key."""
    from whistle.inbox import compartments, epochs

    config = make_config(ctx, data_dir)
    with office_session(config) as session:
        if not compartments.active(session):
            click.echo("This office is not in desk compartments yet: run `desks migrate`.")
            return
        for desk in epochs.current_card(session).desks:
            names = ", ".join(o.name for o in compartments.members(session, desk.id)) or "—"
            click.echo(f"{desk.id}: {names}")
        for desk_id, name in compartments.pending(session):
            click.echo(f"waiting for the key of {desk_id}: {name}")
        for removed in compartments.removed_desks(session):
            click.echo(
                f"removed {removed.removed_at.date()}: {removed.desk_id} (reports still sent "
                f"to it go to {compartments.receiving_desk(session, removed.desk_id)})"
            )


def _membership(
    ctx: click.Context,
    data_dir: Path,
    officer_name: str,
    password: Path | None,
    desk_id: str,
    name: str,
    adding: bool,
) -> str:
    from whistle.inbox import compartments

    with signed_in_transaction(ctx, data_dir, officer_name, password) as (config, signed, session):
        if adding:
            delivered = compartments.add_member(
                session,
                signed.keyring,
                desk_id=desk_id,
                name=name,
                by_officer_id=signed.officer_id,
                now=config.clock(),
            )
            return (
                f"{name} is a member of {desk_id}."
                if delivered
                else f"{name} is a member of {desk_id}; the desk's key reaches them at "
                "the next sign-in of one of its members."
            )
        generation = compartments.remove_member(
            session,
            desk_id=desk_id,
            name=name,
            by_officer_id=signed.officer_id,
            now=config.clock(),
        )
        return (
            f"{name} left {desk_id}: their keys of it are deleted; new cases go to "
            f"compartment key {generation}."
        )


@desks.command("add-member")
@data_dir_argument
@click.argument("desk_id")
@click.argument("name")
@officer_option
@password_option
@click.pass_context
def add_member_command(
    ctx: click.Context,
    data_dir: Path,
    desk_id: str,
    name: str,
    officer_name: str,
    password_file: Path | None,
) -> None:
    """Make officer NAME a member of DESK_ID (managers only; recorded)."""
    click.echo(_membership(ctx, data_dir, officer_name, password_file, desk_id, name, True))


@desks.command("remove-member")
@data_dir_argument
@click.argument("desk_id")
@click.argument("name")
@officer_option
@password_option
@click.pass_context
def remove_member_command(
    ctx: click.Context,
    data_dir: Path,
    desk_id: str,
    name: str,
    officer_name: str,
    password_file: Path | None,
) -> None:
    """Take officer NAME out of DESK_ID (managers only; the desk gets a new key)."""
    click.echo(_membership(ctx, data_dir, officer_name, password_file, desk_id, name, False))


@desks.command("step-aside")
@data_dir_argument
@click.argument("case_id")
@click.option("--reason", required=True, help="The conflict of interest (kept sealed).")
@click.option("--for", "for_name", help="A manager records it for this officer.")
@officer_option
@password_option
@click.pass_context
def step_aside_command(
    ctx: click.Context,
    data_dir: Path,
    case_id: str,
    reason: str,
    for_name: str | None,
    officer_name: str,
    password_file: Path | None,
) -> None:
    """Step aside from CASE_ID: your keys no longer open it (recorded, with the reason)."""
    from whistle.inbox import compartments

    with signed_in_transaction(ctx, data_dir, officer_name, password_file) as (
        config,
        signed,
        session,
    ):
        compartments.recuse(
            session,
            signed.keyring,
            case_id=case_id,
            officer_name=for_name or signed.name,
            by_officer_id=signed.officer_id,
            reason=reason,
            now=config.clock(),
        )
    click.echo(f"{for_name or signed.name} stepped aside from case {case_id[:8]}.")


@desks.command("reassign")
@data_dir_argument
@click.argument("case_id")
@click.argument("desk_id")
@officer_option
@password_option
@click.pass_context
def reassign_command(
    ctx: click.Context,
    data_dir: Path,
    case_id: str,
    desk_id: str,
    officer_name: str,
    password_file: Path | None,
) -> None:
    """Move CASE_ID to DESK_ID with its keys (managers who can open the case)."""
    from whistle.inbox import compartments

    with signed_in_transaction(ctx, data_dir, officer_name, password_file) as (
        config,
        signed,
        session,
    ):
        compartments.reassign(
            session,
            signed.keyring,
            case_id=case_id,
            desk_id=desk_id,
            by_officer_id=signed.officer_id,
            now=config.clock(),
        )
    click.echo(f"Case {case_id[:8]} is now at {desk_id}.")


@desks.command("end-interim")
@data_dir_argument
@officer_option
@password_option
@click.option("--yes", is_flag=True, help="Do not ask: you have read what it does.")
@click.pass_context
def end_interim_command(
    ctx: click.Context, data_dir: Path, officer_name: str, password_file: Path | None, yes: bool
) -> None:
    """End the interim copies of the desk keys (made by `desks migrate`) now (managers).

    Any officer then no longer opens another desk's cases and records in transit. Members
    who have not signed in since the move (or signed in before any member who held the key)
    get their desk's key once they have signed in and a member who holds it signs in after
    them. A desk none of whose members holds its key yet keeps its copy."""
    from whistle.inbox import compartments

    with signed_in_transaction(ctx, data_dir, officer_name, password_file) as (
        config,
        signed,
        session,
    ):
        remaining = compartments.interim(session)
        if not remaining:
            click.echo("No interim copy remains.")
            return
        for item in remaining:
            waiting = ", ".join(item.waiting) or "nobody"
            kept = "" if item.held_by_a_member else " (no member holds it yet: it stays)"
            click.echo(f"{item.desk_id}: waiting for {waiting}{kept}")
        if not yes and not click.confirm("End the interim copies now?"):
            raise click.ClickException("Nothing was changed.")
        ended = compartments.end_interim(
            session, by_officer_id=signed.officer_id, now=config.clock()
        )
    click.echo(f"Interim copies ended: {', '.join(ended) or 'none'} (in the audit log).")


@desks.command("remove")
@data_dir_argument
@click.argument("desk_id")
@click.option(
    "--to",
    "successor_id",
    required=True,
    help="The desk that takes its cases, and any report still on its way to it.",
)
@click.option("--move-cases", is_flag=True, help="Move its cases (open and closed) to --to.")
@click.option(
    "--use-recovery-key",
    is_flag=True,
    help="Open its cases with the recovery key (when no manager's keys open them all).",
)
@recovery_key_file_option
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@officer_option
@password_option
@click.pass_context
def remove_command(
    ctx: click.Context,
    data_dir: Path,
    desk_id: str,
    successor_id: str,
    move_cases: bool,
    use_recovery_key: bool,
    recovery_key_file: Path | None,
    yes: bool,
    officer_name: str,
    password_file: Path | None,
) -> None:
    """Remove DESK_ID (managers only; recorded): the office card gets new keys without it, and
    its own keys go once nothing can be on its way to it. Refused while it holds cases, unless
    --move-cases."""
    from whistle.inbox import compartments
    from whistle.inbox.officers import open_with_recovery_key

    with signed_in_transaction(ctx, data_dir, officer_name, password_file) as (
        config,
        signed,
        session,
    ):
        keyring = signed.keyring
        if use_recovery_key or recovery_key_file:
            recovery_key = read_recovery_key(recovery_key_file)
            keyring = open_with_recovery_key(session, recovery_key).keyring
        if not yes and not click.confirm(f"Remove desk {desk_id}? This cannot be undone."):
            raise click.ClickException("Nothing was changed.")
        done = compartments.remove_desk(
            session,
            keyring,
            desk_id=desk_id,
            successor_id=successor_id,
            move_cases=move_cases,
            by_officer_id=signed.officer_id,
            now=config.clock(),
        )
    click.echo(
        f"Desk {desk_id} removed: {done.moved} case(s) moved to {successor_id}. The office "
        f"card has key epoch {done.epoch} without it: make a backup, then export a replies "
        f"bundle. Until the server has the new card, sources may still choose {desk_id}; what "
        f"they send goes to {successor_id}. Its keys are destroyed once nothing more can be "
        "on its way to it (the older key epochs' keys are destroyed)."
    )


@desks.command("migrate")
@data_dir_argument
@recovery_key_file_option
@click.pass_context
def migrate_command(ctx: click.Context, data_dir: Path, recovery_key_file: Path | None) -> None:
    """Move an office from before desks into desk compartments (needs the recovery key)."""
    from whistle.inbox import compartments, epochs
    from whistle.inbox.officers import open_with_recovery_key

    config = make_config(ctx, data_dir)
    recovery_key = read_recovery_key(recovery_key_file)
    engine = open_engine(config)
    try:
        with db.transaction(db.session_factory(engine)) as session:
            recovered = open_with_recovery_key(session, recovery_key)
            moved, old_files = compartments.migrate(
                session,
                recovered.keyring,
                recovery_key,
                store_dir=config.store_dir,
                now=config.clock(),
            )
        for path in old_files:  # only once the rows naming the new files are committed
            path.unlink(missing_ok=True)
        epochs.scrub(engine)
    finally:
        engine.dispose()
    click.echo(
        f"{moved} case(s) moved into desk compartments. Every officer is a member of every "
        "desk: narrow it with `desks remove-member`. Each receives a key of their own at "
        "their next sign-in."
    )
