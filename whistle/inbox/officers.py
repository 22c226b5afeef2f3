"""Officers: creating them, signing in (throttled), changing passwords (rewrapping keys),
officers joining and leaving, and resetting a forgotten password with the recovery key.

Signing in checks the argon2-cffi hash first, then unwraps the officer's copy
of the office keyring (and, for custodians, the custodian keyring) with the
same password. Failures say only "wrong name or password". Failed attempts
are counted in the database per name typed and for the whole inbox, so a
restart does not reset them.

Joining and leaving (docs/officer-guide.md, "Officers joining and leaving"): a
manager, signed in, wraps the keyring they hold for the new officer's password
(the custodian keyring only if they hold it). Removing an officer destroys their
wrapped copies and their password hash but keeps the row, name and all, so the
audit log and the cases' history still say who did what; a removed officer's name
is never given to a new one. The last manager cannot be removed.
"""

import functools
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from argon2 import PasswordHasher, Type, extract_parameters
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from whistle.crypto import (
    CodeError,
    DecryptionError,
    KdfParams,
    WrongPassphraseError,
    generate_box_keypair,
    passphrase_params,
    recovery_wrapping_key,
)
from whistle.errors import WhistleError
from whistle.inbox import compartments
from whistle.inbox.audit import key_for, record_event, use_key
from whistle.inbox.config import InboxConfig, PasswordHashParams
from whistle.inbox.epochs import adopt_legacy, seal_wire_keys
from whistle.inbox.errors import (
    CompartmentsMigrationError,
    CustodianRoleError,
    InboxError,
    LastManagerError,
    LastSecurityKeyError,
    LoginError,
    NoSuchOfficerError,
    OfficerDesksError,
    OfficerNameTakenError,
    PasswordLengthError,
    PermissionDeniedError,
    RecoveryKeyError,
    SecondFactorRequiredError,
    SecurityKeyRefusedError,
    ThrottledError,
)
from whistle.inbox.keyring import (
    CustodianKeyring,
    OfficeKeyring,
    unwrap_custodian,
    unwrap_custodian_recovery,
    unwrap_office,
    unwrap_office_recovery,
    wrap_for_password,
    wrap_for_recovery,
)
from whistle.inbox.models import (
    ROLE_CUSTODIAN,
    ROLE_MANAGER,
    ROLE_OFFICER,
    ROLES,
    LoginAttempt,
    Office,
    Officer,
    SecurityKey,
)
from whistle.inbox.security_keys import (
    CheckedKey,
    PendingSignIn,
    add_key,
    check_label,
    check_sign_in,
    delete_all,
    delete_key,
    find_key,
    has_keys,
    keys_of,
    new_factor,
)

log = logging.getLogger(__name__)

MIN_PASSWORD_CHARS = 12
MAX_PASSWORD_CHARS = 1024
MAX_NAME_CHARS = 64
WRONG = "Wrong name or password."


def hasher(config: InboxConfig) -> PasswordHasher:
    p = config.password_hash
    return PasswordHasher(
        time_cost=p.time_cost, memory_cost=p.memory_cost_kib, parallelism=p.parallelism
    )


def check_new_password(password: str) -> None:
    if len(password) < MIN_PASSWORD_CHARS:
        raise PasswordLengthError(f"A password has at least {MIN_PASSWORD_CHARS} characters.")
    if len(password) > MAX_PASSWORD_CHARS:
        raise PasswordLengthError(f"A password has at most {MAX_PASSWORD_CHARS} characters.")


def check_name(name: str) -> str:
    name = name.strip()
    if not name or len(name) > MAX_NAME_CHARS or any(c.isspace() for c in name):
        raise InboxError(f"A name is 1 to {MAX_NAME_CHARS} characters without spaces.")
    return name


