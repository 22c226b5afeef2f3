"""One case's search entry, sealed to the case key: its text and the ids it was built from."""

from sqlalchemy import ForeignKey, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from whistle.inbox.models.base import Base


class CaseSearch(Base):
    __tablename__ = "case_search"

    case_id: Mapped[str] = mapped_column(ForeignKey("case.id"), primary_key=True)
    #: The record and note ids the entry covers (plaintext ids, as in their own tables).
    built_from: Mapped[str] = mapped_column(String)
    blob: Mapped[bytes] = mapped_column(LargeBinary)
