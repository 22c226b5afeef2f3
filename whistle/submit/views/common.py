"""What the submission site's pages, plain routes and sealed routes share: the blueprint, the
office card of this request, the desk a URL names, the quota, the check-in page."""

import base64
import datetime
import zoneinfo
from dataclasses import dataclass, field
from typing import Any

from flask import Blueprint, abort, g, render_template, request, url_for
from flask_babel import gettext as _
from sqlalchemy.exc import OperationalError

from whistle.crypto import Desk, OfficeCard
from whistle.submit import epochs, store
from whistle.submit.code_errors import CodeProblem, texts_for_script
from whistle.submit.pepper import open_login
from whistle.submit.slots import RETRY_AFTER_SECONDS
from whistle.submit.web import message_page, state, use_bundle

#: One blueprint for the three modules: endpoint names stay ``submit.<view>``.
blueprint = Blueprint("submit", __name__)


#: Room for the text fields of a multipart body on top of its files.
FORM_ALLOWANCE = 1024 * 1024


#: Room a report needs at the least (a padded envelope with its identification block).
MIN_ENVELOPE_BYTES = 16 * 1024


#: What every "busy" answer carries (HTTP 503): when to try again.
BUSY_HEADERS = {"Retry-After": str(RETRY_AFTER_SECONDS)}


def today() -> datetime.date:
    """The day in the office's time zone: the only time the server records.

    The routes call it as ``common.today()``: one name to set the server's day (tests do).
    """
    return datetime.datetime.now(zoneinfo.ZoneInfo(state().config.time_zone)).date()


def current_cards() -> epochs.Cards:
    """The current office card (and the previous one), read once per request."""
    known: epochs.Cards | None = g.get("office_cards")
    if known is None:
        st = state()
        try:
            with st.sessions() as db_session:
                known = epochs.cards(db_session, st.config)
        except OperationalError:
            if request.method != "GET":
                raise  # nothing is encrypted to a card the database did not confirm
            # The database cannot be read (a read-only data directory): pages that need
            # nothing else still show, with the pinned card's desks. A page encrypting to
            # its keys names its epoch, which is checked against the database when it posts.
            known = epochs.Cards(st.config.office_card, None, None)
        g.office_cards = known
    return known


def current_card() -> OfficeCard:
    return current_cards().current


def desk_or_404(desk_id: str | None) -> Desk:
    desks = current_card().desks
    if desk_id is None:
        if len(desks) != 1:
            abort(404)
        return desks[0]
    for desk in desks:
        if desk.id == desk_id:
            return desk
    abort(404)


def report_url(desk: Desk, *, sealed: bool = False) -> str:
    endpoint = "submit.report_sealed" if sealed else "submit.report"
    # The page says which key epoch it encrypted to (it was given that card's keys).
    extra: dict[str, Any] = {"epoch": current_card().epoch} if sealed else {}
    if len(current_card().desks) == 1:
        return url_for(endpoint, **extra)
    return url_for(endpoint, desk_id=desk.id, **extra)


def quota_reached(incoming: int) -> bool:
    st = state()
    with st.sessions() as db_session:
        return store.quota_reached(db_session, st.config.limits.storage_quota_bytes, incoming)


def full_page() -> tuple[str, int]:
    return message_page(
        _("Temporarily full"),
        _(
            "This mailbox cannot take new reports right now because its storage is full. "
            "Nothing was kept. Please try again in a few days, or use one of the external "
            "channels."
        ),
        503,
        show_channels=True,
    )


def find_case(token: bytes) -> bytes | None:
    """The case of a login token, plain or sealed (the caller holds a look-up slot)."""
    st = state()
    return open_login(st.sessions, st.peppers.get(), token)


def is_number(text: str) -> bool:
    """ASCII digits only, at most 10 (``str.isdigit`` also accepts "²", which ``int``
    refuses)."""
    return text.isascii() and text.isdigit() and 0 < len(text) <= 10


def unknown_message() -> str:
    return _(
        "That code is unknown here. Check it against what you wrote down; if your report was "
        "deleted after the case was closed, the code no longer works."
    )


def key_changed_message() -> str:
    """A follow-up sealed to a case key the office has since replaced (docs/protocol.md §17)."""
    return _(
        "The office changed its key for your case in the meantime, so your message was not "
        "sent. Please send it again."
    )


@dataclass
class ReportForm:
    values: dict[str, str] = field(default_factory=dict)
    errors: list[tuple[str, str]] = field(default_factory=list)  # (field id, message)
    files_dropped: bool = False
    notice: str | None = None


def render_report(desk: Desk, form: ReportForm, status: int = 200) -> tuple[str, int]:
    return (
        render_template(
            "report.html",
            desk=desk,
            action=report_url(desk),
            questionnaire=state().questionnaire,
            form=form,
            bundle=use_bundle(),
            sealed_action=report_url(desk, sealed=True),
            install_salt=state().config.install_salt.hex(),
            custodian_key=current_card().custodian_key.hex(),
            office_card=base64.b64encode(current_card().signed).decode("ascii"),
        ),
        status,
    )


def checkin_page(
    error: str | None = None,
    status: int = 200,
    *,
    problem: CodeProblem | None = None,
    typed: str = "",
) -> tuple[str, int]:
    """The check-in form; after a refusal, what was typed stays in the field (``typed``) and a
    code problem marks the character it names."""
    if problem is not None:
        error = problem.message
    page = render_template(
        "checkin.html", error=error, problem=problem, typed=typed, **sealed_page_data()
    )
    return page, status


def sealed_page_data() -> dict[str, Any]:
    """What the page script needs: the bundle and the office's public keys (all public)."""
    config = state().config
    card = current_card()
    return {
        "bundle": use_bundle(),
        "install_salt": config.install_salt.hex(),
        "desk_keys": ",".join(d.public_key.hex() for d in card.desks),
        # The pinned office key (configuration, never the database): replies must carry
        # its signature.
        "office_key": config.office_card.signing_key.hex(),
        # The current card as the office signed it: the page checks the keys it is given
        # against it and shows the fingerprint it checked (review finding H3).
        "office_card": base64.b64encode(card.signed).decode("ascii"),
        "epoch": card.epoch,
        "code_texts": texts_for_script(),
    }