def add_officer(
    session: Session,
    config: InboxConfig,
    *,
    name: str,
    password: str,
    roles: tuple[str, ...],
    keyring: OfficeKeyring,
    custodian_keyring: CustodianKeyring | None,
    by_officer_id: int | None = None,
    desks: list[str] | None = None,
) -> Officer:
    """A new officer with their own wrapped copies of the keys their roles need, a personal
    key of their own, and membership of ``desks`` (None: an officer gets the desks whose
    keys ``keyring`` holds; a manager or custodian only, none — docs/decisions.md)."""
    name = check_name(name)
    check_new_password(password)
    unknown = set(roles) - set(ROLES)
    if unknown or not roles:
        raise InboxError("Roles are officer, manager and custodian.")
    if ROLE_CUSTODIAN in roles and custodian_keyring is None:
        raise CustodianRoleError("Only a custodian (or the recovery key) can add a custodian.")
    if desks and not compartments.active(session):
        raise CompartmentsMigrationError(
            "This office is not in desk compartments yet (every officer reads every case): "
            "add the officer without --desk, or run `desks migrate` first."
        )
    if desks and ROLE_OFFICER not in roles:
        raise OfficerDesksError(
            "Only officers handle cases: a manager or custodian who is not also an officer "
            "is in no desk."
        )
    existing = session.scalar(select(Officer).where(Officer.name == name))
    if existing is not None:
        if existing.is_removed:
            raise OfficerNameTakenError(
                "That name belonged to an officer who was removed (the audit log still "
                "names them): choose another.",
                removed=True,
            )
        raise OfficerNameTakenError("An officer with that name exists already.", removed=False)
    now = config.clock()
    personal = generate_box_keypair()
    officer = Officer(
        name=name,
        password_hash=hasher(config).hash(password),
        wrapped_keyring=wrap_for_password(
            keyring.without_legacy().with_personal(personal.secret_key),
            password,
            config.kdf_params,
        ),
        public_key=personal.public_key,
        wrapped_custodian_keyring=(
            wrap_for_password(custodian_keyring, password, config.kdf_params)
            if ROLE_CUSTODIAN in roles and custodian_keyring is not None
            else None
        ),
        is_officer=ROLE_OFFICER in roles,
        is_manager=ROLE_MANAGER in roles,
        is_custodian=ROLE_CUSTODIAN in roles,
        created_at=now.replace(tzinfo=None),
    )
    session.add(officer)
    session.flush()
    record_event(
        session,
        now,
        "officer-added",
        officer_id=by_officer_id,
        detail=f"{officer.name}: {', '.join(officer.roles)}",
    )
    if compartments.active(session):
        if desks is None:
            desks = (
                sorted(compartments.open_desks(session, keyring).desk_ids())
                if officer.is_officer
                else []
            )
        compartments.grant_desks_now(session, keyring, officer, desks, now)
        if desks:
            record_event(
                session,
                now,
                "desk-member-added",
                officer_id=by_officer_id,
                detail=f"{officer.name} to {', '.join(desks)}",
            )
    return officer


@dataclass(frozen=True, repr=False)
class SignedIn:
    officer_id: int
    name: str
    roles: tuple[str, ...]
    keyring: OfficeKeyring
    custodian_keyring: CustodianKeyring | None
    #: The officer's second factor, when they signed in with a security key (kept with the
    #: unlocked keys: enrolling another key or changing the password needs it).
    second_factor: bytes | None = None
    #: Whether this sign-in moved desk keys out from under the storage key: the caller
    #: scrubs the write-ahead log (``epochs.scrub``) after its commit, as after any key move.
    moved_keys: bool = False


def still_signed_in(session: Session, officer_id: int, roles: tuple[str, ...]) -> bool:
    """Whether a signed-in officer still exists with the roles they signed in with.

    Asked on every request, so a removal or role change made elsewhere (the command line,
    another browser) ends their unlocked session at once, not at the idle lock.
    """
    officer = session.get(Officer, officer_id)
    return officer is not None and not officer.is_removed and officer.roles == roles


def _window_start(config: InboxConfig, now: datetime) -> datetime:
    return (now - timedelta(seconds=config.throttle.window_seconds)).replace(tzinfo=None)


def _check_throttle(session: Session, config: InboxConfig, name: str, now: datetime) -> None:
    since = _window_start(config, now)
    # Older attempts no longer count (the audit log keeps sign-ins): the table stays small.
    session.execute(delete(LoginAttempt).where(LoginAttempt.attempted_at <= since))
    last_success = session.scalar(
        select(func.max(LoginAttempt.attempted_at)).where(
            LoginAttempt.name == name, LoginAttempt.succeeded.is_(True)
        )
    )
    account_since = max(since, last_success) if last_success is not None else since
    failures = select(func.count(), func.min(LoginAttempt.attempted_at)).where(
        LoginAttempt.succeeded.is_(False)
    )
    count, oldest = session.execute(
        failures.where(LoginAttempt.name == name, LoginAttempt.attempted_at > account_since)
    ).one()
    if count >= config.throttle.per_account:
        raise _throttled(config, now, oldest)


