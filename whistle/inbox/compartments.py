"""Desks as compartments, enforced by keys: who holds which desk's key, and which case keys
those open (docs/protocol.md §12, "Compartments").

    personal key      an X25519 pair per officer: the public half in ``officer.public_key``,
                      the secret in the officer's own wrapped keyring (and one for the
                      recovery keyring, ``office.recovery_public_key``)
    compartment key   an X25519 pair per desk and generation; its secret exists only as key
                      grants (``whistle.crypto.seal_grant``) to each member's personal key
                      and to the recovery key (``desk_grant``)
    case key          an X25519 pair per case and generation; everything stored for the case
                      (records, summaries, notes, reasons, labels, drafts, its search entry)
                      is sealed to it. Its secret is granted to the desk's compartment key
                      (``desk:<desk>:<generation>``), or — once an officer stepped aside —
                      to each other member and to the recovery key one by one

So a signed-in officer's secrets open exactly: their desks' compartment keys, through them
the case keys of those desks' cases, and the case keys granted to them by name. Lists,
search and the dashboard show the cases whose grants those keys hold (``readable``); every
read goes through ``case_secrets``, which refuses by key (``CaseLockedError``).

Sealing needs only public keys, so anyone — the importer, the custodian recording a
decision, a manager rotating a desk — can write into a compartment without being able to read
it. Adding a member is sealing the desk key to them: done at once by whoever holds it, else
delivered at the next sign-in of a member (``deliver``).

Before ``migrate`` (an office from before desks) nothing is in a compartment: the storage
key, which every officer holds, still opens everything, as it did.
"""

from collections.abc import MutableMapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import ColumnElement, delete, func, select
from sqlalchemy.orm import Session

from whistle.crypto import (
    CryptoError,
    box_keypair_from_secret,
    generate_box_keypair,
    open_grant,
    recovery_wrapping_key,
    seal_grant,
)
from whistle.inbox import epochs, sealing
from whistle.inbox.audit import record_event
from whistle.inbox.errors import (
    CaseLockedError,
    CompartmentsMigrationError,
    DeskCasesLockedError,
    DeskError,
    DeskHasCasesError,
    InboxError,
    LastDeskError,
    LastMemberError,
    NoSuchOfficerError,
    PermissionDeniedError,
    RecusalError,
    SuccessorDeskError,
)
from whistle.inbox.keyring import OfficeKeyring, wrap_for_recovery
from whistle.inbox.models import (
    STATUS_CLOSED,
    Case,
    CaseGrant,
    CaseKey,
    CaseSearch,
    Compartment,
    DeskGrant,
    DeskMember,
    DeskSearch,
    Office,
    Officer,
    Recusal,
    RemovedDesk,
    SearchIndex,
)
from whistle.inbox.rekey import reseal_case

RECOVERY = "recovery"
#: The interim holder during the migration: the storage key every officer holds.
STORAGE = "storage"
#: ``session.info`` key a transaction that changed who holds what carries: the key store
#: empties its caches after it commits (``KeyStore.forget_purged``).
KEYS_CHANGED = "whistle_keys_changed"
MIN_REASON_CHARS = 10
MAX_REASON_CHARS = 5_000

Cache = MutableMapping[tuple[str, ...], Any]
LOCKED = "Your keys do not open this case."


def officer_holder(officer_id: int) -> str:
    return f"officer:{officer_id}"


def desk_holder(desk_id: str, generation: int) -> str:
    return f"desk:{desk_id}:{generation}"


def _desk_context(desk_id: str, generation: int) -> str:
    return f"desk/{desk_id}/{generation}"


def _case_context(case_id: str, generation: int) -> str:
    return f"case/{case_id}/{generation}"


#: ``session.info`` key: the transaction in which ``active`` last found compartments.
_ACTIVE_IN = "whistle_compartments_active_in"


def active(session: Session) -> bool:
    """Whether this office's content is in compartments (an office made before desks is not,
    until ``migrate``).

    Asked before every read of a case, so a yes is remembered for the rest of the
    transaction (an office never leaves compartments; a rolled-back ``migrate`` ends the
    transaction, and with it the answer)."""
    transaction = session.get_nested_transaction() or session.get_transaction()
    if transaction is not None and session.info.get(_ACTIVE_IN) is transaction:
        return True
    found = bool(session.scalar(select(Office.compartments_at).where(Office.id == 1)))
    if found:
        session.info[_ACTIVE_IN] = session.get_nested_transaction() or session.get_transaction()
    return found


def _changed(session: Session, desk_id: str | None = None) -> None:
    """Who holds what changed: the caches go after the commit, and the desk's search index
    (whose text the one who lost access could open) goes now."""
    session.info[KEYS_CHANGED] = True
    if desk_id is not None:
        session.execute(delete(DeskSearch).where(DeskSearch.desk_id == desk_id))


# --- whose keys --------------------------------------------------------------------------


@dataclass(frozen=True, repr=False)
class Opened:
    """What one keyring opens: its holder names and its desks' compartment secrets."""

    holders: tuple[str, ...]
    desks: dict[tuple[str, int], bytes]
    personal_secret: bytes | None

    def __repr__(self) -> str:
        return f"Opened(holders={self.holders}, desks={sorted(self.desks)})"

    @property
    def case_holders(self) -> list[str]:
        return [desk_holder(d, g) for d, g in self.desks] + [
            h for h in self.holders if h != STORAGE
        ]

    def desk_ids(self) -> set[str]:
        return {d for d, _ in self.desks}


def _holder_of(session: Session, keyring: OfficeKeyring) -> str | None:
    public = keyring.personal_public
    if public is None:
        return None
    officer_id = session.scalar(select(Officer.id).where(Officer.public_key == public))
    if officer_id is not None:
        return officer_holder(officer_id)
    if session.scalar(select(Office.recovery_public_key).where(Office.id == 1)) == public:
        return RECOVERY
    return None


