from sqlalchemy import Boolean, Integer, LargeBinary, String, text
from sqlalchemy.orm import Mapped, mapped_column

from whistle.submit.models.base import Base


class Login(Base):
    """Keyed hash (with the server's pepper) of a login token → the case it opens.

    The row is also the case's lock and record counter: ``next_position`` is taken
    with one ``UPDATE … RETURNING`` (``store``), so records added to one case at
    once get distinct positions, and a case whose row was purged takes no more.
    """

    __tablename__ = "logins"

    lookup: Mapped[bytes] = mapped_column(LargeBinary(32), primary_key=True)
    case_id: Mapped[str] = mapped_column(String(32), unique=True)
    next_position: Mapped[int] = mapped_column(Integer, server_default=text("1"), default=1)
    #: Which pepper made ``lookup``: a tag keyed with that pepper (``pepper.pepper_tag``),
    #: opaque without the pepper files; NULL: made before tags (tagged at the next rotation).
    pepper_tag: Mapped[bytes | None] = mapped_column(LargeBinary(8), nullable=True)
    #: The protocol the case was opened with (1: before signed records) and the follow-ups
    #: stored so far: hints for the source's next follow-up (migration 0006).
    protocol: Mapped[int] = mapped_column(Integer, server_default=text("1"), default=2)
    followups: Mapped[int] = mapped_column(Integer, server_default=text("0"), default=0)
    #: False once the source deleted their copy: nothing they send later is copied either
    #: (migration 0008).
    keep_copies: Mapped[bool] = mapped_column(Boolean, server_default=text("true"), default=True)