def _throttled(config: InboxConfig, now: datetime, oldest: datetime) -> ThrottledError:
    free_at = oldest + timedelta(seconds=config.throttle.window_seconds)
    seconds = max(1, int((free_at - now.replace(tzinfo=None)).total_seconds()) + 1)
    minutes = (seconds + 59) // 60
    return ThrottledError(
        f"Too many failed sign-ins. Wait {minutes} minute(s) and try again.", seconds
    )


def check_password(session: Session, config: InboxConfig, name: str, password: str) -> Officer:
    """The officer whose name and password these are; ``LoginError`` says nothing more.

    A failure is committed before ``LoginError`` is raised, so it is always counted.
    """
    now = config.clock()
    name = name.strip()[:MAX_NAME_CHARS]
    _check_throttle(session, config, name, now)
    officer = session.scalar(select(Officer).where(Officer.name == name)) if name else None
    if officer is not None and officer.is_removed:
        officer = None  # a removed officer is nobody: the same answer, the same time
    ph = hasher(config)
    try:
        if officer is None:
            # Spend the same time as for a real officer, so timing reveals no names.
            ph.verify(_dummy_hash(config), password + "\x00")
            raise VerificationError
        ph.verify(officer.password_hash, password)
    except (VerificationError, InvalidHashError) as exc:
        raise _failed(session, now, name) from exc
    return officer


def _failed(session: Session, now: datetime, name: str) -> LoginError:
    """Count a failed sign-in under the name typed; the error to raise."""
    session.add(LoginAttempt(name=name, attempted_at=now.replace(tzinfo=None), succeeded=False))
    record_event(session, now, "sign-in-failed")
    session.commit()  # counted even though the caller's unit of work fails
    return LoginError(WRONG)


def sign_in(session: Session, config: InboxConfig, name: str, password: str) -> SignedIn:
    """Check the password and unwrap the officer's keys; ``LoginError`` says nothing more.

    An officer with a security key gets ``SecondFactorRequiredError``: their keyring does not
    open with the password alone (the inbox's sign-in page asks for the key next).
    """
    officer = check_password(session, config, name, password)
    if has_keys(session, officer.id):
        raise SecondFactorRequiredError(
            f"{officer.name}'s keys open only with their password and security key together, "
            "and the command line cannot use a security key: use the inbox in the browser, or "
            "the recovery key (`whistle inbox reset-password` removes their security keys)."
        )
    return unlock(session, config, officer, password)


def unlock(
    session: Session,
    config: InboxConfig,
    officer: Officer,
    password: str,
    factor: bytes | None = None,
) -> SignedIn:
    """Unwrap the keys of an officer whose password (and security key) were checked.

    Hashes and wraps made with weaker Argon2id parameters than the configured ones are
    redone now with the password at hand (the first sign-in after an upgrade is slower).
    """
    now = config.clock()
    try:
        keyring = unwrap_office(officer.wrapped_keyring, password, factor)
        custodian = (
            unwrap_custodian(officer.wrapped_custodian_keyring, password, factor)
            if officer.is_custodian and officer.wrapped_custodian_keyring is not None
            else None
        )
    except WrongPassphraseError as exc:
        raise _failed(session, now, officer.name) from exc
    session.add(
        LoginAttempt(name=officer.name, attempted_at=now.replace(tzinfo=None), succeeded=True)
    )
    use_key(session, key_for(keyring.storage_secret))
    record_event(session, now, "signed-in", officer_id=officer.id)
    if _hash_weaker(officer.password_hash, config.password_hash):
        officer.password_hash = hasher(config).hash(password)
    if keyring.legacy is not None:
        # A version 1 keyring (desk keys inside): its keys move to the database once,
        # and this officer's copy is rewrapped without them (docs/decisions.md).
        adopt_legacy(session, keyring, now)
        keyring = keyring.without_legacy()
        officer.wrapped_keyring = wrap_for_password(keyring, password, config.kdf_params, factor)
    elif _weaker(officer.wrapped_keyring, config.kdf_params):
        officer.wrapped_keyring = wrap_for_password(keyring, password, config.kdf_params, factor)
    if custodian is not None and _weaker(officer.wrapped_custodian_keyring, config.kdf_params):
        officer.wrapped_custodian_keyring = wrap_for_password(
            custodian, password, config.kdf_params, factor
        )
    if compartments.active(session):
        if keyring.personal_secret is None or officer.public_key != keyring.personal_public:
            # The first sign-in since the office moved into desks: a personal key of their
            # own, to which their desks' keys are sealed from now on.
            keyring = compartments.give_personal_key(session, officer, keyring)
            officer.wrapped_keyring = wrap_for_password(
                keyring, password, config.kdf_params, factor
            )
        compartments.deliver(session, keyring)
        # The keys of records in transit move into the compartments at the first sign-in
        # after the office moved (its database upgrade has no keys to do it with).
        moved = seal_wire_keys(session, keyring, now)
        _file_held_back(session, config, keyring, officer.id)
        return SignedIn(
            officer.id, officer.name, officer.roles, keyring, custodian, factor, moved > 0
        )
    return SignedIn(officer.id, officer.name, officer.roles, keyring, custodian, factor)