def open_desks(session: Session, keyring: OfficeKeyring, cache: Cache | None = None) -> Opened:
    """The compartment keys ``keyring`` holds, each grant opened and checked."""
    key = ("desks", (keyring.personal_public or b"").hex(), keyring.storage_public.hex())
    if cache is not None and key in cache:
        cached: Opened = cache[key]
        return cached
    own = _holder_of(session, keyring)
    holders = tuple(h for h in (own, STORAGE) if h is not None)
    publics = {
        (c.desk_id, c.generation): c.public_key for c in session.scalars(select(Compartment))
    }
    desks: dict[tuple[str, int], bytes] = {}
    for grant in session.scalars(select(DeskGrant).where(DeskGrant.holder.in_(holders))):
        place = (grant.desk_id, grant.generation)
        secret = keyring.storage_secret if grant.holder == STORAGE else keyring.personal_secret
        if place in desks or secret is None or place not in publics:
            continue
        try:
            desks[place] = open_grant(grant.grant, secret, _desk_context(*place), publics[place])
        except CryptoError:
            continue  # a damaged grant opens nothing; the others still do
    opened = Opened(holders, desks, keyring.personal_secret)
    if cache is not None:
        cache[key] = opened
    return opened


def wire_keys(
    session: Session, keyring: OfficeKeyring, cache: Cache | None = None
) -> list[epochs.EpochKeys]:
    """The live key epochs as ``keyring`` opens them: the bundle key, and the keys of records
    in transit to the desks whose compartment keys it holds (``epochs.live_keys``)."""
    return epochs.live_keys(session, keyring, open_desks(session, keyring, cache).desks)


def readable(
    session: Session, keyring: OfficeKeyring, cache: Cache | None = None
) -> set[str] | None:
    """The ids of the cases whose keys ``keyring`` holds (None: no compartments yet, so all)."""
    granted = _granted(session, keyring, cache)
    return None if granted is None else granted.cases


def readable_where(
    session: Session, keyring: OfficeKeyring, cache: Cache | None = None
) -> ColumnElement[bool] | None:
    """``readable`` as a condition on ``Case.id`` (None: no compartments yet, so all), for a
    list the database filters, sorts and cuts into pages itself."""
    if not active(session):
        return None
    holders = open_desks(session, keyring, cache).case_holders
    return Case.id.in_(select(CaseGrant.case_id).where(CaseGrant.holder.in_(holders)))


@dataclass(frozen=True)
class Granted:
    """The cases one keyring's grants open: all of them, and of those granted to one of its
    desks' compartments, which desk (the others are granted to the holder by name)."""

    cases: set[str]
    desks: dict[str, str]


def _granted(session: Session, keyring: OfficeKeyring, cache: Cache | None) -> Granted | None:
    if not active(session):
        return None
    opened = open_desks(session, keyring, cache)
    # Grants only come (imports) or change hands (which empties the cache, KEYS_CHANGED) or
    # go with a purge (likewise): their count tells whether the cached set is current.
    count = session.scalar(select(func.count()).select_from(CaseGrant))
    key = ("readable", (keyring.personal_public or b"").hex(), str(count))
    if cache is not None and key in cache:
        cached: Granted = cache[key]
        return cached
    desk_of = {desk_holder(d, g): d for d, g in opened.desks}
    found = Granted(set(), {})
    holders = opened.case_holders
    for case_id, holder in session.execute(
        select(CaseGrant.case_id, CaseGrant.holder).where(CaseGrant.holder.in_(holders))
    ):
        found.cases.add(case_id)
        if (desk := desk_of.get(holder)) is not None:
            found.desks[case_id] = desk
    if cache is not None:
        cache[key] = found
    return found


def case_key_map(
    session: Session, keyring: OfficeKeyring, case_id: str, cache: Cache | None = None
) -> dict[int, bytes]:
    """Generation → secret of each case key ``keyring`` opens; ``CaseLockedError`` if none."""
    key = ("case", (keyring.personal_public or b"").hex(), case_id)
    if cache is not None and key in cache:
        cached: dict[int, bytes] = cache[key]
        return cached
    opened = open_desks(session, keyring, cache)
    publics = {
        k.generation: k.public_key
        for k in session.scalars(select(CaseKey).where(CaseKey.case_id == case_id))
    }
    found: dict[int, bytes] = {}
    for grant in session.scalars(
        select(CaseGrant).where(
            CaseGrant.case_id == case_id, CaseGrant.holder.in_(opened.case_holders)
        )
    ):
        secret = _holder_secret(opened, grant.holder)
        if grant.generation in found or secret is None or grant.generation not in publics:
            continue
        try:
            found[grant.generation] = open_grant(
                grant.grant,
                secret,
                _case_context(case_id, grant.generation),
                publics[grant.generation],
            )
        except CryptoError:
            continue
    if not found:
        raise CaseLockedError(LOCKED)
    if cache is not None:
        cache[key] = found
    return found


