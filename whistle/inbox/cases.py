"""Reading cases: the list (filters, sort, search in memory, pages), the detail, notes,
and the identity custodian's disclosure decisions.

Content is decrypted here, in memory, with the keys of the signed-in officer;
nothing decrypted is written back anywhere.
"""

import functools
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time
from typing import Any

from sqlalchemy import ColumnElement, func, select
from sqlalchemy import case as when
from sqlalchemy.orm import Session

from whistle.crypto import CryptoError, MisboundError
from whistle.crypto.records import open_identification
from whistle.inbox import compartments, db, deadlines, news, sealing, search_index
from whistle.inbox.audit import record_case_event, record_event
from whistle.inbox.case_refs import parse_ref
from whistle.inbox.context import OfficerContext
from whistle.inbox.errors import (
    CaseLockedError,
    DisclosureRequiredError,
    InboxError,
    NotCustodianError,
    UnreadableRecordError,
)
from whistle.inbox.keyring import CustodianKeyring, OfficeKeyring
from whistle.inbox.models import (
    ROLE_CUSTODIAN,
    STATUSES,
    Case,
    Disclosure,
    Note,
    Officer,
    Record,
)
from whistle.inbox.models.case import format_ref
from whistle.inbox.store import Cache, open_record_meta, record_meta, source_facts
from whistle.inbox.workflow import CASE_COLUMNS, CLOCK_COLUMNS, case_dates, clock_dates, live_case

ACKNOWLEDGE_DAYS = deadlines.ACKNOWLEDGE_DAYS
SORTS = ("received-desc", "received-asc", "activity-desc", "status")
#: Characters of context either side of a search hit in the case list.
SNIPPET_CONTEXT = 60
MAX_NOTE_CHARS = 20_000
MIN_REASON_CHARS = 10
MAX_REASON_CHARS = 5_000
#: Up to this many search hits are handed to the database as a list of ids (SQLite binds
#: at most 999 parameters in older builds); more are filtered here.
MAX_BOUND_IDS = 500


@dataclass(frozen=True)
class CaseFilters:
    status: str | None = None
    desk: str | None = None
    assignee: int | None = None
    overdue: bool = False
    #: Only cases with something new for the officer (``news``).
    news: bool = False
    query: str = ""
    sort: str = "received-desc"
    page: int = 1


#: Text cut into pieces, each marked True where it matched the search (the template wraps
#: those in <mark>; every piece is escaped like any other text).
Marked = list[tuple[str, bool]]


@dataclass(frozen=True)
class CaseSummary:
    id: str
    ref: str
    desk_id: str
    status: str
    assignee: str | None
    received_day: date
    last_activity_day: date
    subject: str
    records: int
    attachments: int
    overdue: bool
    error: str | None = None
    new: bool = False
    fresh: news.CaseNews = field(default_factory=news.CaseNews)
    #: The subject, and a passage around the first hit elsewhere, with the hits marked.
    subject_marked: Marked = field(default_factory=list)
    snippet: Marked = field(default_factory=list)


@dataclass(frozen=True)
class CasePage:
    cases: list[CaseSummary]
    total: int
    page: int
    pages: int


def acknowledgement_due(case: Case) -> date:
    return deadlines.acknowledgement_due(case.received_day)


@functools.lru_cache(maxsize=65536)
def _overdue(clocks: tuple[Any, ...], today: date) -> bool:
    """``is_overdue`` of a row's ``CLOCK_COLUMNS``, remembered by the plain values."""
    return deadlines.is_overdue(deadlines.case_deadlines(clock_dates(clocks), today))


def case_deadlines(case: Any, today: date) -> list[deadlines.Deadline]:
    return deadlines.case_deadlines(case_dates(case), today)


def is_overdue(case: Any, today: date) -> bool:
    """Any of the case's legal clocks has run out (see ``deadlines``)."""
    return deadlines.is_overdue(case_deadlines(case, today))