def _file_held_back(
    session: Session, config: InboxConfig, keyring: OfficeKeyring, officer_id: int
) -> None:
    """Records held back for this officer's desks are filed as they sign in. A record that
    cannot be filed stays held and never stops a sign-in: the Bundles page says why."""
    from whistle.inbox.bundles import file_held_back  # bundles → office_setup → officers

    try:
        with session.begin_nested():
            file_held_back(
                session,
                keyring,
                store_dir=config.store_dir,
                now=config.clock(),
                officer_id=officer_id,
            )
    except WhistleError as exc:
        log.warning("held-back records not filed at sign-in: %s", exc)


def sign_in_with_key(
    session: Session,
    config: InboxConfig,
    pending: PendingSignIn,
    origin: str,
    assertion: str,
    prf: str,
) -> SignedIn:
    """The second step for an officer with security keys: their key's assertion for the
    pending challenge, its PRF answer unwrapping their factor, then their keyrings. A refused
    answer counts as a failed sign-in (committed) and is re-raised."""
    officer = session.get(Officer, pending.officer_id)
    if officer is None or officer.is_removed:
        raise LoginError(WRONG)
    try:
        factor = check_sign_in(session, config.clock(), pending, origin, assertion, prf)
    except SecurityKeyRefusedError:
        _failed(session, config.clock(), officer.name)
        raise
    return unlock(session, config, officer, pending.password, factor)


def _hash_weaker(password_hash: str, params: PasswordHashParams) -> bool:
    """Whether a sign-in hash was made with less memory or fewer passes than ``params`` (never
    rehashed weaker: an inbox started with lower settings leaves stronger hashes alone)."""
    used = extract_parameters(password_hash)
    return (
        used.type is not Type.ID
        or used.memory_cost < params.memory_cost_kib
        or used.time_cost < params.time_cost
    )


def _weaker(wrapped: bytes | None, params: KdfParams) -> bool:
    """Whether a password wrap was made with less memory or fewer passes than ``params``."""
    used = passphrase_params(wrapped) if wrapped else None
    return used is not None and (used.memlimit < params.memlimit or used.opslimit < params.opslimit)


def warm_up(config: InboxConfig) -> None:
    """Compute the stand-in hash now, so the first unknown name costs no more than a known one."""
    _dummy_hash(config)


def _dummy_hash(config: InboxConfig) -> str:
    return _dummy_for(config.password_hash)


@functools.cache
def _dummy_for(params: PasswordHashParams) -> str:
    ph = PasswordHasher(
        time_cost=params.time_cost,
        memory_cost=params.memory_cost_kib,
        parallelism=params.parallelism,
    )
    return ph.hash("whistle-no-such-officer")


