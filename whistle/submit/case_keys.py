"""Case keys on the server (docs/protocol.md §17): the office's announcements, read from a
replies bundle, kept per case, and read back to seal a follow-up.

A replies bundle's ``extra.case_keys`` is a list of base64 signed announcements
(``whistle.crypto.case_keys``), at most one per case. Every one is verified against the
pinned office key before anything is written; one that is not refuses the whole bundle.
Applied: one for a case this server does not hold is ignored; per case the highest
generation is kept, and an equal generation with another key replaces it (only an inbox
restored from an older backup makes the same generation again).
"""

import base64
import binascii
import datetime
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from whistle.bundling import BundleContentError
from whistle.crypto.case_keys import CaseKeyAnnouncement, read_case_key, stored_case_key
from whistle.crypto.errors import CryptoError
from whistle.errors import WhistleError
from whistle.submit.models import CaseKeyRow, Login

FIELD = "case_keys"
#: As many as record orders: far above the cases one bundle ever re-keys.
MAX_ANNOUNCEMENTS = 10_000


class CaseKeyRefusedError(BundleContentError):
    """A case key announcement in a replies bundle does not verify or is malformed: nothing
    was changed."""


class CaseKeyUnverifiableError(WhistleError):
    """The case key stored for a case does not verify with the pinned office key: the
    database was written by something other than a verified replies bundle. Nothing is
    sealed to it, and nothing falls back to the desks' keys: the site answers "temporarily
    unavailable", as for a stored card that does not verify (``epochs.StoredCardError``).
    The message names no case (it goes to the log)."""


@dataclass(frozen=True)
class Announced:
    """One verified announcement and its signed bytes, as received."""

    announcement: CaseKeyAnnouncement
    blob: bytes


def from_extra(extra: dict[str, Any], *, office_signing_key: bytes) -> list[Announced]:
    """Every announcement a manifest carries, each verified; refused whole if any one is not."""
    values = extra.get(FIELD, [])
    if not isinstance(values, list):
        raise CaseKeyRefusedError("the case keys are not a list")
    if len(values) > MAX_ANNOUNCEMENTS:
        raise CaseKeyRefusedError("the bundle carries too many case keys")
    announced: list[Announced] = []
    for value in values:
        if not isinstance(value, str):
            raise CaseKeyRefusedError("a case key announcement is not base64 text")
        try:
            blob = base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise CaseKeyRefusedError("a case key announcement is not base64 text") from exc
        try:
            announcement = read_case_key(blob, office_signing_key=office_signing_key)
        except CryptoError as exc:
            raise CaseKeyRefusedError(f"a case key announcement does not verify: {exc}") from exc
        announced.append(Announced(announcement, blob))
    cases = [a.announcement.case_id for a in announced]
    if len(set(cases)) != len(cases):
        raise CaseKeyRefusedError("the bundle announces two keys for one case")
    return announced


@dataclass
class CaseKeysApplied:
    stored: int = 0
    kept: int = 0
    unknown_case: int = 0

    def counts(self) -> dict[str, int]:
        return {
            "case keys stored": self.stored,
            "case keys already here or older (ignored)": self.kept,
            "case keys for cases not here (ignored)": self.unknown_case,
        }


def apply(
    session: Session, announced: Sequence[Announced], today: datetime.date
) -> CaseKeysApplied:
    """Store verified announcements (the caller commits).

    Each case's login row is locked first, as a follow-up locks it before it compares the
    key it was sealed to (``store.add_followup``): a follow-up is either stored before
    the new key is, or refused after it. Rows are locked in one order (by case id), so two
    bundles applied at once never wait on each other in a cycle.
    """
    done = CaseKeysApplied()
    for item in sorted(announced, key=lambda a: a.announcement.case_id):
        new = item.announcement
        case_id = new.case_id.hex()
        login = session.scalar(
            select(Login.case_id).where(Login.case_id == case_id).with_for_update()
        )
        if login is None:
            done.unknown_case += 1
            continue
        row = session.get(CaseKeyRow, case_id)
        if row is None:
            session.add(
                CaseKeyRow(
                    case_id=case_id,
                    generation=new.generation,
                    announcement=item.blob,
                    applied=today,
                )
            )
        elif new.generation > row.generation or (
            new.generation == row.generation and item.blob != row.announcement
        ):
            row.generation, row.announcement, row.applied = new.generation, item.blob, today
        else:
            done.kept += 1
            continue
        done.stored += 1
    session.flush()
    return done


def stored(session: Session, case_id: bytes) -> CaseKeyRow | None:
    """The announcement row held for the case, as stored (not verified here)."""
    return session.get(CaseKeyRow, case_id.hex())


def sealing_key(
    session: Session, case_id: bytes, *, office_signing_key: bytes
) -> CaseKeyAnnouncement | None:
    """The announcement to seal the case's follow-ups to, verified again (None: none yet, seal
    to the desks). ``CaseKeyUnverifiableError`` when the stored one does not verify, is another
    case's, or its generation is not the one stored beside it."""
    row = stored(session, case_id)
    if row is None:
        return None
    try:
        announcement = read_case_key(
            row.announcement, office_signing_key=office_signing_key, case_id=case_id
        )
    except CryptoError as exc:
        raise CaseKeyUnverifiableError(_UNVERIFIABLE.format(f"does not verify ({exc})")) from exc
    if announcement.generation != row.generation:
        raise CaseKeyUnverifiableError(_UNVERIFIABLE.format("is not of the generation beside it"))
    return announcement


def held_key(session: Session, case_id: bytes) -> bytes | None:
    """The public key of the announcement held for the case now (None: none), which a
    follow-up must have been sealed to. Compared by key, not by generation: an inbox restored
    from an older backup can announce a generation again with another key. Read without
    verifying again (nothing is sealed to it here); ``CaseKeyUnverifiableError`` when the
    stored announcement does not even parse."""
    row = stored(session, case_id)
    if row is None:
        return None
    try:
        return stored_case_key(row.announcement).public_key
    except CryptoError as exc:
        raise CaseKeyUnverifiableError(_UNVERIFIABLE.format(f"does not parse ({exc})")) from exc


def held_extra(session: Session) -> dict[str, list[Any]]:
    """What the outbox says this server holds: ``{case id: [generation, key hex]}``.

    A stored announcement that does not parse is left out: the office then sends it again, and
    the same generation with other bytes replaces it (``apply``).
    """
    held: dict[str, list[Any]] = {}
    for row in session.scalars(select(CaseKeyRow).order_by(CaseKeyRow.case_id)):
        try:
            announcement = stored_case_key(row.announcement)
        except CryptoError:
            continue
        if announcement.case_id.hex() == row.case_id:
            held[row.case_id] = [announcement.generation, announcement.public_key.hex()]
    return held


_UNVERIFIABLE = (
    "a case key stored in the database {}: something other than this server wrote the "
    "database; no follow-up is taken for that case until it is restored from a backup "
    '(docs/deployment.md, "Backing up the server")'
)
