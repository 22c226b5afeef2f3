"""A case: what the inbox may know in plaintext (ids, desk, status, dates); content is sealed.

Labels are officers' words, so they are sealed too (a JSON list, ``sealing.LABELS``).
"""

from datetime import date, datetime

from sqlalchemy import Boolean, Date, DateTime, ForeignKey, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from whistle.inbox.models.base import Base

STATUS_NEW = "new"
STATUS_ACKNOWLEDGED = "acknowledged"
STATUS_INVESTIGATING = "investigating"
STATUS_CLOSED = "closed"
STATUSES = (STATUS_NEW, STATUS_ACKNOWLEDGED, STATUS_INVESTIGATING, STATUS_CLOSED)
OUTCOMES = ("substantiated", "unsubstantiated", "referred", "inadmissible")


class Case(Base):
    __tablename__ = "case"

    #: The server's random case id, 16 bytes in hex.
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    desk_id: Mapped[str] = mapped_column(String(32), index=True)
    status: Mapped[str] = mapped_column(String(32), default=STATUS_NEW, index=True)
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("officer.id"), nullable=True)
    received_day: Mapped[date] = mapped_column(Date, index=True)
    last_activity_day: Mapped[date] = mapped_column(Date)
    imported_at: Mapped[datetime] = mapped_column(DateTime)
    #: The day the standard acknowledgement was queued (an officer's act, not the clock).
    acknowledged_day: Mapped[date | None] = mapped_column(Date, nullable=True)
    #: The day the first message of the office reached the server: meets the 7-day clock.
    ack_delivered_day: Mapped[date | None] = mapped_column(Date, nullable=True)
    #: The day the source first read a message of the office (the server's check-in).
    ack_read_day: Mapped[date | None] = mapped_column(Date, nullable=True)
    #: The acknowledgement was withheld (art. 9.2.c), reason in the decision log.
    ack_withheld_day: Mapped[date | None] = mapped_column(Date, nullable=True)
    investigation_day: Mapped[date | None] = mapped_column(Date, nullable=True)
    #: The day the first reply marked as feedback was queued.
    feedback_day: Mapped[date | None] = mapped_column(Date, nullable=True)
    #: The day it reached the server (meets the 3-month clock) and the day the source read it.
    feedback_delivered_day: Mapped[date | None] = mapped_column(Date, nullable=True)
    feedback_read_day: Mapped[date | None] = mapped_column(Date, nullable=True)
    closed_day: Mapped[date | None] = mapped_column(Date, nullable=True)
    outcome: Mapped[str | None] = mapped_column(String(32), nullable=True)
    extended: Mapped[bool] = mapped_column(Boolean, default=False)
    extended_day: Mapped[date | None] = mapped_column(Date, nullable=True)
    #: An officer postponed the art. 32.4 deletion to this day (reason in the decision log).
    deletion_postponed_to: Mapped[date | None] = mapped_column(Date, nullable=True)
    #: The source asked for a meeting (Directive art. 9(2)), and the day one was offered.
    meeting_requested_day: Mapped[date | None] = mapped_column(Date, nullable=True)
    meeting_offered_day: Mapped[date | None] = mapped_column(Date, nullable=True)
    #: A key of the office's category list (``settings.categories``).
    category: Mapped[str | None] = mapped_column(String(64), nullable=True)
    #: Whether the source gave identification (None: not known, imported before this field).
    identified: Mapped[bool | None] = mapped_column(Boolean, nullable=True)
    labels: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    #: The source's public keys (reply, signing), sealed to the storage key: every importer
    #: checks follow-ups with them without opening the case (``store.verification_keys``).
    verification: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
