"""The office and its officers: ``office init``, ``office card``, the office settings, and
officers joining and leaving (docs/officer-guide.md)."""

from pathlib import Path

import click
from sqlalchemy import Engine, text

from whistle.cli_paths import ExistingPath
from whistle.inbox import db
from whistle.inbox.cli.common import (
    inbox,
    make_config,
    new_password_file_option,
    office,
    office_session,
    officer_option,
    open_engine,
    password_option,
    read_password,
    read_recovery_key,
    recovery_key_file_option,
    signed_in_office,
)


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
@click.option("--password-file", type=ExistingPath(path_type=Path, dir_okay=False, exists=True))
@click.option(
    "--card-out",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Where to write the office card (default: DATA_DIR/office-card.json).",
)
@click.option(
    "--time-zone",
    required=True,
    help="The office's time zone, for example Europe/Madrid: the server dates reports there "
    "and the legal clocks count days there (it goes in the office card).",
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
    time_zone: str,
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
    password = read_password(password_file, "First officer's password", confirm=True)
    config = make_config(ctx, data_dir)
    created = init_office(
        config,
        name=office_name,
        desks=parsed,
        officer_name=officer_name,
        password=password,
        time_zone=time_zone,
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
    click.echo(
        "Read this fingerprint to the server's operator: `whistle server setup` (or `init`) "
        "shows it and asks them to type it."
    )


@office.command("card")
@click.argument("data_dir", type=ExistingPath(path_type=Path, file_okay=False, exists=True))
@click.option("--out", type=click.Path(path_type=Path, dir_okay=False), required=True)
@click.pass_context
def card(ctx: click.Context, data_dir: Path, out: Path) -> None:
    """Write the office card (public) to OUT again and show its fingerprint."""
    from whistle.inbox.office_setup import load_office

    config = make_config(ctx, data_dir)
    with office_session(config) as session:
        row = load_office(session)
        data, fingerprint = row.card, row.fingerprint
    out.write_bytes(data)
    click.echo(f"Office card: {out}")
    click.echo(f"Office fingerprint: {fingerprint}")


@inbox.command("settings")
@click.argument("data_dir", type=ExistingPath(path_type=Path, file_okay=False, exists=True))
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
@click.option(
    "--require-security-keys/--security-keys-optional",
    "require_keys",
    default=None,
    help="Whether every officer must sign in with a security key (one without a key reaches "
    "only the page that adds one) or each officer chooses (the default).",
)
@officer_option
@password_option
@click.pass_context
def settings_command(
    ctx: click.Context,
    data_dir: Path,
    ack_on_import: bool | None,
    backup_warning_days: int | None,
    require_keys: bool | None,
    officer_name: str,
    password_file: Path | None,
) -> None:
    """Show the office settings; change them (a manager) with the options."""
    from whistle.inbox import settings
    from whistle.inbox.backup import backup_status
    from whistle.inbox.officers import require_manager

    with signed_in_office(ctx, data_dir, officer_name, password_file) as (config, engine, signed):
        changing = not (
            ack_on_import is None and backup_warning_days is None and require_keys is None
        )
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
            if require_keys is not None:
                settings.set_security_keys_required(
                    session, require_keys, officer_id=signed.officer_id, now=now
                )
            on = settings.acknowledge_on_import(session)
            keys_required = settings.security_keys_required(session)
            status = backup_status(session, now)
    click.echo(
        "Acknowledge: on import (the server deletes a report as soon as it is imported)"
        if on
        else "Acknowledge: after a backup holds the report (the default)"
    )
    click.echo(f"Backup warning after: {status.warning_days} day(s)")
    click.echo(
        "Security keys: required for every officer"
        if keys_required
        else "Security keys: each officer chooses"
    )
    last = f"{status.last.made_at:%Y-%m-%d %H:%M} UTC" if status.last else "never"
    click.echo(f"Last backup: {last}; records in no backup yet: {status.waiting}")


ROTATION_ADVICE = (
    "They may have copied the office keys while they had them (or kept a backup holding their "
    "wrapped copy): rotate the desk keys soon with `whistle inbox rotate-keys` "
    '(docs/officer-guide.md, "Rotating keys").'
)


@inbox.command("officers")
@click.argument("data_dir", type=ExistingPath(path_type=Path, file_okay=False, exists=True))
@officer_option
@password_option
@click.pass_context
def officers_command(
    ctx: click.Context, data_dir: Path, officer_name: str, password_file: Path | None
) -> None:
    """List the officers: name, roles, the day they were added (removed ones too)."""
    from whistle.inbox.officers import list_officers

    with (
        signed_in_office(ctx, data_dir, officer_name, password_file) as (_, engine, _signed),
        db.transaction(db.session_factory(engine)) as session,
    ):
        rows = [
            (o.name, "removed" if o.is_removed else ", ".join(o.roles), o.created_at.date())
            for o in list_officers(session)
        ]
    for name, roles, day in rows:
        click.echo(f"{name}\t{roles}\t{day}")


@inbox.command("add-officer")
@click.argument("data_dir", type=ExistingPath(path_type=Path, file_okay=False, exists=True))
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
    "--desk",
    "desks",
    multiple=True,
    metavar="ID",
    help="A desk the officer joins (repeatable); by default the desks whose keys you hold.",
)
@click.option(
    "--no-desk",
    is_flag=True,
    help="Join no desk: they open no case until a manager adds them to one.",
)
@click.option(
    "--use-recovery-key",
    is_flag=True,
    help="Take the custodian key from the recovery key (to add a custodian when you are not one).",
)
@recovery_key_file_option
@new_password_file_option
@officer_option
@password_option
@click.pass_context
def add_officer_command(
    ctx: click.Context,
    data_dir: Path,
    new_name: str,
    roles: tuple[str, ...],
    desks: tuple[str, ...],
    no_desk: bool,
    use_recovery_key: bool,
    recovery_key_file: Path | None,
    new_password_file: Path | None,
    officer_name: str,
    password_file: Path | None,
) -> None:
    """Add an officer (managers only): your keys, wrapped for the new officer's password."""
    from whistle.inbox import compartments
    from whistle.inbox.officers import enrol_officer, open_with_recovery_key

    if desks and no_desk:
        raise click.BadParameter("give --desk or --no-desk, not both", param_hint="--no-desk")

    with signed_in_office(ctx, data_dir, officer_name, password_file) as (
        config,
        engine,
        signed,
    ):
        recovery_key = (
            read_recovery_key(recovery_key_file) if use_recovery_key or recovery_key_file else None
        )
        password = read_password(
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
                desks=[] if no_desk else list(desks) or None,
            )
            name, held = added.name, ", ".join(added.roles)
            joined = compartments.desks_of(session, added.id)
            shows_desks = added.is_officer and compartments.active(session)
    click.echo(f"Officer {name} added ({held}). They sign in with the password you set.")
    if shows_desks:
        click.echo(
            f"Desks: {', '.join(joined)}."
            if joined
            else "In no desk: they open no case until a manager adds them to one."
        )


@inbox.command("remove-officer")
@click.argument("data_dir", type=ExistingPath(path_type=Path, file_okay=False, exists=True))
@click.argument("name")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@officer_option
@password_option
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
    from whistle.inbox.officers import remove_officer

    with signed_in_office(ctx, data_dir, officer_name, password_file) as (
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


def _checkpoint(engine: Engine) -> None:
    """Best effort: fold the write-ahead log into the database so the old page images (the
    destroyed wrapped keys) leave the -wal file too (secure_delete zeroes them there)."""
    with engine.connect() as connection:
        connection.execute(text("PRAGMA wal_checkpoint(TRUNCATE)"))


@inbox.command("set-roles")
@click.argument("data_dir", type=ExistingPath(path_type=Path, file_okay=False, exists=True))
@click.argument("name")
@click.option(
    "--role",
    "roles",
    multiple=True,
    required=True,
    type=click.Choice(["officer", "manager", "custodian"]),
    help="The roles NAME will hold (all of them; repeatable).",
)
@officer_option
@password_option
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
    from whistle.inbox.officers import change_roles

    with (
        signed_in_office(ctx, data_dir, officer_name, password_file) as (config, engine, signed),
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
@click.argument("data_dir", type=ExistingPath(path_type=Path, file_okay=False, exists=True))
@click.argument("name")
@recovery_key_file_option
@new_password_file_option
@click.pass_context
def reset_password_command(
    ctx: click.Context,
    data_dir: Path,
    name: str,
    recovery_key_file: Path | None,
    new_password_file: Path | None,
) -> None:
    """Give officer NAME a new password with the office's recovery key (forgotten password)."""
    from whistle.inbox.officers import reset_password

    config = make_config(ctx, data_dir)
    engine = open_engine(config)
    try:
        recovery_key = read_recovery_key(recovery_key_file)
        password = read_password(new_password_file, f"New password for {name}", confirm=True)
        with db.transaction(db.session_factory(engine)) as session:
            reset_password(
                session, config, name=name, recovery_key=recovery_key, new_password=password
            )
    finally:
        engine.dispose()
    click.echo(
        f"{name} can sign in with the new password (and no security key: any they had were "
        "removed). The reset is in the audit log."
    )


@inbox.command("security-keys")
@click.argument("data_dir", type=ExistingPath(path_type=Path, file_okay=False, exists=True))
@click.argument("name")
@recovery_key_file_option
@click.pass_context
def security_keys_command(
    ctx: click.Context, data_dir: Path, name: str, recovery_key_file: Path | None
) -> None:
    """List officer NAME's security keys (number, name, added, last used), with the recovery
    key: the command line cannot use a security key, so it does not sign NAME in."""
    from whistle.inbox.officers import list_security_keys, open_with_recovery_key

    config = make_config(ctx, data_dir)
    engine = open_engine(config)
    try:
        recovery_key = read_recovery_key(recovery_key_file)
        with db.transaction(db.session_factory(engine)) as session:
            open_with_recovery_key(session, recovery_key)
            rows = [
                (
                    k.id,
                    k.label,
                    k.created_at.date(),
                    k.last_used_at.date() if k.last_used_at else "never",
                )
                for k in list_security_keys(session, name)
            ]
    finally:
        engine.dispose()
    if not rows:
        click.echo(f"{name} has no security key: their password alone opens their keys.")
    for number, label, added, used in rows:
        click.echo(f"{number}\t{label}\tadded {added}\tlast used {used}")


@inbox.command("remove-security-key")
@click.argument("data_dir", type=ExistingPath(path_type=Path, file_okay=False, exists=True))
@click.argument("name")
@click.argument("number", type=int)
@recovery_key_file_option
@click.pass_context
def remove_security_key_command(
    ctx: click.Context,
    data_dir: Path,
    name: str,
    number: int,
    recovery_key_file: Path | None,
) -> None:
    """Remove officer NAME's lost security key NUMBER (from `security-keys`), with the
    recovery key. Not their last one: for that, `reset-password` (it removes them all)."""
    from whistle.inbox.officers import remove_security_key_with_recovery

    config = make_config(ctx, data_dir)
    engine = open_engine(config)
    try:
        recovery_key = read_recovery_key(recovery_key_file)
        with db.transaction(db.session_factory(engine)) as session:
            key = remove_security_key_with_recovery(
                session, config, name=name, recovery_key=recovery_key, key_id=number
            )
            label = key.label
    finally:
        engine.dispose()
    click.echo(f"{name}'s security key “{label}” was removed. The removal is in the audit log.")
