"""An officer: login hash, roles and their own wrapped copies of the office keys."""

from datetime import datetime

from sqlalchemy import Boolean, DateTime, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from whistle.inbox.models.base import Base

ROLE_OFFICER = "officer"
ROLE_MANAGER = "manager"
ROLE_CUSTODIAN = "custodian"
ROLES = (ROLE_OFFICER, ROLE_MANAGER, ROLE_CUSTODIAN)


class Officer(Base):
    __tablename__ = "officer"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str] = mapped_column(String(256))
    wrapped_keyring: Mapped[bytes] = mapped_column(LargeBinary)
    wrapped_custodian_keyring: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    is_officer: Mapped[bool] = mapped_column(Boolean, default=True)
    is_manager: Mapped[bool] = mapped_column(Boolean, default=False)
    is_custodian: Mapped[bool] = mapped_column(Boolean, default=False)
    #: The officer's personal X25519 key (the secret is in their wrapped keyring): desk keys
    #: are sealed to it (``DeskGrant``). None until they sign in once after desks came.
    public_key: Mapped[bytes | None] = mapped_column(
        LargeBinary(32), nullable=True, unique=True, index=True
    )
    language: Mapped[str | None] = mapped_column(String(8), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime)

    @property
    def is_removed(self) -> bool:
        """Removed officers keep their row (the history names them) but no hash and no keys."""
        return not self.password_hash

    @property
    def roles(self) -> tuple[str, ...]:
        held = (self.is_officer, self.is_manager, self.is_custodian)
        return tuple(role for role, has in zip(ROLES, held, strict=True) if has)