def subject_of(form: dict[str, Any]) -> str:
    fields = form.get("fields") or []
    for f in fields:
        if isinstance(f, dict) and f.get("key") == "subject":
            return str(f.get("value", ""))
    for f in fields:
        if isinstance(f, dict) and f.get("value"):
            return str(f["value"])[:120]
    return ""


def list_cases(
    session: Session,
    keyring: OfficeKeyring,
    filters: CaseFilters,
    *,
    today: date,
    page_size: int,
    cache: Cache | None = None,
    officer_id: int | None = None,
) -> CasePage:
    """Filter and sort on plaintext columns, search through the sealed search index, and
    decrypt summaries only for the page shown.

    A query that is a case reference (``2026-0042``, ``2026-42``) finds that case; any other
    searches the content. ``officer_id`` says whose "new since last opened" is shown.
    """
    conditions: list[ColumnElement[bool]] = []
    if filters.status:
        conditions.append(Case.status == filters.status)
    if filters.desk:
        conditions.append(Case.desk_id == filters.desk)
    if filters.assignee is not None:
        conditions.append(Case.assignee_id == filters.assignee)
    needle = filters.query.strip().casefold()
    if ref := parse_ref(filters.query):
        conditions += [Case.ref_year == ref[0], Case.ref_number == ref[1]]
        needle = ""
    matches: set[str] | None = None  # the search's hits, when too many to bind in SQL
    if needle:
        entries = search_index.refreshed(
            session, keyring, now=datetime.combine(today, time.min), cache=cache
        )
        hits = [c for c, entry in entries.items() if needle in (entry.get("t") or "")]
        if len(hits) <= MAX_BOUND_IDS:
            conditions.append(Case.id.in_(hits))
        else:
            matches = set(hits)
    order = _order(filters.sort)
    fresh: dict[str, news.CaseNews] = {}
    news_of = officer_id if filters.news else None  # only what is new to this officer
    # Only the cases whose keys this officer holds: another desk's, or one they stepped
    # aside from, is not listed (and would not open if asked for).
    if filters.overdue or news_of is not None or matches is not None:
        # Filters the database cannot apply: every candidate, in order, filtered here.
        clocks = CLOCK_COLUMNS if filters.overdue else ()
        cases: Sequence[Any] = db.rows(
            session, select(Case.id, Case.status, *clocks).where(*conditions).order_by(*order)
        )
        mine = compartments.readable(session, keyring, cache)
        if mine is not None:
            cases = [c for c in cases if c.id in mine]
        if filters.overdue:
            cases = [c for c in cases if _overdue(c[2:], today)]
        if news_of is not None:
            fresh = news.news(session, news_of)
            cases = [c for c in cases if c.id in fresh or news.is_new(c.status)]
        if matches is not None:
            cases = [c for c in cases if c.id in matches]
        total = len(cases)
        page, pages, start = _page(filters.page, total, page_size)
        ids = [c.id for c in cases[start : start + page_size]]
    else:
        if (readable := compartments.readable_where(session, keyring, cache)) is not None:
            conditions.append(readable)
        total = session.scalar(select(func.count()).select_from(Case).where(*conditions)) or 0
        page, pages, start = _page(filters.page, total, page_size)
        ids = list(
            session.scalars(
                select(Case.id).where(*conditions).order_by(*order).offset(start).limit(page_size)
            )
        )
    found = {c.id: c for c in db.rows(session, select(*CASE_COLUMNS).where(Case.id.in_(ids)))}
    shown = [found[case_id] for case_id in ids]
    if officer_id is not None and news_of is None:  # only the page's: cheaper at 10,000
        fresh = news.news(session, officer_id, ids)
    records: dict[str, list[Record]] = {}
    for record in session.scalars(select(Record).where(Record.case_id.in_(ids))):
        records.setdefault(record.case_id, []).append(record)
    names = {oid: name for oid, name in session.execute(select(Officer.id, Officer.name))}
    # The page's case keys opened together (a few queries), not record by record.
    keys = compartments.case_keys(session, keyring, ids, cache)
    summaries = [
        _summarise(
            keys.get(case.id),
            case,
            records.get(case.id, []),
            names,
            today,
            cache,
            fresh.get(case.id, news.NOTHING),
            needle,
        )
        for case in shown
    ]
    return CasePage(summaries, total, page, pages)


