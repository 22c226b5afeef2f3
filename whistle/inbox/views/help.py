"""The officer guide, offline, at /help (readable before signing in: it holds no case data)."""

from flask import Blueprint, render_template
from flask_babel import get_locale
from markupsafe import Markup

from whistle.inbox import officer_guide

blueprint = Blueprint("help", __name__, url_prefix="/help")


@blueprint.get("")
def index() -> str:
    language = str(get_locale() or officer_guide.FALLBACK)
    shown = officer_guide.guide(language)
    return render_template(
        "help.html",
        guide=shown,
        body=Markup(shown.html),  # noqa: S704 - rendered with raw HTML off (officer_guide.py)
        translated=shown.language == language,
    )
