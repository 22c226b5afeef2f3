"""An officer's security key (WebAuthn with the PRF extension): the credential the inbox
checks at sign-in, and the officer's second factor wrapped under the key's PRF output."""

from datetime import datetime

from sqlalchemy import DateTime, ForeignKey, Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from whistle.inbox.models.base import Base


class SecurityKey(Base):
    __tablename__ = "security_key"

    id: Mapped[int] = mapped_column(primary_key=True)
    officer_id: Mapped[int] = mapped_column(ForeignKey("officer.id"), index=True)
    label: Mapped[str] = mapped_column(String(64))
    credential_id: Mapped[bytes] = mapped_column(LargeBinary, unique=True)
    #: COSE public key, as py_webauthn's verified registration gives it.
    public_key: Mapped[bytes] = mapped_column(LargeBinary)
    sign_count: Mapped[int] = mapped_column(Integer, default=0)
    #: The PRF input (random, 32 bytes): the key answers it with the same 32 bytes each time.
    prf_salt: Mapped[bytes] = mapped_column(LargeBinary)
    #: The officer's second factor (32 bytes), wrapped under this key's PRF output.
    wrapped_factor: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(DateTime)
    last_used_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
