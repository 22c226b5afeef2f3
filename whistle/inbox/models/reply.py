"""A reply to the source: a draft (sealed to the storage key), then ready (queued outgoing).

``purpose`` says what the reply is for: an ordinary reply, the acknowledgement, the notice of a
disclosure decision, or the record of a meeting / oral report for the source to confirm.
"""

from datetime import date, datetime

from sqlalchemy import Date, DateTime, ForeignKey, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from whistle.inbox.models.base import Base

DRAFT = "draft"
READY = "ready"
#: "feedback": the officer marks the reply as the answer the law requires (the action taken
#: and its grounds, art. 9.2.d; Directive art. 5(13)); only it meets the feedback clock.
#: "extension": the notice that the feedback deadline was extended.
PURPOSES = ("reply", "feedback", "acknowledgement", "disclosure", "meeting", "extension")


class Reply(Base):
    __tablename__ = "reply"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[str] = mapped_column(ForeignKey("case.id"), index=True)
    author_id: Mapped[int] = mapped_column(ForeignKey("officer.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime)
    updated_at: Mapped[datetime] = mapped_column(DateTime)
    state: Mapped[str] = mapped_column(String(16), default=DRAFT)
    purpose: Mapped[str] = mapped_column(String(16), default="reply")
    body: Mapped[bytes] = mapped_column(LargeBinary)
    outgoing_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    #: The server's day it applied the reply, and the day the source first read it (both
    #: reported in the server's outbox bundles, ``bundles.note_replies_seen``).
    delivered_day: Mapped[date | None] = mapped_column(Date, nullable=True)
    read_day: Mapped[date | None] = mapped_column(Date, nullable=True)