def mark(text: str, needle: str) -> Marked:
    """``text`` cut at every case-insensitive occurrence of ``needle`` (already casefolded).

    Positions found in the casefolded text are used in the original only when casefolding
    kept its length (it does not for "ß", say): otherwise the casefolded text is shown.
    """
    if not needle:
        return [(text, False)] if text else []
    folded = text.casefold()
    source = text if len(folded) == len(text) else folded
    pieces: Marked = []
    start = 0
    while (hit := folded.find(needle, start)) != -1:
        if hit > start:
            pieces.append((source[start:hit], False))
        pieces.append((source[hit : hit + len(needle)], True))
        start = hit + len(needle)
    if start < len(source):
        pieces.append((source[start:], False))
    return pieces


def snippet(texts: list[str], needle: str, context: int = SNIPPET_CONTEXT) -> Marked:
    """A passage around the first hit of ``needle`` in ``texts``, hits marked; empty if none."""
    if not needle:
        return []
    for text in texts:
        hit = text.casefold().find(needle)
        if hit == -1:
            continue
        start, end = max(0, hit - context), hit + len(needle) + context
        passage = " ".join(text[start:end].split())
        pieces = mark(passage, needle)
        if start > 0:
            pieces.insert(0, ("… ", False))
        if end < len(text):
            pieces.append((" …", False))
        return pieces
    return []


def _summarise(
    keys: list[bytes] | None,
    case: Any,
    records: list[Record],
    names: dict[int, str],
    today: date,
    cache: Cache | None,
    fresh: news.CaseNews,
    needle: str,
) -> CaseSummary:
    assignee = names.get(case.assignee_id) if case.assignee_id is not None else None
    base = {
        "id": case.id,
        "ref": format_ref(case.ref_year, case.ref_number),
        "new": news.is_new(case.status),
        "fresh": fresh,
        "desk_id": case.desk_id,
        "status": case.status,
        "assignee": assignee,
        "received_day": case.received_day,
        "last_activity_day": case.last_activity_day,
        "records": len(records),
        "overdue": is_overdue(case, today),
    }
    if records and keys is None:  # refused by key, as ``record_meta`` would
        raise CaseLockedError(compartments.LOCKED)
    try:
        metas = [open_record_meta(keys or [], r, cache) for r in records]
    except (UnreadableRecordError, CryptoError) as exc:
        return CaseSummary(subject="", attachments=0, error=str(exc), **base)
    submission = next((m for m in metas if m.get("kind") == "submission"), {})
    subject = subject_of(submission.get("form") or {})
    attachments = sum(len(m.get("files") or []) for m in metas)
    texts = [
        str(f.get("value", ""))
        for m in metas
        for f in (m.get("form") or {}).get("fields") or []
        if isinstance(f, dict) and f.get("key") != "subject"
    ] + [str(m.get("message", "")) for m in metas]
    return CaseSummary(
        subject=subject,
        attachments=attachments,
        subject_marked=mark(subject, needle),
        snippet=[] if needle in subject.casefold() else snippet(texts, needle),
        **base,
    )


def _order(sort: str) -> list[ColumnElement[Any]]:
    """Arrival order is the reference's order (received day, then number): a day's cases
    are not shuffled by their random ids. Every order ends on the reference (unique), so
    pages cut by the database never repeat or skip a case."""
    arrival = [Case.received_day, Case.ref_year, Case.ref_number]
    newest: list[ColumnElement[Any]] = [column.desc() for column in arrival]
    if sort == "received-asc":
        return [column.asc() for column in arrival]
    if sort == "activity-desc":
        return [Case.last_activity_day.desc(), *newest]
    if sort == "status":
        # The workflow's order (new, acknowledged, ...), newest first within each.
        rank = when(
            {status: i for i, status in enumerate(STATUSES)},
            value=Case.status,
            else_=len(STATUSES),
        )
        return [rank, *newest]
    return newest