def case_keys(
    session: Session,
    keyring: OfficeKeyring,
    case_ids: list[str],
    cache: Cache | None = None,
) -> dict[str, list[bytes]]:
    """``case_secrets`` of many cases at once (search builds on it): those already in
    ``cache`` from it, the others' grants read and opened in a few queries per 500 cases
    (each then goes into ``cache`` as ``case_key_map`` would put it). Cases ``keyring``
    does not open are left out."""
    if not active(session):
        return {case_id: [keyring.storage_secret] for case_id in case_ids}
    who = (keyring.personal_public or b"").hex()
    maps: dict[str, dict[int, bytes]] = {}
    todo: list[str] = []
    for case_id in case_ids:
        key = ("case", who, case_id)
        if cache is not None and key in cache:
            maps[case_id] = cache[key]
        else:
            todo.append(case_id)
    opened = open_desks(session, keyring, cache)
    holders = opened.case_holders
    # Thousands of grants, a handful of holders: each holder's public key derived once.
    holder_publics: dict[str, bytes] = {}
    for start in range(0, len(todo) if holders else 0, 500):
        batch = todo[start : start + 500]
        # Columns, not objects: thousands of rows are read once and dropped.
        publics = {
            (case_id, generation): public
            for case_id, generation, public in session.execute(
                select(CaseKey.case_id, CaseKey.generation, CaseKey.public_key).where(
                    CaseKey.case_id.in_(batch)
                )
            )
        }
        for case_id, generation, holder, grant in session.execute(
            select(
                CaseGrant.case_id, CaseGrant.generation, CaseGrant.holder, CaseGrant.grant
            ).where(CaseGrant.case_id.in_(batch), CaseGrant.holder.in_(holders))
        ):
            mine = maps.setdefault(case_id, {})
            secret = _holder_secret(opened, holder)
            public = publics.get((case_id, generation))
            if generation in mine or secret is None or public is None:
                continue
            if holder not in holder_publics:
                holder_publics[holder] = box_keypair_from_secret(secret).public_key
            try:
                mine[generation] = open_grant(
                    grant,
                    secret,
                    _case_context(case_id, generation),
                    public,
                    holder_public=holder_publics[holder],
                )
            except CryptoError:
                continue
        if cache is not None:
            for case_id in batch:
                if maps.get(case_id):
                    cache[("case", who, case_id)] = maps[case_id]
    return {
        case_id: [found[g] for g in sorted(found, reverse=True)]
        for case_id, found in maps.items()
        if found
    }


def desk_granted(
    session: Session, keyring: OfficeKeyring, cache: Cache | None = None
) -> dict[str, str]:
    """Case id → desk of the cases granted to a desk compartment ``keyring`` holds."""
    granted = _granted(session, keyring, cache)
    return {} if granted is None else granted.desks


def desk_public(session: Session, desk_id: str) -> bytes:
    """The newest compartment public key of a desk."""
    row = session.get(Compartment, (desk_id, newest_generation(session, desk_id)))
    if row is None:
        raise DeskError(f"There is no desk {desk_id!r}.")
    return row.public_key


def _holder_secret(opened: Opened, holder: str) -> bytes | None:
    if holder.startswith("desk:"):
        _, desk_id, generation = holder.split(":")
        return opened.desks.get((desk_id, int(generation)))
    return opened.personal_secret if holder in opened.holders else None


def case_secrets(
    session: Session, keyring: OfficeKeyring, case_id: str, cache: Cache | None = None
) -> list[bytes]:
    """Every key that may open something stored for the case, newest first.

    Before the migration: the storage key. ``CaseLockedError`` when ``keyring`` opens none.
    """
    if not active(session):
        return [keyring.storage_secret]
    found = case_key_map(session, keyring, case_id, cache)
    return [found[g] for g in sorted(found, reverse=True)]


def case_public(session: Session, case_id: str) -> bytes:
    """What new content of the case is sealed to: its newest case key (before the migration:
    the storage key)."""
    if not active(session):
        office = session.get(Office, 1)
        if office is None:
            raise InboxError("This directory holds no office.")
        return office.storage_public_key
    public = session.scalar(
        select(CaseKey.public_key)
        .where(CaseKey.case_id == case_id)
        .order_by(CaseKey.generation.desc())
        .limit(1)
    )
    if public is None:
        raise CaseLockedError(LOCKED)
    return public


# --- desks and their compartment keys -----------------------------------------------------


def _recovery_public(session: Session) -> bytes:
    office = session.get(Office, 1)
    if office is None or office.recovery_public_key is None:
        raise CompartmentsMigrationError("This office has no recovery key for compartments.")
    return office.recovery_public_key


def newest_generation(session: Session, desk_id: str) -> int:
    generation = session.scalar(
        select(func.max(Compartment.generation)).where(Compartment.desk_id == desk_id)
    )
    if generation is None:
        raise DeskError(f"There is no desk {desk_id!r}.")
    return generation


def new_compartment(
    session: Session, desk_id: str, now: datetime, *, interim: bytes | None = None
) -> int:
    """A new generation of a desk's compartment key, granted to every member who has a
    personal key and to the recovery key (and, during the migration, to ``interim``, the
    storage public key). Needs no secret. Returns the generation."""
    current = session.scalar(
        select(func.max(Compartment.generation)).where(Compartment.desk_id == desk_id)
    )
    generation = (current or 0) + 1
    pair = generate_box_keypair()
    session.add(
        Compartment(
            desk_id=desk_id,
            generation=generation,
            public_key=pair.public_key,
            created_at=now.replace(tzinfo=None),
        )
    )
    context = _desk_context(desk_id, generation)
    holders: list[tuple[str, bytes]] = [(RECOVERY, _recovery_public(session))]
    if interim is not None:
        holders.append((STORAGE, interim))
    for officer in _members(session, desk_id):
        if officer.public_key is not None:
            holders.append((officer_holder(officer.id), officer.public_key))
    for holder, public in holders:
        session.add(
            DeskGrant(
                desk_id=desk_id,
                generation=generation,
                holder=holder,
                grant=seal_grant(pair.secret_key, public, context),
            )
        )
    session.flush()
    _changed(session, desk_id)
    return generation


def _members(session: Session, desk_id: str) -> list[Officer]:
    return list(
        session.scalars(
            select(Officer)
            .join(DeskMember, DeskMember.officer_id == Officer.id)
            .where(DeskMember.desk_id == desk_id)
            .order_by(Officer.name)
        )
    )


def members(session: Session, desk_id: str) -> list[Officer]:
    """The officers of a desk, by name."""
    return _members(session, desk_id)