def change_password(
    session: Session,
    config: InboxConfig,
    officer_id: int,
    old_password: str,
    new_password: str,
    factor: bytes | None = None,
) -> None:
    """Rewrap the officer's keys under a new password (the old one must be right), and their
    second factor when they have security keys (``factor``, from signing in with one)."""
    officer = session.get(Officer, officer_id)
    if officer is None or officer.is_removed:
        raise LoginError(WRONG)
    check_new_password(new_password)
    keyring, custodian = _own_keys(session, config, officer, old_password, factor)
    officer.password_hash = hasher(config).hash(new_password)
    officer.wrapped_keyring = wrap_for_password(keyring, new_password, config.kdf_params, factor)
    if custodian is not None:
        officer.wrapped_custodian_keyring = wrap_for_password(
            custodian, new_password, config.kdf_params, factor
        )
    record_event(session, config.clock(), "password-changed", officer_id=officer.id)


def _own_keys(
    session: Session,
    config: InboxConfig,
    officer: Officer,
    password: str,
    factor: bytes | None,
) -> tuple[OfficeKeyring, CustodianKeyring | None]:
    """The officer's keyrings, opened again to confirm a change to how they are wrapped."""
    if factor is None and has_keys(session, officer.id):
        raise SecondFactorRequiredError(
            "Sign in again with your security key first: your keys open only with it."
        )
    try:
        hasher(config).verify(officer.password_hash, password)
        keyring = unwrap_office(officer.wrapped_keyring, password, factor)
        custodian = (
            unwrap_custodian(officer.wrapped_custodian_keyring, password, factor)
            if officer.wrapped_custodian_keyring is not None
            else None
        )
    except (VerificationError, InvalidHashError, WrongPassphraseError) as exc:
        raise LoginError("The current password is wrong.") from exc
    return keyring, custodian


# --- Security keys (security_keys.py holds the WebAuthn side) ------------------------------


def enrol_security_key(
    session: Session,
    config: InboxConfig,
    *,
    officer_id: int,
    password: str,
    factor: bytes | None,
    label: str,
    checked: CheckedKey,
) -> bytes:
    """Add a verified key to the signed-in officer; their second factor (new with the first
    key, when their keyrings are rewrapped under password and factor together)."""
    officer = session.get(Officer, officer_id)
    if officer is None or officer.is_removed:
        raise LoginError(WRONG)
    check_label(label)
    keyring, custodian = _own_keys(session, config, officer, password, factor)
    if factor is None:
        factor = new_factor()
        officer.wrapped_keyring = wrap_for_password(keyring, password, config.kdf_params, factor)
        if custodian is not None:
            officer.wrapped_custodian_keyring = wrap_for_password(
                custodian, password, config.kdf_params, factor
            )
    add_key(session, config.clock(), officer, label=label, checked=checked, factor=factor)
    return factor


def remove_own_security_key(
    session: Session,
    config: InboxConfig,
    *,
    officer_id: int,
    key_id: int,
    password: str,
    factor: bytes | None,
) -> bool:
    """The signed-in officer removes one of their keys; whether it was their last (their
    keyrings are then wrapped under the password alone again)."""
    officer = session.get(Officer, officer_id)
    if officer is None or officer.is_removed:
        raise LoginError(WRONG)
    key = find_key(session, officer.id, key_id)
    keyring, custodian = _own_keys(session, config, officer, password, factor)
    last = len(keys_of(session, officer.id)) == 1
    if last:
        officer.wrapped_keyring = wrap_for_password(keyring, password, config.kdf_params)
        if custodian is not None:
            officer.wrapped_custodian_keyring = wrap_for_password(
                custodian, password, config.kdf_params
            )
    delete_key(session, config.clock(), officer, key, by_officer_id=officer.id, how="by them")
    return last


def list_security_keys(session: Session, name: str) -> list[SecurityKey]:
    return keys_of(session, _live_officer(session, name).id)


def remove_security_key_with_recovery(
    session: Session, config: InboxConfig, *, name: str, recovery_key: str, key_id: int
) -> SecurityKey:
    """A lost key, removed at the command line with the recovery key. Not the officer's last:
    their keyrings need the factor the remaining keys hold (``reset_password`` instead)."""
    open_with_recovery_key(session, recovery_key)
    officer = _live_officer(session, name)
    key = find_key(session, officer.id, key_id)
    if len(keys_of(session, officer.id)) == 1:
        raise LastSecurityKeyError(
            f"This is {officer.name}'s last security key: their keys open only with it. "
            f"To sign in without it, reset their password with the recovery key "
            f"(`whistle inbox reset-password`), which removes their security keys."
        )
    delete_key(
        session, config.clock(), officer, key, by_officer_id=None, how="with the recovery key"
    )
    return key


