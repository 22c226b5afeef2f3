"""Backups and restoring one (docs/officer-guide.md, "Backups")."""

from pathlib import Path

import click

from whistle.cli_paths import ExistingPath
from whistle.inbox import db
from whistle.inbox.cli.common import (
    inbox,
    make_config,
    officer_option,
    password_option,
    read_password,
    read_recovery_key,
    signed_in_office,
)


@inbox.command("backup")
@click.argument("data_dir", type=ExistingPath(path_type=Path, file_okay=False, exists=True))
@click.option(
    "--out",
    required=True,
    type=click.Path(path_type=Path),
    help="The backup file to write, or a directory (a dated name is chosen there).",
)
@officer_option
@password_option
@click.pass_context
def backup_command(
    ctx: click.Context, data_dir: Path, out: Path, officer_name: str, password_file: Path | None
) -> None:
    """Write the whole inbox into one encrypted file (opens with any officer's password)."""
    from whistle.inbox.backup import default_file_name, make_backup

    with signed_in_office(ctx, data_dir, officer_name, password_file) as (config, engine, signed):
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
@click.argument("backup_file", type=ExistingPath(path_type=Path, dir_okay=False, exists=True))
@click.argument("data_dir", type=click.Path(path_type=Path, file_okay=False))
@click.option("--officer", "officer_name", help="Open with this officer's password.")
@password_option
@click.option(
    "--recovery-key-file",
    type=ExistingPath(path_type=Path, dir_okay=False, exists=True),
    help="Open with the recovery key (read from this file's first line).",
)
@click.option("--recovery-key", "use_recovery", is_flag=True, help="Type the recovery key.")
@click.option(
    "--expect-fingerprint",
    help="Refuse unless the backup belongs to the office with this fingerprint.",
)
@click.option(
    "--deletions",
    "deletions_file",
    type=click.Path(path_type=Path, dir_okay=False, exists=True),
    help="The newest list of deletions (deletions.wdel beside the newest backup); by default "
    "the one beside BACKUP_FILE. Every deletion made after the backup is made again.",
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
    deletions_file: Path | None,
    yes: bool,
) -> None:
    """Restore BACKUP_FILE into DATA_DIR (new or empty) on this machine."""
    from whistle.inbox import backup
    from whistle.inbox.deletions import LIST_FILE

    beside = backup_file.parent / LIST_FILE
    listing = deletions_file or (beside if beside.is_file() else None)
    config = make_config(ctx, data_dir)
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
            text = read_recovery_key(recovery_key_file)
            keyring = backup.unlock_with_recovery_key(info, text)
        else:
            password = read_password(password_file, f"Password for {officer_name}")
            keyring = backup.unlock_with_password(info, str(officer_name), password)
        restored = backup.restore_backup(
            source,
            info,
            keyring,
            data_dir,
            now=config.clock(),
            expect_fingerprint=expect_fingerprint,
            opened_by="the recovery key" if with_recovery else f"officer {officer_name}",
            deletions=listing.read_bytes() if listing is not None else None,
        )
    click.echo(
        f"Restored into {data_dir}: {restored.records} record(s), "
        f"audit log intact ({restored.audit_entries} entries)."
    )
    if listing is None:
        click.echo(
            f"No list of deletions was found beside the backup ({LIST_FILE}): anything "
            "deleted after this backup is back. Restore again with --deletions FILE."
        )
    else:
        click.echo(
            f"{restored.deletions_reapplied} deletion(s) made after the backup made again "
            f"(from {listing})."
        )
    click.echo(f"Run the inbox with `whistle inbox run {data_dir}`.")
