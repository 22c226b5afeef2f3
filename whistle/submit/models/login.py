from sqlalchemy import LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from whistle.submit.models.base import Base


class Login(Base):
    """Keyed hash (with the server's pepper) of a login token → the case it opens."""

    __tablename__ = "logins"

    lookup: Mapped[bytes] = mapped_column(LargeBinary(32), primary_key=True)
    case_id: Mapped[str] = mapped_column(String(32), unique=True)
