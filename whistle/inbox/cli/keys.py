"""Key epochs and the recovery key (docs/officer-guide.md, "Rotating keys")."""

from pathlib import Path

import click

from whistle.cli_paths import ExistingPath
from whistle.inbox import db
from whistle.inbox.cli.common import (
    inbox,
    make_config,
    office_session,
    officer_option,
    password_option,
    read_recovery_key,
    signed_in_office,
)


@inbox.command("rotate-keys")
@click.argument("data_dir", type=ExistingPath(path_type=Path, file_okay=False, exists=True))
@officer_option
@password_option
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@click.pass_context
def rotate_keys_command(
    ctx: click.Context, data_dir: Path, officer_name: str, password_file: Path | None, yes: bool
) -> None:
    """New desk and bundle keys (a new key epoch); managers only.

    The next replies bundle takes the new card to the server. The old keys are destroyed
    by an import once the server has handed over everything encrypted to them.
    """
    from whistle.inbox.epochs import rotate
    from whistle.inbox.officers import require_manager

    with signed_in_office(ctx, data_dir, officer_name, password_file) as (config, engine, signed):
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
@click.argument("data_dir", type=ExistingPath(path_type=Path, file_okay=False, exists=True))
@click.pass_context
def keys_command(ctx: click.Context, data_dir: Path) -> None:
    """The office's key epochs: current, waiting for the server, destroyed (no sign-in)."""
    from whistle.inbox.epochs import left_since_rotation, rotation_due, status

    config = make_config(ctx, data_dir)
    with office_session(config) as session:
        rows = status(session)
        due = rotation_due(session, config.today())
        left = left_since_rotation(session)
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
    if left:
        click.echo(
            f"Someone left a desk since the current keys were made ({left} time(s)): rotate "
            "(`rotate-keys`) so that reports sent from now on are out of their reach."
        )


@inbox.command("destroy-keys")
@click.argument("data_dir", type=ExistingPath(path_type=Path, file_okay=False, exists=True))
@click.argument("epoch", type=click.IntRange(min=1))
@officer_option
@password_option
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@click.pass_context
def destroy_keys_command(
    ctx: click.Context,
    data_dir: Path,
    epoch: int,
    officer_name: str,
    password_file: Path | None,
    yes: bool,
) -> None:
    """Destroy the desk and bundle keys of an older key EPOCH now; managers only.

    Imports destroy them on their own once this inbox has its own evidence that nothing more
    can come for them (docs/officer-guide.md, "Rotating keys"); this is the manager's recorded
    confirmation for when that waits on a broken bundle chain or a server that is gone.
    Anything still encrypted to those keys can never be opened afterwards.
    """
    from whistle.inbox.epochs import confirm_destroy, scrub
    from whistle.inbox.officers import require_manager

    with signed_in_office(ctx, data_dir, officer_name, password_file) as (config, engine, signed):
        if not yes:
            click.confirm(
                f"Destroy the keys of epoch {epoch}? Anything still encrypted to them is lost.",
                abort=True,
            )
        with db.transaction(db.session_factory(engine)) as session:
            require_manager(session, signed.officer_id)
            confirm_destroy(session, epoch, config.clock(), signed.officer_id)
        scrub(engine)
    click.echo(f"The desk and bundle keys of epoch {epoch} are destroyed (see the audit log).")


@inbox.command("rotation-reminder")
@click.argument("data_dir", type=ExistingPath(path_type=Path, file_okay=False, exists=True))
@click.option("--days", type=int, default=None, help="Remind every N days.")
@click.option("--never", is_flag=True, help="No reminder.")
@officer_option
@password_option
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
    from whistle.inbox.epochs import set_reminder
    from whistle.inbox.officers import require_manager

    if (days is None) == (not never):
        raise click.UsageError("Give either --days N or --never.")
    with (
        signed_in_office(ctx, data_dir, officer_name, password_file) as (config, engine, signed),
        db.transaction(db.session_factory(engine)) as session,
    ):
        require_manager(session, signed.officer_id)
        set_reminder(session, None if never else days, config.clock(), signed.officer_id)
    click.echo("No rotation reminder." if never else f"Rotation reminder: every {days} days.")


@inbox.command("rewrap-recovery")
@click.argument("data_dir", type=ExistingPath(path_type=Path, file_okay=False, exists=True))
@click.option(
    "--recovery-key-file",
    type=ExistingPath(path_type=Path, dir_okay=False, exists=True),
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

    key = read_recovery_key(recovery_key_file)
    config = make_config(ctx, data_dir)
    with office_session(config) as session:
        changed = rewrap_recovery(session, key, config.clock())
    click.echo(
        "The recovery copy now holds no desk keys."
        if changed
        else "The recovery copy held no desk keys already: nothing changed."
    )