def desks_of(session: Session, officer_id: int) -> list[str]:
    return sorted(
        session.scalars(select(DeskMember.desk_id).where(DeskMember.officer_id == officer_id))
    )


def _known_desk(session: Session, desk_id: str) -> None:
    if desk_id not in {d.id for d in epochs.current_card(session).desks}:
        raise DeskError(f"There is no desk {desk_id!r}.")


def _require_manager(session: Session, officer_id: int | None) -> None:
    if officer_id is None:
        return  # the recovery key at the command line
    actor = session.get(Officer, officer_id)
    if actor is None or actor.is_removed or not actor.is_manager:
        raise PermissionDeniedError("Only a system manager can do this.")


def _live(session: Session, name: str) -> Officer:
    officer = session.scalar(select(Officer).where(Officer.name == name.strip()))
    if officer is None or officer.is_removed:
        raise NoSuchOfficerError("No officer has that name.")
    return officer


def add_member(
    session: Session,
    keyring: OfficeKeyring,
    *,
    desk_id: str,
    name: str,
    by_officer_id: int | None,
    now: datetime,
) -> bool:
    """A manager makes an officer a member of a desk (audited). Returns whether the desk key
    reached them now (``keyring`` holds it); otherwise a member's next sign-in delivers it."""
    _require_manager(session, by_officer_id)
    _known_desk(session, desk_id)
    officer = _live(session, name)
    if session.get(DeskMember, (desk_id, officer.id)) is not None:
        raise DeskError(f"{officer.name} is a member of {desk_id} already.")
    session.add(
        DeskMember(desk_id=desk_id, officer_id=officer.id, added_at=now.replace(tzinfo=None))
    )
    session.flush()
    delivered = officer.public_key is not None and deliver(session, keyring) > 0
    record_event(
        session,
        now,
        "desk-member-added",
        officer_id=by_officer_id,
        detail=f"{officer.name} to {desk_id}" + ("" if delivered else " (keys pending)"),
    )
    _changed(session)
    return delivered


def remove_member(
    session: Session,
    *,
    desk_id: str,
    name: str,
    by_officer_id: int | None,
    now: datetime,
) -> int:
    """Take an officer out of a desk: their grants go, and the desk gets a new compartment
    key for what comes next (docs/decisions.md, "Rotating a desk"). The last member cannot
    leave. Returns the new generation."""
    _require_manager(session, by_officer_id)
    _known_desk(session, desk_id)
    officer = _live(session, name)
    membership = session.get(DeskMember, (desk_id, officer.id))
    if membership is None:
        raise DeskError(f"{officer.name} is not a member of {desk_id}.")
    if len(_members(session, desk_id)) <= 1:
        raise LastMemberError(
            f"{officer.name} is the last member of {desk_id}: add another member first, so "
            "that its cases stay readable without the recovery key."
        )
    session.delete(membership)
    _forget_holder(session, officer.id, desk_id)
    generation = new_compartment(session, desk_id, now)
    record_event(
        session,
        now,
        "desk-member-removed",
        officer_id=by_officer_id,
        detail=f"{officer.name} from {desk_id}: their keys deleted, compartment key "
        f"generation {generation}",
    )
    return generation


def _forget_holder(session: Session, officer_id: int, desk_id: str | None) -> None:
    """Delete an officer's grants: of one desk (and its cases), or of every desk."""
    holder = officer_holder(officer_id)
    grants = delete(DeskGrant).where(DeskGrant.holder == holder)
    cases = select(Case.id)
    if desk_id is not None:
        grants = grants.where(DeskGrant.desk_id == desk_id)
        cases = cases.where(Case.desk_id == desk_id)
    session.execute(grants)
    session.execute(
        delete(CaseGrant).where(CaseGrant.holder == holder, CaseGrant.case_id.in_(cases))
    )
    session.flush()
    _changed(session, desk_id)


def drop_grants(session: Session, officer_id: int) -> None:
    """Delete every grant to an officer's personal key (it is being replaced); memberships
    stay, so ``deliver`` seals their desks' keys to the new one."""
    _forget_holder(session, officer_id, None)


def forget_officer(session: Session, officer_id: int, now: datetime) -> None:
    """A removed officer (or no longer an officer): out of every desk, each of which gets a
    new compartment key. Refused, changing nothing, while they are the last member of one."""
    # A removed desk's keys wait only for records in transit (``finish_removals``): no last
    # member to keep, no new generation to make.
    desk_list = [d for d in desks_of(session, officer_id) if session.get(RemovedDesk, d) is None]
    for desk_id in desk_list:
        if len(_members(session, desk_id)) <= 1:
            raise LastMemberError(
                f"They are the last member of {desk_id}: add another member first, so that "
                "its cases stay readable without the recovery key."
            )
    session.execute(delete(DeskMember).where(DeskMember.officer_id == officer_id))
    _forget_holder(session, officer_id, None)
    for desk_id in desk_list:
        if active(session):
            new_compartment(session, desk_id, now)


def deliver(session: Session, keyring: OfficeKeyring) -> int:
    """Seal what ``keyring`` opens to members still waiting for it: desk keys of their desks,
    and case keys granted one by one (cases someone stepped aside from). Returns how many
    grants were made. Interim grants of a desk go once every member has its keys."""
    if not active(session):
        return 0
    opened = open_desks(session, keyring)
    made = 0
    publics = {
        (c.desk_id, c.generation): c.public_key for c in session.scalars(select(Compartment))
    }
    for membership in session.scalars(select(DeskMember)):
        officer = session.get(Officer, membership.officer_id)
        if officer is None or officer.public_key is None or officer.is_removed:
            continue
        holder = officer_holder(officer.id)
        for (desk_id, generation), secret in opened.desks.items():
            if desk_id != membership.desk_id:
                continue
            if session.get(DeskGrant, (desk_id, generation, holder)) is None:
                session.add(
                    DeskGrant(
                        desk_id=desk_id,
                        generation=generation,
                        holder=holder,
                        grant=seal_grant(
                            secret, officer.public_key, _desk_context(desk_id, generation)
                        ),
                    )
                )
                made += 1
        made += _deliver_named_cases(session, keyring, opened, membership.desk_id, officer)
    session.flush()
    _drop_interim(session, publics)
    if made:
        _changed(session)
    return made


