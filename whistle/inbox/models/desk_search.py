"""A desk's search index: the entries of the cases granted to the desk, sealed to its newest
compartment key (cases granted by name have their own entry, ``CaseSearch``)."""

from sqlalchemy import LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from whistle.inbox.models.base import Base


class DeskSearch(Base):
    __tablename__ = "desk_search"

    desk_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    blob: Mapped[bytes] = mapped_column(LargeBinary)
