"""Bundle, backup, preview, password and role refusals reach officers in their language:
each message is chosen by class or ``why`` code (``whistle.inbox.refusals``), never by the
exception's English text, and every code a refusal can carry has a message."""

import io
import re
from pathlib import Path

import pytest

from whistle.bundling import BundleRefusedError
from whistle.crypto.errors import CryptoError
from whistle.inbox import backup, bundles, preview, preview_worker, refusals
from whistle.inbox.web import LANG_COOKIE

from .test_web import app, client, csrf, login  # noqa: F401 - fixtures

SOURCE = Path(refusals.__file__).parent


def _codes(module: object, pattern: str) -> set[str]:
    return set(re.findall(pattern, Path(str(module.__file__)).read_text()))  # type: ignore[attr-defined]


def test_every_why_code_raised_has_a_message() -> None:
    """A new raise site with a code of its own cannot reach a page in English."""
    preview_codes = _codes(preview, r'why="([a-z-]+)"') | {"empty", "no-preview"}
    refusing = r'(?:Error\(f?|_refuse\()"([a-z]+): '  # the worker's "code: English text"
    worker_codes = {f"worker-{c}" for c in _codes(preview_worker, refusing)}
    assert preview_codes | worker_codes <= set(refusals.PREVIEW_PROBLEMS)
    assert _codes(backup, r'why="([a-z-]+)"') <= set(refusals.BACKUP_REASONS)
    notes = set(re.findall(r'summary\.note\(\s*"([a-z-]+)"', Path(bundles.__file__).read_text()))
    assert notes == set(refusals.BUNDLE_NOTES)


def _all_messages() -> list[str]:
    bundles = [message() for _, message in refusals.BUNDLES + refusals.CAUSES]
    causes = [
        refusals.bundle_reason(_refused_by(cls)) for cls, _ in refusals.CAUSES
    ]  # the same texts, reached the way an import reaches them
    backups = [
        refusals.backup_reason(backup.BackupError("English", why=why, path=Path("/x"), errno=28))
        for why in refusals.BACKUP_REASONS
    ]
    previews = [refusals.preview_problem(why) for why in refusals.PREVIEW_PROBLEMS]
    values = {"record": "ab" * 16, "n": 2, "epoch": 3, "new": 4, "old": 3}
    values |= {"reports": 2, "followups": 1, "desks": "Urbanism", "several": False}
    notes = [refusals.bundle_note(kind, values) for kind in refusals.BUNDLE_NOTES]
    notes.append(refusals.bundle_note("waiting", values | {"several": True}))
    reasons = [refusals.decision_reason(reason) for reason in refusals.SYSTEM_REASONS]
    return bundles + causes + backups + previews + notes + reasons


def _refused_by(cause: type[CryptoError]) -> BundleRefusedError:
    try:
        try:
            raise cause.__new__(cause)
        except CryptoError as exc:
            raise BundleRefusedError("English text") from exc
    except BundleRefusedError as refused:
        return refused


@pytest.mark.parametrize("lang", ["ca", "es"])
def test_every_refusal_message_is_translated(app, lang: str) -> None:  # noqa: F811
    with app.test_request_context(headers={"Cookie": f"{LANG_COOKIE}=en"}):
        english = _all_messages()
    with app.test_request_context(headers={"Cookie": f"{LANG_COOKIE}={lang}"}):
        shown = _all_messages()
    for original, translated in zip(english, shown, strict=True):
        assert translated != original, original
        assert "English" not in translated


def test_a_refused_bundle_is_explained_in_catalan(client) -> None:  # noqa: F811
    client.set_cookie(LANG_COOKIE, "ca")
    login(client)
    token = csrf(client.get("/bundles/").get_data(as_text=True))
    refused = client.post(
        "/bundles/check",
        data={"csrf": token, "bundle": (io.BytesIO(b"\x1f\x8b" + bytes(100)), "x.bundle")},
        content_type="multipart/form-data",
    )
    page = refused.get_data(as_text=True)
    assert refused.status_code == 400
    # This office has pinned no server card yet: that is the refusal, in Catalan.
    assert "encara no s&#39;ha fixat cap targeta del servidor" in page
    assert "No server is trusted yet" not in page  # the exception's own English text