def _deliver_named_cases(
    session: Session, keyring: OfficeKeyring, opened: Opened, desk_id: str, officer: Officer
) -> int:
    """Case keys granted by name in ``desk_id`` that ``officer`` (not stepped aside) lacks."""
    assert_public = officer.public_key
    if assert_public is None:
        return 0
    holder = officer_holder(officer.id)
    named = session.scalars(
        select(CaseGrant.case_id)
        .join(Case, Case.id == CaseGrant.case_id)
        .where(Case.desk_id == desk_id, CaseGrant.holder.like("officer:%"))
        .distinct()
    ).all()
    made = 0
    for case_id in named:
        if _recused(session, case_id, officer.id):
            continue
        have = set(
            session.scalars(
                select(CaseGrant.generation).where(
                    CaseGrant.case_id == case_id, CaseGrant.holder == holder
                )
            )
        )
        try:
            secrets_by_gen = case_key_map(session, keyring, case_id)
        except CaseLockedError:
            continue
        for generation, secret in secrets_by_gen.items():
            if generation not in have:
                _add_case_grant(session, case_id, generation, secret, holder, assert_public)
                made += 1
    return made


def _drop_interim(session: Session, publics: dict[tuple[str, int], bytes]) -> None:
    """The storage key's copy of a desk key goes once every member of the desk holds it."""
    for desk_id, generation in publics:
        if session.get(DeskGrant, (desk_id, generation, STORAGE)) is None:
            continue
        waiting = [
            o
            for o in _members(session, desk_id)
            if session.get(DeskGrant, (desk_id, generation, officer_holder(o.id))) is None
        ]
        if not waiting:
            session.execute(
                delete(DeskGrant).where(
                    DeskGrant.desk_id == desk_id,
                    DeskGrant.generation == generation,
                    DeskGrant.holder == STORAGE,
                )
            )


@dataclass(frozen=True)
class Interim:
    """A desk key's interim copy under the storage key (``migrate``), and who it waits for."""

    desk_id: str
    generation: int
    #: Members who hold no copy of their own yet (not signed in since the move, or signed in
    #: before any member who held the key did).
    waiting: tuple[str, ...]
    #: Whether some member holds it with their own key (and so can pass it on).
    held_by_a_member: bool


def interim(session: Session) -> list[Interim]:
    """The interim copies that remain, by desk."""
    found = []
    for grant in session.scalars(
        select(DeskGrant).where(DeskGrant.holder == STORAGE).order_by(DeskGrant.desk_id)
    ):
        place = (grant.desk_id, grant.generation)
        holding = {
            officer.name: session.get(DeskGrant, (*place, officer_holder(officer.id))) is not None
            for officer in _members(session, grant.desk_id)
        }
        found.append(
            Interim(
                grant.desk_id,
                grant.generation,
                tuple(name for name, has in holding.items() if not has),
                any(holding.values()),
            )
        )
    return found


def end_interim(session: Session, *, by_officer_id: int | None, now: datetime) -> list[str]:
    """A manager ends the migration's interim copies now (audited); returns the desks whose
    copy went. A desk none of whose members holds its key yet keeps its copy: without it only
    the recovery key would open that desk. The members still waiting then receive the key
    when they have signed in once and a member who holds it signs in (``deliver``)."""
    _require_manager(session, by_officer_id)
    ended = [i for i in interim(session) if i.held_by_a_member]
    for item in ended:
        session.execute(
            delete(DeskGrant).where(
                DeskGrant.desk_id == item.desk_id,
                DeskGrant.generation == item.generation,
                DeskGrant.holder == STORAGE,
            )
        )
    session.flush()
    waiting = sorted({name for item in ended for name in item.waiting})
    record_event(
        session,
        now,
        "desk-interim-keys-deleted",
        officer_id=by_officer_id,
        detail=(
            f"{', '.join(i.desk_id for i in ended) or 'none'}"
            + (f"; still waiting for their key: {', '.join(waiting)}" if waiting else "")
        )[:500],
    )
    _changed(session)
    return [i.desk_id for i in ended]


def pending(session: Session) -> list[tuple[str, str]]:
    """(desk, officer name) of members who do not hold their desk's newest key yet."""
    waiting = []
    for membership in session.scalars(select(DeskMember).order_by(DeskMember.desk_id)):
        officer = session.get(Officer, membership.officer_id)
        generation = newest_generation(session, membership.desk_id)
        holder = officer_holder(membership.officer_id)
        if officer is not None and (
            session.get(DeskGrant, (membership.desk_id, generation, holder)) is None
        ):
            waiting.append((membership.desk_id, officer.name))
    return waiting


# --- case keys -----------------------------------------------------------------------------


def _add_case_grant(
    session: Session, case_id: str, generation: int, secret: bytes, holder: str, public: bytes
) -> None:
    session.add(
        CaseGrant(
            case_id=case_id,
            generation=generation,
            holder=holder,
            grant=seal_grant(secret, public, _case_context(case_id, generation)),
        )
    )


def _recused(session: Session, case_id: str, officer_id: int) -> bool:
    return (
        session.scalar(
            select(Recusal.id).where(Recusal.case_id == case_id, Recusal.officer_id == officer_id)
        )
        is not None
    )


def recused_officers(session: Session, case_id: str) -> set[int]:
    return set(session.scalars(select(Recusal.officer_id).where(Recusal.case_id == case_id)))


