"""The inbox's Bundles page: check → summary → apply → summary; write → download."""

import io
import re

from sqlalchemy import select

from tests.inbox.conftest import PASSWORD
from tests.submit.conftest import submit_report
from whistle.inbox import create_app
from whistle.inbox.models import Case
from whistle.inbox.outgoing import queue_reply

from .conftest import World, signed_outbox


def _csrf(html: str) -> str:
    match = re.search(r'name="csrf" value="([^"]+)"', html)
    assert match
    return match.group(1)


def _token(html: str) -> str:
    match = re.search(r'name="token" value="([^"]+)"', html)
    assert match
    return match.group(1)


def test_import_and_export_from_the_browser(world: World) -> None:
    submit_report(world.client)
    outbox = world.server_export()
    app = create_app(world.inbox_config)
    web = app.test_client()
    web.set_cookie("whistle_lang", "en")
    web.post("/login", data={"name": "admin", "password": PASSWORD})
    page = web.get("/bundles/").get_data(as_text=True)
    assert "Collect new reports" in page
    csrf = _csrf(page)

    garbage = web.post(
        "/bundles/check",
        data={"csrf": csrf, "bundle": (io.BytesIO(b"\x1f\x8b" + bytes(100)), "x.bundle")},
        content_type="multipart/form-data",
    )
    assert garbage.status_code == 400
    assert "never compressed" in garbage.get_data(as_text=True)

    checked = web.post(
        "/bundles/check",
        data={"csrf": csrf, "bundle": (io.BytesIO(outbox), "outbox.bundle")},
        content_type="multipart/form-data",
    )
    text = checked.get_data(as_text=True)
    assert checked.status_code == 200, text
    assert "The bundle holds" in text
    with world.inbox_session() as session:
        assert session.scalars(select(Case)).all() == []  # checking changes nothing
    applied = web.post("/bundles/apply", data={"csrf": csrf, "token": _token(text)})
    assert "Applied" in applied.get_data(as_text=True)
    assert "records imported" in applied.get_data(as_text=True)

    with world.inbox_session() as session:
        queue_reply(
            session,
            world.keyring,
            case_id=session.scalars(select(Case.id)).one(),
            message="From the browser.",
            files=[],
            now=world.inbox_config.clock(),
            store_dir=world.inbox_config.store_dir,
        )
    written = web.post("/bundles/export", data={"csrf": csrf})
    text = written.get_data(as_text=True)
    assert "Replies bundle written" in text
    bundle = web.post("/bundles/download", data={"csrf": csrf, "token": _token(text)})
    assert bundle.headers["Content-Disposition"].startswith("attachment;")
    summary = world.server_import(bundle.data)
    assert summary.counts["replies stored"] == 1
    app.extensions["whistle_inbox"].engine.dispose()


def test_a_bundle_that_does_not_follow_on_is_shown_as_such(world: World) -> None:
    """L5: the check page says when an outbox's ``previous`` is not the bundle applied last."""
    submit_report(world.client)
    world.inbox_import(world.server_export())
    app = create_app(world.inbox_config)
    web = app.test_client()
    web.set_cookie("whistle_lang", "en")
    web.post("/login", data={"name": "admin", "password": PASSWORD})
    csrf = _csrf(web.get("/bundles/").get_data(as_text=True))
    checked = web.post(
        "/bundles/check",
        data={
            "csrf": csrf,
            "bundle": (io.BytesIO(signed_outbox(world, 2, "ab" * 32, {})), "o.bundle"),
        },
        content_type="multipart/form-data",
    )
    text = checked.get_data(as_text=True)
    assert checked.status_code == 200, text
    assert "does not follow the last one applied here" in text
    assert "is not no. 1 applied here" in text