def _page(asked: int, total: int, page_size: int) -> tuple[int, int, int]:
    """(page, pages, index of its first case): a page past the end shows the last."""
    pages = max(1, -(-total // page_size))
    page = min(max(1, asked), pages)
    return page, pages, (page - 1) * page_size


@dataclass(frozen=True)
class Entry:
    """One item of a case's conversation: a record or its decryption error."""

    record_id: str
    kind: str
    received_day: date
    form: list[dict[str, str]] = field(default_factory=list)
    message: str = ""
    files: list[dict[str, Any]] = field(default_factory=list)
    error: str | None = None
    #: The record's number in its direction and the other direction it had seen
    #: (protocol 2); None for a protocol 1 record, which is neither signed nor numbered.
    sequence: int | None = None
    seen: int | None = None
    #: When this inbox collected it (orders the conversation against the office's replies).
    imported_at: datetime | None = None


@dataclass(frozen=True)
class SourceChoices:
    """What the source chose on the form (records.form_document); None where it did not say
    (a report sent before the form asked)."""

    identified: bool | None
    #: The category's label as the source saw it.
    category: str | None
    meeting: bool
    availability: str


def source_choices(form: Any) -> SourceChoices:
    form = form if isinstance(form, dict) else {}
    identified = form.get("identified")
    category = form.get("category")
    label = category.get("label") if isinstance(category, dict) else None
    availability = form.get("availability")
    return SourceChoices(
        identified=identified if isinstance(identified, bool) else None,
        category=str(label) if label else None,
        meeting=form.get("meeting") is True,
        availability=availability if isinstance(availability, str) else "",
    )


@dataclass(frozen=True)
class NoteView:
    author: str
    created_at: datetime
    text: str | None
    error: str | None = None


@dataclass(frozen=True)
class CaseDetail:
    case: Case
    assignee: str | None
    entries: list[Entry]
    notes: list[NoteView]
    language: str | None
    disclosed: bool
    overdue: bool
    acknowledgement_due: date
    #: Follow-ups numbered below the highest one received that never arrived: dropped or
    #: held back on the way (review finding H4).
    missing_followups: list[int] = field(default_factory=list)
    #: Follow-up numbers that came more than once (the reporter sent from two pages at once).
    repeated_followups: list[int] = field(default_factory=list)
    #: Replies the reporter's latest follow-up says it had not yet seen.
    unseen_replies: int = 0
    choices: SourceChoices = field(default_factory=lambda: source_choices(None))


def missing_numbers(entries: list[Entry], kind: str) -> list[int]:
    """The numbers below the highest ``kind`` record's that no record of that kind carries."""
    numbers = {e.sequence for e in entries if e.kind == kind and e.sequence is not None}
    return sorted(set(range(1, max(numbers, default=0) + 1)) - numbers)


def repeated_numbers(entries: list[Entry], kind: str) -> list[int]:
    """The numbers more than one ``kind`` record carries."""
    numbers = [e.sequence for e in entries if e.kind == kind and e.sequence is not None]
    return sorted({n for n in numbers if numbers.count(n) > 1})


def _unseen_replies(entries: list[Entry]) -> int:
    """Replies signed before the reporter's latest follow-up that it does not count as seen."""
    followups = [e for e in entries if e.kind == "followup" and e.seen is not None]
    if not followups:
        return 0
    replies = [e.sequence for e in entries if e.kind == "reply" and e.sequence is not None]
    return max(0, len(replies) - followups[-1].seen)  # type: ignore[operator]


def disclosure_decided(session: Session, case_id: str) -> bool:
    """Whether a custodian has recorded a decision to open the case's identification."""
    found = session.scalar(select(Disclosure.id).where(Disclosure.case_id == case_id))
    return found is not None


def get_case(session: Session, case_id: str) -> Case:
    """The case, or a clear refusal: purged (a tombstone is left) or not found."""
    return live_case(session, case_id)


def case_detail(
    session: Session, keyring: OfficeKeyring, case_id: str, *, today: date
) -> CaseDetail:
    case = get_case(session, case_id)
    keys = compartments.case_secrets(session, keyring, case.id)  # refused here, by key
    records = session.scalars(
        select(Record)
        .where(Record.case_id == case.id)
        .order_by(Record.received_day, Record.imported_at)
    )
    entries: list[Entry] = []
    language: str | None = None
    choices = source_choices(None)
    for record in records:
        try:
            meta = record_meta(keyring, record)
        except UnreadableRecordError as exc:
            entries.append(
                Entry(
                    record.id,
                    record.kind,
                    record.received_day,
                    error=str(exc),
                    imported_at=record.imported_at,
                )
            )
            continue
        form = meta.get("form") or {}
        if record.kind == "submission":
            language = form.get("language") if isinstance(form.get("language"), str) else None
            choices = source_choices(form)
        fields = [
            {
                "key": str(f.get("key", "")),
                "label": str(f.get("label", f.get("key", ""))),
                "value": str(f.get("value", "")),
                "deleted": "1" if f.get("deleted") else "",
            }
            for f in form.get("fields") or []
            if isinstance(f, dict)
        ]
        entries.append(
            Entry(
                record.id,
                record.kind,
                record.received_day,
                form=fields,
                message=str(meta.get("message", "")),
                files=list(meta.get("files") or []),
                sequence=meta.get("sequence"),
                seen=meta.get("seen"),
                imported_at=record.imported_at,
            )
        )
    names = {oid: name for oid, name in session.execute(select(Officer.id, Officer.name))}
    notes: list[NoteView] = []
    for note in session.scalars(
        select(Note).where(Note.case_id == case.id).order_by(Note.created_at, Note.id)
    ):
        author = names.get(note.author_id, "?")
        try:
            text = sealing.open_text(keys, sealing.NOTE, case.id, note.body)
            notes.append(NoteView(author, note.created_at, text))
        except CryptoError:
            notes.append(NoteView(author, note.created_at, None, "This note is damaged."))
    disclosed = session.scalar(select(Disclosure.id).where(Disclosure.case_id == case.id))
    return CaseDetail(
        case=case,
        assignee=names.get(case.assignee_id) if case.assignee_id is not None else None,
        entries=entries,
        notes=notes,
        language=language,
        disclosed=disclosed is not None,
        overdue=is_overdue(case, today),
        acknowledgement_due=acknowledgement_due(case),
        missing_followups=missing_numbers(entries, "followup"),
        repeated_followups=repeated_numbers(entries, "followup"),
        unseen_replies=_unseen_replies(entries),
        choices=choices,
    )


def add_note(
    session: Session,
    keyring: OfficeKeyring,
    case_id: str,
    text: str,
    *,
    officer_id: int,
    now: datetime,
) -> Note:
    case = get_case(session, case_id)
    compartments.case_secrets(session, keyring, case.id)  # writing into a case needs its keys
    text = text.strip()
    if not text:
        raise InboxError("A note cannot be empty.")
    if len(text) > MAX_NOTE_CHARS:
        raise InboxError(f"A note has at most {MAX_NOTE_CHARS} characters.")
    note = Note(
        case_id=case.id,
        author_id=officer_id,
        created_at=now.replace(tzinfo=None),
        body=sealing.seal_text(
            compartments.case_public(session, case.id), sealing.NOTE, case.id, text
        ),
    )
    session.add(note)
    record_event(session, now, "note-added", officer_id=officer_id, case_id=case.id)
    return note


def _require_custodian(
    roles: tuple[str, ...], custodian: CustodianKeyring | None
) -> CustodianKeyring:
    if ROLE_CUSTODIAN not in roles or custodian is None:
        raise NotCustodianError("Only an identity custodian can do this.")
    return custodian


def decide_disclosure(
    session: Session,
    keyring: OfficeKeyring,
    case_id: str,
    reason: str,
    *,
    ctx: OfficerContext,
    roles: tuple[str, ...],
    custodian: CustodianKeyring | None,
) -> Disclosure:
    """Record a custodian's decision, with its reason, to open the reporter's identification."""
    _require_custodian(roles, custodian)
    case = get_case(session, case_id)
    reason = reason.strip()
    if len(reason) < MIN_REASON_CHARS:
        raise InboxError(
            f"Give the reason for the decision (at least {MIN_REASON_CHARS} characters)."
        )
    if len(reason) > MAX_REASON_CHARS:
        raise InboxError(f"A reason has at most {MAX_REASON_CHARS} characters.")
    disclosure = Disclosure(
        case_id=case.id,
        officer_id=ctx.officer_id,
        decided_at=ctx.now.replace(tzinfo=None),
        reason=sealing.seal_text(
            compartments.case_public(session, case.id), sealing.REASON, case.id, reason
        ),
    )
    session.add(disclosure)
    record_case_event(session, ctx, "identification-disclosed", case.id)
    from whistle.inbox.replies import notify_disclosure

    notify_disclosure(session, keyring, case, ctx=ctx)
    return disclosure


@dataclass(frozen=True)
class IdentityView:
    """What the custodian sees: the fields, or why the block was refused.

    ``version`` 1 blocks (written before protocol 2) name no case; they are shown only
    when no other case of this inbox holds the same block, and with that caveat.
    ``refused`` is the reason (English, as logged) when the block was not opened.
    """

    fields: list[dict[str, str]]
    version: int
    refused: str | None = None


def identification(
    session: Session,
    keyring: OfficeKeyring,
    case_id: str,
    *,
    officer_id: int,
    roles: tuple[str, ...],
    custodian: CustodianKeyring | None,
    now: datetime,
) -> IdentityView:
    """The reporter's identification: custodians only, after a disclosure decision (logged).

    A block written for another case or submission (copied by whoever sent this report)
    is refused and the refusal is logged: a wrong name is never shown.
    """
    custodian = _require_custodian(roles, custodian)
    case = get_case(session, case_id)
    if not disclosure_decided(session, case.id):
        raise DisclosureRequiredError("Decide on disclosure, with a reason, before opening it.")
    # The custodian need not be in the case's desk: the block and the reply key are kept
    # beside the case, the block sealed to the custodian's key alone.
    meta = source_facts(session, keyring, case)
    try:
        block = bytes.fromhex(meta["identification"])
        opened = open_identification(
            block,
            custodian.custodian_secret,
            case_id=bytes.fromhex(case.id),
            reply_public_key=bytes.fromhex(meta["reply_public_key"]),
        )
        if opened.version == 1:
            _require_unique_block(session, keyring, case.id, meta["identification"])
    except MisboundError as exc:
        record_event(
            session,
            now,
            "identification-refused",
            officer_id=officer_id,
            case_id=case.id,
            detail=str(exc),
        )
        return IdentityView([], 0, refused=str(exc))
    except (CryptoError, KeyError, ValueError) as exc:
        raise UnreadableRecordError("The identification cannot be opened: it is damaged.") from exc
    record_event(session, now, "identification-viewed", officer_id=officer_id, case_id=case.id)
    fields = [
        {"label": str(f.get("label", f.get("key", ""))), "value": str(f.get("value", ""))}
        for f in opened.fields
    ]
    return IdentityView(fields, opened.version)


def _require_unique_block(
    session: Session, keyring: OfficeKeyring, case_id: str, block_hex: str
) -> None:
    """A version 1 block names no case: refuse it if another case holds the same bytes.

    A sealed block cannot be re-sealed without the custodian's key, so a copy is
    byte-identical; which of the two cases is the original is for people to find out.
    """
    for other in session.scalars(select(Case).where(Case.id != case_id)):
        if source_facts(session, keyring, other).get("identification") == block_hex:
            raise MisboundError(f"the same identification block is in case {other.id}")