def _grant_case(
    session: Session, case_id: str, desk_id: str, generation: int, secret: bytes
) -> None:
    """Grant one generation of a case key: to the desk's compartment, or — when someone
    stepped aside — to every other member by name and to the recovery key."""
    excluded = recused_officers(session, case_id)
    if not excluded:
        desk_generation = newest_generation(session, desk_id)
        public = session.get(Compartment, (desk_id, desk_generation))
        if public is None:
            raise DeskError(f"There is no desk {desk_id!r}.")
        _add_case_grant(
            session,
            case_id,
            generation,
            secret,
            desk_holder(desk_id, desk_generation),
            public.public_key,
        )
        return
    _add_case_grant(session, case_id, generation, secret, RECOVERY, _recovery_public(session))
    for officer in _members(session, desk_id):
        if officer.id not in excluded and officer.public_key is not None:
            _add_case_grant(
                session, case_id, generation, secret, officer_holder(officer.id), officer.public_key
            )


def new_case_key(session: Session, case_id: str, desk_id: str, *, above: int = 0) -> bytes:
    """A new generation of the case's key, granted to its desk; returns its public key.
    The next replies bundle announces it to the server (``case_announce.queue_case_keys``).
    ``above``: a generation it must exceed although this inbox does not hold it (the server
    holds one made by a lost laptop, ``case_announce.confirm_held``).

    Before the migration nothing is made: content goes to the storage key as it did."""
    if not active(session):
        return case_public(session, case_id)
    current = session.scalar(select(func.max(CaseKey.generation)).where(CaseKey.case_id == case_id))
    generation = max(current or 0, above) + 1
    pair = generate_box_keypair()
    session.add(CaseKey(case_id=case_id, generation=generation, public_key=pair.public_key))
    session.flush()
    _grant_case(session, case_id, desk_id, generation, pair.secret_key)
    session.flush()
    return pair.public_key


def _regrant(
    session: Session, case_id: str, desk_id: str, secrets_by_gen: dict[int, bytes]
) -> None:
    session.execute(delete(CaseGrant).where(CaseGrant.case_id == case_id))
    for generation, secret in secrets_by_gen.items():
        _grant_case(session, case_id, desk_id, generation, secret)
    session.flush()
    _changed(session, desk_id)


def _check_reason(reason: str) -> str:
    reason = reason.strip()
    if len(reason) < MIN_REASON_CHARS:
        raise RecusalError(f"Give the reason (at least {MIN_REASON_CHARS} characters).")
    if len(reason) > MAX_REASON_CHARS:
        raise RecusalError(f"A reason has at most {MAX_REASON_CHARS} characters.")
    return reason


def recuse(
    session: Session,
    keyring: OfficeKeyring,
    *,
    case_id: str,
    officer_name: str,
    by_officer_id: int | None,
    reason: str,
    now: datetime,
) -> Recusal:
    """An officer steps aside from a case (themselves, or a manager records it for them).

    The case's keys are granted again to every other member by name (and the recovery key),
    a new case key generation takes what comes next, and the stepping-aside officer's own
    secrets no longer open any of it. Whoever records it must open the case (``keyring``).
    """
    if not active(session):
        raise CompartmentsMigrationError(
            "Stepping aside needs desk compartments: move this office into them first."
        )
    case = session.get(Case, case_id)
    if case is None:
        raise CaseLockedError(LOCKED)
    officer = _live(session, officer_name)
    if by_officer_id is not None and by_officer_id != officer.id:
        _require_manager(session, by_officer_id)
    reason = _check_reason(reason)
    if _recused(session, case.id, officer.id):
        raise RecusalError(f"{officer.name} has already stepped aside from this case.")
    secrets_by_gen = dict(case_key_map(session, keyring, case.id))
    session.add(
        Recusal(
            case_id=case.id,
            officer_id=officer.id,
            by_officer_id=by_officer_id if by_officer_id is not None else officer.id,
            declared_at=now.replace(tzinfo=None),
            reason=b"",
        )
    )
    session.flush()
    if case.assignee_id == officer.id:
        case.assignee_id = None
    _regrant(session, case.id, case.desk_id, secrets_by_gen)
    public = new_case_key(session, case.id, case.desk_id)
    recusal = session.scalars(
        select(Recusal).where(Recusal.case_id == case.id, Recusal.officer_id == officer.id)
    ).one()
    recusal.reason = sealing.seal_text(public, sealing.RECUSAL, case.id, reason)
    record_event(
        session,
        now,
        "case-recusal",
        officer_id=by_officer_id,
        case_id=case.id,
        detail=f"{officer.name} stepped aside",
    )
    return recusal


def reassign(
    session: Session,
    keyring: OfficeKeyring,
    *,
    case_id: str,
    desk_id: str,
    by_officer_id: int | None,
    now: datetime,
) -> None:
    """A manager moves a case to another desk with its keys: the old desk's grants go, the
    new desk's come, and a new case key generation takes what comes next. The manager must
    open the case (``keyring``) and be a manager."""
    _require_manager(session, by_officer_id)
    if not active(session):
        raise CompartmentsMigrationError(
            "Moving a case with its keys needs desk compartments: move this office first."
        )
    _known_desk(session, desk_id)
    case = session.get(Case, case_id)
    if case is None:
        raise CaseLockedError(LOCKED)
    if case.desk_id == desk_id:
        raise DeskError(f"The case is at {desk_id} already.")
    secrets_by_gen = dict(case_key_map(session, keyring, case.id))
    before = case.desk_id
    case.desk_id = desk_id
    session.flush()
    _changed(session, before)  # the old desk's index holds the case's text
    _regrant(session, case.id, desk_id, secrets_by_gen)
    new_case_key(session, case.id, desk_id)
    record_event(
        session,
        now,
        "case-reassigned",
        officer_id=by_officer_id,
        case_id=case.id,
        detail=f"{before} -> {desk_id}",
    )


