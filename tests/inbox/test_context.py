"""The officer context a request (or a command) builds once for the case actions."""

import dataclasses
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from whistle.inbox.config import InboxConfig
from whistle.inbox.context import OfficerContext, for_officer


def test_for_officer_takes_the_officer_and_the_inbox_settings(tmp_path: Path) -> None:
    late = datetime(2026, 11, 2, 23, 30, tzinfo=UTC)  # already 3 November in Madrid
    config = InboxConfig(
        data_dir=tmp_path, clock=lambda: late, time_zone="Europe/Madrid", default_language="es"
    )
    ctx = for_officer(config, 7)
    assert ctx == OfficerContext(
        officer_id=7,
        now=late,
        today=date(2026, 11, 3),  # the legal clocks count the office's day, not UTC's
        default_language="es",
        store_dir=tmp_path / "store",
    )


def test_the_context_cannot_change_under_an_action(tmp_path: Path) -> None:
    ctx = for_officer(InboxConfig(data_dir=tmp_path), 1)
    with pytest.raises(dataclasses.FrozenInstanceError):
        ctx.officer_id = 2  # type: ignore[misc]
