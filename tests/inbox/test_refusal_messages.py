"""Each refusal of a case action has its own class and its own translated message: the page
never shows an exception's English text, and rewording one cannot change another's message."""

import inspect

import pytest

from whistle.inbox import errors, refusals
from whistle.inbox.models import Case
from whistle.inbox.web import LANG_COOKIE

from .conftest import do_import, incoming, make_submission
from .test_web import app, client, csrf, login  # noqa: F401 - fixtures

#: Refusals a case action can meet, each with its own message (not an ancestor's).
CASE_REFUSALS = [
    cls
    for _, cls in inspect.getmembers(errors, inspect.isclass)
    if cls is not errors.ReplyRefusedError  # the base of the reply refusals, never raised
    and issubclass(
        cls,
        (
            errors.WorkflowError,
            errors.ReplyRefusedError,
            errors.ReasonRequiredError,
            errors.UnknownOfficerError,
            errors.LabelTooLongError,
            errors.TooManyLabelsError,
        ),
    )
]


def _case(office) -> str:
    source, envelope = make_submission(office)
    do_import(office, [incoming("submission", source.case_id, envelope)])
    return source.case_id


@pytest.mark.parametrize("cls", CASE_REFUSALS, ids=lambda cls: cls.__name__)
def test_every_case_refusal_has_a_message_of_its_own_class(cls: type) -> None:
    assert cls in refusals.CASE_REFUSALS or cls in refusals.CASE_REFUSALS_BY_WHY


def _messages(app, lang: str) -> list[str]:  # noqa: F811
    with app.test_request_context(headers={"Cookie": f"{LANG_COOKIE}={lang}"}):
        return [refusals.refusal_message(cls("an English text")) for cls in CASE_REFUSALS]


@pytest.mark.parametrize("lang", ["ca", "es"])
def test_every_refusal_message_is_translated(app, lang: str) -> None:  # noqa: F811
    english = _messages(app, "en")
    for cls, shown, original in zip(CASE_REFUSALS, _messages(app, lang), english, strict=True):
        assert shown != original, cls.__name__
        assert "English text" not in shown


def test_two_refusals_about_the_outcome_have_two_messages(app) -> None:  # noqa: F811
    """The old view matched "outcome" in the English text and gave both the same message."""
    with app.test_request_context():
        required = refusals.refusal_message(errors.OutcomeRequiredError("outcome"))
        not_allowed = refusals.refusal_message(errors.OutcomeNotAllowedError("outcome"))
    assert required == "Choose the outcome to close the case."
    assert not_allowed == "Only closing a case has an outcome."


def test_a_refused_label_is_shown_translated_and_nothing_changes(office, client) -> None:  # noqa: F811
    case = _case(office)
    login(client)
    client.set_cookie(LANG_COOKIE, "ca")
    token = csrf(client.get(f"/cases/{case}").get_data(as_text=True))
    response = client.post(f"/cases/{case}/labels", data={"csrf": token, "labels": "x" * 61})
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert "Una etiqueta té com a màxim 60 caràcters." in page
    assert "A label has at most" not in page
    with office.session() as session:
        assert session.get(Case, case).labels is None
