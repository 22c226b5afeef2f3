"""In Chromium with JavaScript on: a page loaded before a rotation posts the epoch it used.

The page is served epoch 2's keys; the server then applies epoch 3 before the source sends.
The report is stored as epoch 2 (the plain form would have used 3) and opens with epoch 2's
desk key: the page really encrypted to the card it was served and said so.
"""

import datetime
import io
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from werkzeug.serving import make_server

from tests.e2e.conftest import FLOW, Quiet
from whistle.crypto import (
    BoxKeyPair,
    Desk,
    generate_box_keypair,
    generate_signing_keypair,
    make_office_card,
    read_card,
)
from whistle.crypto.records import open_submission
from whistle.submit import create_app, load_config, store
from whistle.submit import epochs as server_epochs
from whistle.submit.datadir import init_data_directory
from whistle.submit.models import Record

pytestmark = [pytest.mark.slow, pytest.mark.sqlite_only]
CHROMIUM = "/usr/lib/chromium/chromium"
WAIT_MS = 120_000
CODE_SHOWN = "() => ((document.getElementById('code') || {}).textContent || '').trim()"


def _card(seed: bytes, desk: BoxKeyPair, custodian: bytes, epoch: int) -> bytes:
    return make_office_card(
        seed,
        name="Oficina",
        bundle_key=generate_box_keypair().public_key,
        desks=[Desk("antifrau", "Anti-fraud", desk.public_key)],
        custodian_key=custodian,
        epoch=epoch,
        created="2026-11-02",
    )


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[str, Any, dict[int, Any], Any]]:
    signing = generate_signing_keypair()
    custodian = generate_box_keypair().public_key
    desks = {epoch: generate_box_keypair() for epoch in (1, 2, 3)}
    cards = {epoch: _card(signing.seed, desks[epoch], custodian, epoch) for epoch in desks}
    directory = tmp_path / "server"
    init_data_directory(
        directory, cards[1], fingerprint=read_card(cards[1]).fingerprint, language="en"
    )
    app = create_app(load_config(directory))
    if app.extensions["whistle_submit"].bundle is None:
        raise RuntimeError("the browser bundle is not built: run `make build`")
    state = app.extensions["whistle_submit"]
    with state.sessions.begin() as session:
        server_epochs.store_card(session, cards[2], 2, datetime.date.today())
    server = make_server("127.0.0.1", 0, app, threaded=True, request_handler=Quiet)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()

    def rotate_to_3() -> None:
        with state.sessions.begin() as session:
            server_epochs.store_card(session, cards[3], 3, datetime.date.today())

    yield f"http://127.0.0.1:{server.server_port}", state, desks, rotate_to_3
    server.shutdown()
    state.engine.dispose()


def test_a_page_from_before_a_rotation_posts_its_own_epoch(
    served: tuple[str, Any, dict[int, Any], Any],
) -> None:
    from playwright.sync_api import sync_playwright

    base, state, desks, rotate_to_3 = served
    report = FLOW["report"]
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=["--no-sandbox", "--disable-background-networking", "--no-first-run"],
        )
        page = browser.new_page()
        page.goto(f"{base}/language/en?next=/report")
        page.wait_for_selector("html[data-encryption=page]", timeout=WAIT_MS)
        for entry in report["fields"]:
            page.get_by_label(entry["label"], exact=False).first.fill(entry["value"])
        page.get_by_label(report["accept"], exact=False).check()
        rotate_to_3()  # the server switches while the source is typing
        page.get_by_role("button", name=report["submit"]).click()
        page.wait_for_function(CODE_SHOWN, timeout=WAIT_MS)
        browser.close()
    with state.sessions() as session:
        row = session.scalars(select(Record)).one()
        envelope = io.BytesIO()
        store.read_record(session, row.id, envelope)
    assert row.epoch == 2
    case_id = bytes.fromhex(row.case_id)
    opened = open_submission(io.BytesIO(envelope.getvalue()), [desks[2].secret_key], case_id)
    assert report["fields"][0]["value"] in str(opened.form)
