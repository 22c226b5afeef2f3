"""The pages that take nothing: landing, channels, about, language, and the report and
check-in forms (the plain and the sealed routes answer what they post)."""

from typing import Any

from flask import Response, abort, redirect, render_template, request, session

from whistle.redirects import safe_target
from whistle.submit import authorities
from whistle.submit.config import LANGUAGES
from whistle.submit.views.common import (
    MIN_ENVELOPE_BYTES,
    ReportForm,
    blueprint,
    checkin_page,
    current_card,
    desk_or_404,
    full_page,
    quota_reached,
    render_report,
    report_url,
)
from whistle.submit.web import state


@blueprint.get("/")
def landing() -> str:
    desks = current_card().desks
    return render_template("landing.html", report_urls=[(d, report_url(d)) for d in desks])


@blueprint.get("/channels")
def channels() -> str:
    territory = state().config.legal.territory
    return render_template("channels.html", channels=authorities.all_channels(territory))


@blueprint.get("/about")
def about() -> str:
    legal = state().config.legal
    return render_template(
        "about.html", data_authority=authorities.DATA_AUTHORITIES[legal.complaint_authority]
    )


@blueprint.get("/favicon.ico")
def favicon() -> Response:
    return Response(status=204)


@blueprint.get("/office-logo")
def office_logo() -> Response:
    """The logo the operator configured (config.toml ``office_logo``), from memory."""
    logo = state().config.office_logo
    if logo is None:
        abort(404)
    response = Response(logo.data, mimetype=logo.mimetype)
    response.headers["Cache-Control"] = "public, max-age=86400"
    return response


@blueprint.get("/language/<lang>")
def language(lang: str) -> Any:
    if lang not in LANGUAGES:
        abort(404)
    session["lang"] = lang
    return redirect(safe_target(request.args.get("next"), "/"), code=303)


@blueprint.get("/report", defaults={"desk_id": None}, endpoint="report")
@blueprint.get("/report/<desk_id>", endpoint="report")
def report(desk_id: str | None) -> Any:
    desk = desk_or_404(desk_id)
    if quota_reached(MIN_ENVELOPE_BYTES):
        return full_page()
    return render_report(desk, ReportForm())


@blueprint.get("/check-in")
def checkin() -> Any:
    return checkin_page()
