"""What the inbox has queued for the server: replies, purge orders, acknowledgements.

A row stays until the server confirms it applied the replies bundle that carried it
(the server's next outbox bundle says which replies sequence it applied last), so a
lost USB stick costs nothing: the next export carries the row again and the server
applies it once (replies by id, acknowledgements and purges are idempotent).

    kind "reply"   record_id: a fresh random 16-byte hex id; envelope: the reply
                   envelope (sealed to the case's reply key and the desk key)
    kind "purge"   record_id: None; envelope: empty — delete the whole case
    kind "ack"     record_id: the acknowledged record; envelope: its original hash
                   (32 bytes) — the server deletes that ciphertext
    kind "refusal" record_id: a record the inbox can never open; envelope: the signed
                   refusal (whistle.crypto.orders) — the server deletes and tombstones it
    kind "removal" record_id: a record a manager ordered removed; envelope: the signed
                   removal order — the same on the server
    kind "case-key" record_id: the case key's generation as decimal text; envelope: the
                   signed announcement of that generation's public key
                   (whistle.crypto.case_keys.sign_case_key, office signing key) — the server
                   seals the case's follow-ups to it (docs/protocol.md §17). Only each
                   case's newest generation is sent; a newer one replaces an older that never
                   went out. Confirmed only when an outbox names it in case_keys_held;
                   confirmed ones and older ones that went out stay (the server may hold
                   them: migration 0015's downgrade guard counts them)
"""

from datetime import datetime

from sqlalchemy import DateTime, Index, Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from whistle.inbox.models.base import Base

OUTGOING_KINDS = ("reply", "purge", "ack", "refusal", "removal", "case-key")


class Outgoing(Base):
    __tablename__ = "outgoing"
    #: Which cases' newest key generation has an announcement, found in one query over the
    #: index at every export (migration 0015_case_key_announce).
    __table_args__ = (Index("ix_outgoing_kind_case_record", "kind", "case_id", "record_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(16), index=True)
    case_id: Mapped[str] = mapped_column(String(32), index=True)
    record_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    envelope: Mapped[bytes] = mapped_column(LargeBinary)
    created: Mapped[datetime] = mapped_column(DateTime)
    #: The last replies bundle that carried this row (None: not exported yet).
    bundle_sequence: Mapped[int | None] = mapped_column(Integer, nullable=True)
    #: Set when the server confirmed it applied a bundle carrying this row.
    confirmed: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
