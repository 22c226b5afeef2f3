"""A step the Responsable del Sistema records on a case, beside the workflow's decisions.

    concerned-informed       the person concerned was told of the facts attributed (9.2.f)
    concerned-heard          the person concerned was heard (9.2.f)
    referral                 the facts were sent to ``recipient`` (Ministerio Fiscal, EPPO,
                             another authority) on ``day``; ``immediate``: facts that may be a
                             crime, which must go to the Fiscalía at once (9.2.j ⚠)
    third-party-disclosure   the reporter's identity was given to ``recipient`` (art. 33.3):
                             ``reporter_told_day`` is the notice queued beforehand, or
                             ``exception`` when telling would jeopardise the investigation
    measure                  a measure adopted (the register's "measures")
    meeting-requested        the source asked for a meeting (Directive art. 9(2)): offer one
                             within 7 days (``deadlines.MEETING_DAYS`` ⚠)
    meeting-offered          a meeting was offered (day and place agreed, in a reply)

``recipient`` is an authority's name, plaintext (it is in the printed register); ``note``
(reasons, details) is sealed to the storage key (``sealing.DECISION``).
"""

from datetime import date, datetime

from sqlalchemy import Boolean, Date, DateTime, ForeignKey, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from whistle.inbox.models.base import Base

STEP_KINDS = (
    "concerned-informed",
    "concerned-heard",
    "referral",
    "third-party-disclosure",
    "measure",
    "meeting-requested",
    "meeting-offered",
)


class Step(Base):
    __tablename__ = "step"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[str] = mapped_column(ForeignKey("case.id"), index=True)
    officer_id: Mapped[int] = mapped_column(ForeignKey("officer.id"))
    at: Mapped[datetime] = mapped_column(DateTime)
    kind: Mapped[str] = mapped_column(String(32))
    day: Mapped[date] = mapped_column(Date)
    recipient: Mapped[str | None] = mapped_column(String(200), nullable=True)
    immediate: Mapped[bool] = mapped_column(Boolean, default=False)
    reporter_told_day: Mapped[date | None] = mapped_column(Date, nullable=True)
    exception: Mapped[bool] = mapped_column(Boolean, default=False)
    note: Mapped[bytes] = mapped_column(LargeBinary)