@dataclass(frozen=True)
class DeskRemoved:
    """What removing a desk did: cases moved, and the card's new epoch."""

    moved: int
    epoch: int


def desk_cases(session: Session, desk_id: str) -> tuple[int, int]:
    """(cases, of which open) a desk holds: closed ones count too, kept for the law's term."""
    total, open_cases = session.execute(
        select(
            func.count(),
            func.count().filter(Case.status != STATUS_CLOSED),
        ).where(Case.desk_id == desk_id)
    ).one()
    return int(total), int(open_cases)


def check_removable(session: Session, desk_id: str) -> None:
    """A desk with cases, open or closed, cannot go: nobody would hold their keys."""
    total, open_cases = desk_cases(session, desk_id)
    if total:
        raise DeskHasCasesError(
            f"{desk_id} holds {total} case(s), {open_cases} of them open: move them to "
            "another desk first, or with the removal (`desks remove --move-cases`).",
            cases=total,
            open_cases=open_cases,
        )


def removed_desks(session: Session) -> list[RemovedDesk]:
    """The desks the office removed, oldest first."""
    return list(session.scalars(select(RemovedDesk).order_by(RemovedDesk.removed_at)))


def receiving_desk(session: Session, desk_id: str) -> str:
    """Where a report sent to ``desk_id`` goes: the desk itself, or — once it was removed —
    the desk that took its cases (followed on if that one went too)."""
    seen = {desk_id}
    while (removed := session.get(RemovedDesk, desk_id)) is not None:
        desk_id = removed.successor_id
        if desk_id in seen:  # not made by remove_desk (a successor is on the card); be safe
            break
        seen.add(desk_id)
    return desk_id


def remove_desk(
    session: Session,
    keyring: OfficeKeyring,
    *,
    desk_id: str,
    successor_id: str,
    move_cases: bool,
    by_officer_id: int | None,
    now: datetime,
) -> DeskRemoved:
    """A manager removes a desk (audited), all or nothing.

    Refused while it holds cases, unless ``move_cases``: then each goes to ``successor_id``
    with its keys (``reassign``, which needs ``keyring`` to open every one of them). The
    office card gets a new key epoch without the desk, so sources stop being offered it once
    the server has the card; a report sent to it before that is placed at ``successor_id``
    at import (``receiving_desk``). Its memberships and every generation of its compartment
    key go once no live key epoch holds a key of it (``finish_removals``): no case is sealed
    to them any more, only records still in transit may be. Its history stays in the audit
    log.
    """
    _require_manager(session, by_officer_id)
    if not active(session):
        raise CompartmentsMigrationError(
            "Removing a desk needs desk compartments: move this office into them first."
        )
    card_desks = {d.id: d.name for d in epochs.current_card(session).desks}
    if desk_id not in card_desks:
        raise DeskError(f"There is no desk {desk_id!r}.")
    if len(card_desks) == 1:
        raise LastDeskError(f"{desk_id} is the office's only desk: sources need one to report.")
    if successor_id == desk_id or successor_id not in card_desks:
        raise SuccessorDeskError("Choose another desk of the office to receive its cases.")
    case_ids = list(session.scalars(select(Case.id).where(Case.desk_id == desk_id)))
    if case_ids and not move_cases:
        check_removable(session, desk_id)
    locked = 0
    for case_id in case_ids:
        try:
            case_key_map(session, keyring, case_id)
        except CaseLockedError:
            locked += 1
    if locked:
        raise DeskCasesLockedError(
            f"Your keys do not open {locked} of the {len(case_ids)} case(s) of {desk_id}: "
            "a manager who is a member of it (and did not step aside) can move them, or the "
            "recovery key at the command line.",
            locked=locked,
        )
    for case_id in case_ids:
        reassign(
            session,
            keyring,
            case_id=case_id,
            desk_id=successor_id,
            by_officer_id=by_officer_id,
            now=now,
        )
    card = epochs.rotate(session, keyring, now, by_officer_id, without=desk_id)
    left = session.scalar(
        select(func.count())
        .select_from(CaseGrant)
        .where(CaseGrant.holder.like(f"desk:{desk_id}:%"))
    )
    if left:  # every case moved, so nothing may still be granted to the desk's keys
        raise DeskError(f"{desk_id} still holds case keys: nothing was changed.")
    names = [o.name for o in _members(session, desk_id)]
    session.add(
        RemovedDesk(
            desk_id=desk_id,
            successor_id=successor_id,
            removed_at=now.replace(tzinfo=None),
            epoch=card.epoch,
            by_officer_id=by_officer_id,
        )
    )
    session.flush()
    record_event(
        session,
        now,
        "desk-removed",
        officer_id=by_officer_id,
        detail=f"{desk_id} ({card_desks[desk_id]}): {len(case_ids)} case(s) moved to "
        f"{successor_id}; members were {', '.join(names) or 'none'}; card epoch {card.epoch} "
        f"without it; reports still on their way go to {successor_id}; its keys go once no "
        "live key epoch holds a key of it",
    )
    _changed(session, desk_id)
    finish_removals(session, now)
    return DeskRemoved(len(case_ids), card.epoch)