# --- Officers joining and leaving -----------------------------------------------------------


def require_manager(session: Session, officer_id: int) -> Officer:
    """The signed-in officer, read again now: still there and still a manager."""
    actor = session.get(Officer, officer_id)
    if actor is None or actor.is_removed or not actor.is_manager:
        raise PermissionDeniedError("Only a system manager can do this.")
    return actor


def _live_officer(session: Session, name: str) -> Officer:
    officer = session.scalar(select(Officer).where(Officer.name == name.strip()))
    if officer is None or officer.is_removed:
        raise NoSuchOfficerError("No officer has that name.")
    return officer


def _managers(session: Session) -> int:
    return len(
        [o for o in session.scalars(select(Officer).where(Officer.is_manager)) if not o.is_removed]
    )


def list_officers(session: Session) -> list[Officer]:
    """Every officer, removed ones included (they keep their name in the history)."""
    return list(session.scalars(select(Officer).order_by(Officer.name)))


def enrol_officer(
    session: Session,
    config: InboxConfig,
    *,
    by_officer_id: int,
    keyring: OfficeKeyring,
    custodian_keyring: CustodianKeyring | None,
    name: str,
    password: str,
    roles: tuple[str, ...],
    desks: list[str] | None = None,
) -> Officer:
    """A manager adds an officer: the keyring the manager holds, wrapped for the new password,
    and membership of ``desks`` (``add_officer``; the grant is the recorded act of
    ``desks add-member``).

    The custodian keyring goes only to a new custodian, and only from someone who holds it
    (a custodian who is also a manager, or the recovery key at the command line).
    """
    require_manager(session, by_officer_id)
    return add_officer(
        session,
        config,
        name=name,
        password=password,
        roles=roles,
        keyring=keyring,
        custodian_keyring=custodian_keyring,
        by_officer_id=by_officer_id,
        desks=desks,
    )


def remove_officer(
    session: Session, config: InboxConfig, *, by_officer_id: int, name: str
) -> Officer:
    """Destroy an officer's wrapped keys and password hash; keep their name for the history.

    Afterwards their password unlocks nothing here. It cannot undo what they may have copied
    while they had the keys (or a backup holding their wrapped copy): hence the advice to
    rotate the keys (docs/officer-guide.md, "Rotating keys").
    """
    require_manager(session, by_officer_id)
    officer = _live_officer(session, name)
    if officer.is_manager and _managers(session) <= 1:
        raise LastManagerError(
            "This is the last manager: make another officer a manager before removing them."
        )
    roles = ", ".join(officer.roles)
    compartments.forget_officer(session, officer.id, config.clock())  # refused if last member
    officer.password_hash = ""
    officer.wrapped_keyring = b""
    officer.wrapped_custodian_keyring = None
    officer.is_officer = officer.is_manager = officer.is_custodian = False
    delete_all(session, officer.id)
    record_event(
        session,
        config.clock(),
        "officer-removed",
        officer_id=by_officer_id,
        detail=f"{officer.name} (was: {roles}): wrapped keys destroyed",
    )
    return officer


def change_roles(
    session: Session,
    config: InboxConfig,
    *,
    by_officer_id: int,
    name: str,
    roles: tuple[str, ...],
) -> Officer:
    """Change an officer's roles. Custodian can be taken away (their custodian keyring is
    destroyed) but not given: that key is wrapped with the officer's own password, which only
    they know — a new custodian is added as a new officer, or made at office set-up."""
    require_manager(session, by_officer_id)
    officer = _live_officer(session, name)
    unknown = set(roles) - set(ROLES)
    if unknown or not roles:
        raise InboxError("Roles are officer, manager and custodian.")
    if ROLE_CUSTODIAN in roles and not officer.is_custodian:
        raise CustodianRoleError(
            "The custodian role can only be given when an officer is added: their custodian "
            "key is wrapped with their own password."
        )
    if officer.is_manager and ROLE_MANAGER not in roles and _managers(session) <= 1:
        raise LastManagerError("This is the last manager: make another officer a manager first.")
    before = ", ".join(officer.roles)
    if officer.is_officer and ROLE_OFFICER not in roles:
        # No longer an officer: out of every desk, whose keys rotate (compartments.py).
        compartments.forget_officer(session, officer.id, config.clock())
    officer.is_officer = ROLE_OFFICER in roles
    officer.is_manager = ROLE_MANAGER in roles
    if officer.is_custodian and ROLE_CUSTODIAN not in roles:
        officer.wrapped_custodian_keyring = None
    officer.is_custodian = ROLE_CUSTODIAN in roles
    record_event(
        session,
        config.clock(),
        "officer-roles-changed",
        officer_id=by_officer_id,
        detail=f"{officer.name}: {before} -> {', '.join(officer.roles)}",
    )
    return officer


