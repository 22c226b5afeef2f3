"""Writing audit events: who did what to which case, never content."""

from datetime import datetime

from sqlalchemy.orm import Session

from whistle.inbox.models import AuditEvent


def record_event(
    session: Session,
    at: datetime,
    action: str,
    *,
    officer_id: int | None = None,
    case_id: str | None = None,
    record_id: str | None = None,
    detail: str = "",
) -> None:
    session.add(
        AuditEvent(
            at=at.replace(tzinfo=None),
            officer_id=officer_id,
            action=action,
            case_id=case_id,
            record_id=record_id,
            detail=detail[:500],
        )
    )