def finish_removals(session: Session, now: datetime) -> list[str]:
    """Destroy the memberships and every compartment key generation of removed desks that no
    live key epoch holds a key of any more: until then a record may still be in transit to
    the desk, and its members are the ones whose keys open it (it is then placed at the
    successor). Runs at removal and whenever an epoch's keys are destroyed
    (``epochs.destroy``). Returns the desks whose keys went; the caller scrubs the WAL."""
    done = []
    for removed in session.scalars(
        select(RemovedDesk).where(RemovedDesk.keys_destroyed_at.is_(None))
    ).all():
        if removed.desk_id in epochs.live_desks(session):
            continue
        names = [o.name for o in _members(session, removed.desk_id)]
        generations = session.scalar(
            select(func.count())
            .select_from(Compartment)
            .where(Compartment.desk_id == removed.desk_id)
        )
        session.execute(delete(DeskMember).where(DeskMember.desk_id == removed.desk_id))
        session.execute(delete(DeskGrant).where(DeskGrant.desk_id == removed.desk_id))
        session.execute(delete(Compartment).where(Compartment.desk_id == removed.desk_id))
        removed.keys_destroyed_at = now.replace(tzinfo=None)
        session.flush()
        record_event(
            session,
            now,
            "desk-keys-destroyed",
            detail=f"{removed.desk_id} (removed): {generations} compartment key generation(s) "
            f"destroyed; members were {', '.join(names) or 'none'}",
        )
        _changed(session, removed.desk_id)
        done.append(removed.desk_id)
    return done


def recusals(session: Session, case_id: str) -> list[tuple[str, datetime]]:
    """Who stepped aside from a case, and when (names and dates are not content)."""
    names = {oid: name for oid, name in session.execute(select(Officer.id, Officer.name))}
    return [
        (names.get(r.officer_id, "?"), r.declared_at)
        for r in session.scalars(
            select(Recusal).where(Recusal.case_id == case_id).order_by(Recusal.declared_at)
        )
    ]


# --- officers' personal keys ---------------------------------------------------------------


def give_personal_key(session: Session, officer: Officer, keyring: OfficeKeyring) -> OfficeKeyring:
    """``keyring`` with a new personal key for ``officer`` (recorded); the caller rewraps it."""
    pair = generate_box_keypair()
    officer.public_key = pair.public_key
    session.flush()
    return keyring.with_personal(pair.secret_key)


def grant_desks_now(
    session: Session, keyring: OfficeKeyring, officer: Officer, desk_list: list[str], now: datetime
) -> None:
    """Memberships for a new officer, with their keys when ``keyring`` holds them."""
    for desk_id in dict.fromkeys(desk_list):
        _known_desk(session, desk_id)
        session.add(
            DeskMember(desk_id=desk_id, officer_id=officer.id, added_at=now.replace(tzinfo=None))
        )
    session.flush()
    deliver(session, keyring)


# --- the move from the single storage key --------------------------------------------------


def start_office(
    session: Session, recovery_public: bytes, desk_list: list[str], now: datetime
) -> None:
    """A new office: compartments from the start (office set-up)."""
    office = session.get(Office, 1)
    if office is None:
        raise InboxError("This directory holds no office.")
    office.recovery_public_key = recovery_public
    office.compartments_at = now.replace(tzinfo=None)
    session.flush()
    for desk_id in desk_list:
        new_compartment(session, desk_id, now)


def migrate(
    session: Session,
    keyring: OfficeKeyring,
    recovery_key: str,
    *,
    store_dir: Path,
    now: datetime,
) -> tuple[int, list[Path]]:
    """Move an office from before desks into compartments: (cases moved, the old files, to
    be removed once this is committed).

    ``keyring`` is the recovery key's (``officers.open_with_recovery_key``). Every case gets
    a case key granted to its desk; everything stored for it is sealed again to that key
    and the storage-key copy destroyed (files replaced, rows overwritten with SQLite's
    ``secure_delete``). Every current officer becomes a member of every desk (nobody loses
    access in the move; managers narrow it afterwards). Until each has signed in once (and
    received a personal key), each desk key also has an interim copy sealed to the storage
    key (docs/decisions.md, "Moving into desks").
    """
    from whistle.inbox.store import seal_verification, submission_meta  # store imports this

    if active(session):
        raise CompartmentsMigrationError("This office's content is in desk compartments already.")
    office = session.get(Office, 1)
    if office is None:
        raise InboxError("This directory holds no office.")
    cases = session.scalars(select(Case)).all()
    for case in cases:  # read while the storage key still opens the summaries
        if case.verification is None:
            meta = submission_meta(session, keyring, case.id)
            case.verification = seal_verification(keyring.storage_public, case.id, meta)
    recovery_pair = generate_box_keypair()
    office.recovery_keyring = wrap_for_recovery(
        keyring.without_legacy().with_personal(recovery_pair.secret_key),
        recovery_wrapping_key(recovery_key),
    )
    office.recovery_public_key = recovery_pair.public_key
    office.compartments_at = now.replace(tzinfo=None)
    session.flush()
    desk_list = [d.id for d in epochs.current_card(session).desks]
    desk_list += sorted(set(session.scalars(select(Case.desk_id).distinct())) - set(desk_list))
    for officer in session.scalars(select(Officer)).all():
        if not officer.is_removed and officer.is_officer:
            for desk_id in desk_list:
                session.add(
                    DeskMember(
                        desk_id=desk_id, officer_id=officer.id, added_at=now.replace(tzinfo=None)
                    )
                )
    session.flush()
    for desk_id in desk_list:
        new_compartment(session, desk_id, now, interim=keyring.storage_public)
    # The one search index of every case's text goes: each case gets its own entry.
    session.execute(delete(SearchIndex))
    session.execute(delete(CaseSearch))
    old_files: list[Path] = []
    for case in cases:
        public = new_case_key(session, case.id, case.desk_id)
        old_files += reseal_case(session, case.id, keyring.storage_secret, public, store_dir)
    moved = len(cases)
    # The keys of records still in transit go into the compartments too.
    epochs.seal_wire_keys(session, keyring, now)
    record_event(
        session,
        now,
        "desks-migrated",
        detail=f"{moved} cases into {len(desk_list)} desk compartments; old copies destroyed",
    )
    _changed(session)
    return moved, old_files