@dataclass(frozen=True, repr=False)
class Recovered:
    """The keys the recovery key opens (kept in memory only, like a signed-in officer's)."""

    keyring: OfficeKeyring
    custodian_keyring: CustodianKeyring


def open_with_recovery_key(session: Session, recovery_key: str) -> Recovered:
    """Unwrap the office's recovery copies; a mistyped or wrong key is a ``RecoveryKeyError``."""
    try:
        wrapping = recovery_wrapping_key(recovery_key)
    except CodeError as exc:
        raise RecoveryKeyError(
            f"That is not a recovery key ({exc}): check it for typing mistakes. "
            "Nothing was changed."
        ) from exc
    office = session.scalar(select(Office).where(Office.id == 1))
    if office is None:
        raise InboxError("This directory holds no office.")
    try:
        keyring = unwrap_office_recovery(office.recovery_keyring, wrapping)
        custodian = unwrap_custodian_recovery(office.recovery_custodian_keyring, wrapping)
    except DecryptionError as exc:
        raise RecoveryKeyError(
            "This recovery key does not open this office's keys (it is another office's, or "
            "an old one). Nothing was changed."
        ) from exc
    return Recovered(keyring, custodian)


def reset_password(
    session: Session, config: InboxConfig, *, name: str, recovery_key: str, new_password: str
) -> Officer:
    """A forgotten password: the recovery key's copies of the keys, wrapped for a new one."""
    check_new_password(new_password)
    recovered = open_with_recovery_key(session, recovery_key)
    officer = _live_officer(session, name)
    _recovery_without_desks(session, recovered.keyring, recovery_key, config.clock())
    officer.password_hash = hasher(config).hash(new_password)
    keyring = recovered.keyring.without_legacy()
    if compartments.active(session):
        # Their old personal key is lost with the password: a new one, and their desks'
        # keys sealed to it again from the recovery key's copies (never the recovery's own).
        compartments.drop_grants(session, officer.id)
        keyring = compartments.give_personal_key(session, officer, keyring)
        compartments.deliver(session, recovered.keyring)
    officer.wrapped_keyring = wrap_for_password(keyring, new_password, config.kdf_params)
    officer.wrapped_custodian_keyring = (
        wrap_for_password(recovered.custodian_keyring, new_password, config.kdf_params)
        if officer.is_custodian
        else None
    )
    removed = delete_all(session, officer.id)
    record_event(
        session,
        config.clock(),
        "password-reset-with-recovery-key",
        officer_id=officer.id,
        detail=officer.name + (f" (security keys removed: {removed})" if removed else ""),
    )
    return officer


def rewrap_recovery(session: Session, recovery_key: str, now: datetime) -> bool:
    """Rewrap a version 1 recovery keyring (desk keys inside) as version 2; whether it was."""
    recovered = open_with_recovery_key(session, recovery_key)
    return _recovery_without_desks(session, recovered.keyring, recovery_key, now)


def _recovery_without_desks(
    session: Session, keyring: OfficeKeyring, recovery_key: str, now: datetime
) -> bool:
    """An office from before key epochs keeps its first desk keys inside the recovery copy:
    move them to the database if nobody has (so nothing is lost), then wrap the copy again
    without them, so that keys destroyed later cannot come back through the recovery key."""
    if keyring.legacy is None:
        return False
    adopt_legacy(session, keyring, now)
    office = session.get(Office, 1)
    if office is None:
        raise InboxError("This directory holds no office.")
    office.recovery_keyring = wrap_for_recovery(
        keyring.without_legacy(), recovery_wrapping_key(recovery_key)
    )
    record_event(session, now, "recovery-keyring-rewrapped", detail="version 2: no desk keys")
    return True
