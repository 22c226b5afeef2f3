"""Through a real onion service: torrc.example's lines, on a private Tor network, to gunicorn.

Marked ``serial``: run with ``pytest -m serial`` (no ``-n``), see tests/deploy/conftest.py.
"""

import hashlib
import os

import httpx
import pytest

from tests.deploy.conftest import OnionSite
from tests.deploy.tiny_app import PAGE
from tests.deploy.tor_network import SOCKS_ONION_MISSING_CLIENT_AUTH, socks_connect

pytestmark = [pytest.mark.serial, pytest.mark.slow]

#: Per-request timeout: generous for a loaded machine, far from what a request takes (~0.1 s).
REQUEST_TIMEOUT = 120.0


def client(site: OnionSite, name: str = "source") -> httpx.Client:
    return httpx.Client(proxy=site.proxy(name), timeout=REQUEST_TIMEOUT)


def test_page_through_the_source_onion(onion_site: OnionSite) -> None:
    with client(onion_site) as http:
        response = http.get(f"http://{onion_site.source_address}/")
    assert response.status_code == 200
    assert response.content == PAGE
    assert "server" not in response.headers


def test_one_mib_upload_through_the_source_onion(onion_site: OnionSite) -> None:
    body = os.urandom(1024 * 1024)
    with client(onion_site) as http:
        response = http.post(f"http://{onion_site.source_address}/upload", content=body)
    assert response.status_code == 200
    assert response.json() == {"length": len(body), "sha256": hashlib.sha256(body).hexdigest()}


def test_courier_onion_answers_the_authorised_office(onion_site: OnionSite) -> None:
    onion_site.network.wait_until_reachable(onion_site.courier_address, client="office")
    with client(onion_site, "office") as http:
        response = http.get(f"http://{onion_site.courier_address}/")
    assert response.status_code == 200


def test_courier_onion_is_hidden_from_a_client_without_the_key(onion_site: OnionSite) -> None:
    socks_port = onion_site.network.client("source").socks_port
    assert socks_port is not None
    reply = socks_connect(socks_port, onion_site.courier_address, 80)
    assert reply == SOCKS_ONION_MISSING_CLIENT_AUTH
