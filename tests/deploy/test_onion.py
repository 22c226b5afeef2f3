"""The real site and courier through real onion services on a private Tor network, exactly as
`whistle server setup` wrote them: its tor fragments, its gunicorn config, its units' apps.

Marked ``serial``: run with ``pytest -m serial`` (no ``-n``), see tests/deploy/conftest.py.
"""

import os

import httpx
import pytest
from sqlalchemy import select

from tests.deploy.conftest import OnionSite
from tests.deploy.tor_network import SOCKS_ONION_MISSING_CLIENT_AUTH, socks_connect
from tests.submit.conftest import CODE, csrf_from
from whistle.inbox.courier_client import client as courier_client
from whistle.inbox.courier_client import sync
from whistle.inbox.models import Case
from whistle.inbox.outgoing import queue_reply
from whistle.inbox.store import submission_meta

pytestmark = [pytest.mark.serial, pytest.mark.slow]

#: Per-request timeout: generous for a loaded machine, far from what a request takes (~0.1 s).
REQUEST_TIMEOUT = 120.0
CANARY = "CANARY-through-the-onion-4c1f"


def client(site: OnionSite, name: str = "source") -> httpx.Client:
    return httpx.Client(
        proxy=site.proxy(name), timeout=REQUEST_TIMEOUT, base_url=f"http://{site.source_address}"
    )


def test_landing_page_through_the_source_onion(onion_site: OnionSite) -> None:
    with client(onion_site) as http:
        response = http.get("/language/en", follow_redirects=True)
    assert response.status_code == 200
    assert "Oficina Antifrau" in response.text
    assert "server" not in response.headers


def test_report_and_reply_round_trip_through_the_onions(onion_site: OnionSite) -> None:
    world = onion_site.world
    evidence = os.urandom(1024 * 1024)
    with client(onion_site) as http:
        http.get("/language/en", follow_redirects=True)
        form = http.get("/report")
        receipt = http.post(
            "/report",
            data={
                "csrf_token": csrf_from(form.text),
                "q_subject": "Split contracts",
                "q_description": CANARY,
                "accept": "yes",
            },
            files=[("files", ("evidence.bin", evidence, "application/octet-stream"))],
        )
        assert receipt.status_code == 200, receipt.text
        code = CODE.search(receipt.text).group(1)  # type: ignore[union-attr]

        # The office collects over the courier onion (client authorisation) …
        courier = f"http://{onion_site.courier_address}"
        onion_site.network.wait_until_reachable(onion_site.courier_address, client="office")
        socks = onion_site.proxy("office").removeprefix("socks5h://")
        with courier_client(courier, socks=socks) as office:
            first = sync(office, world.inbox_sessions, world.keyring, world.inbox_config)
            assert first.received is not None
            assert first.received.counts["records imported"] == 1
            with world.inbox_session() as session:
                case_id = session.scalars(select(Case.id)).one()
                meta = submission_meta(session, world.keyring, case_id)
                assert CANARY in str(meta)
                queue_reply(
                    session,
                    world.keyring,
                    case_id=case_id,
                    message="We have received your report.",
                    files=[],
                    now=world.inbox_config.clock(),
                    store_dir=world.inbox_config.store_dir,
                )
            second = sync(office, world.inbox_sessions, world.keyring, world.inbox_config)
            assert second.sent is not None

        # … and the source reads the reply through the source onion, with the code.
        page = http.get("/check-in")
        answer = http.post("/check-in", data={"csrf_token": csrf_from(page.text), "code": code})
        assert answer.status_code == 200
        assert "We have received your report." in answer.text


def test_courier_onion_is_hidden_from_a_client_without_the_key(onion_site: OnionSite) -> None:
    socks_port = onion_site.network.client("source").socks_port
    assert socks_port is not None
    reply = socks_connect(socks_port, onion_site.courier_address, 80)
    assert reply == SOCKS_ONION_MISSING_CLIENT_AUTH
