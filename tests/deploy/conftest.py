"""Fixtures for deployment tests: a real gunicorn behind a real onion service.

The private Tor network is started once per test session (``onion_site``), so every test that
uses it is marked ``serial``: under xdist each worker would start its own network. Such tests are
deselected when pytest runs with ``-n``; run them in a second, plain run (the Makefile does):

    pytest -n auto -m "not serial"
    pytest -m serial
"""

import json
import time
import warnings
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.bundles.conftest import World, make_world
from tests.conftest import INSECURE_KDF_PARAMS
from tests.deploy.gunicorn_server import gunicorn
from tests.deploy.tor_network import TorNetwork, free_port, x25519_keypair
from tests.deploy.torrc import COURIER_SERVICE, REPO, SOURCE_SERVICE, TORRC_EXAMPLE

#: Seconds the private network may take to bootstrap (measured here: 15-35 s).
BOOTSTRAP_DEADLINE = 240.0
#: Seconds from bootstrap until the source onion service answers a connection (measured: ~4 s).
REACHABLE_DEADLINE = 180.0
#: Where the session's timings are written for docs/benchmarks.md (git-ignored).
TIMINGS = REPO / "test-artifacts" / "tor-network.json"

SOURCE_PORT = 8080  # torrc.example: HiddenServicePort 80 127.0.0.1:8080
COURIER_PORT = 8081  # torrc.example: HiddenServicePort 80 127.0.0.1:8081


def served_apps(server_dir: Path) -> dict[int, str]:
    """What gunicorn serves behind each onion service, by the port torrc.example names:
    the real site and the real courier, in the systemd units' form."""
    return {
        SOURCE_PORT: f'whistle.submit:app_from_directory("{server_dir}")',
        COURIER_PORT: f'whistle.submit:courier_app_from_directory("{server_dir}")',
    }


@dataclass(frozen=True)
class OnionSite:
    """The served apps behind torrc.example's two onion services on a private Tor network.

    Clients: ``source`` has no client-authorisation key; ``office`` holds the courier's.
    """

    network: TorNetwork
    world: World
    source_address: str
    courier_address: str
    bootstrap_seconds: float
    reachable_seconds: float

    def proxy(self, client: str = "source") -> str:
        return self.network.socks_url(client)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Under an xdist worker, leave out ``serial`` tests (they run in a plain second run)."""
    if not hasattr(config, "workerinput"):
        return
    serial = [item for item in items if item.get_closest_marker("serial")]
    if serial:
        warnings.warn(
            f"{len(serial)} serial tests left out under xdist; run them with: pytest -m serial",
            pytest.PytestWarning,
            stacklevel=1,
        )
        config.hook.pytest_deselected(items=serial)
        items[:] = [item for item in items if not item.get_closest_marker("serial")]


@pytest.fixture(scope="session")
def onion_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OnionSite]:
    root = tmp_path_factory.mktemp("onion-site")
    # A real office (inbox) and server that trust each other, the courier switched on.
    world = make_world(root, INSECURE_KDF_PARAMS)
    config = world.server_dir / "config.toml"
    config.write_text(
        config.read_text().replace("courier_enabled = false", "courier_enabled = true")
    )
    taken: set[int] = set()
    ports = {SOURCE_PORT: free_port(taken), COURIER_PORT: free_port(taken)}
    private_key, public_key = x25519_keypair(root / "office-keys")
    with ExitStack() as stack:
        for torrc_port, app_spec in served_apps(world.server_dir).items():
            stack.enter_context(
                gunicorn(app_spec, ports[torrc_port], root / f"gunicorn-{torrc_port}.log")
            )
        network = TorNetwork(
            workdir=root / "tor",
            torrc_example=TORRC_EXAMPLE.read_text(),
            ports=ports,
            clients={"source": {}, "office": {COURIER_SERVICE: private_key}},
            authorized_clients={COURIER_SERVICE: {"office": public_key}},
        )
        session_start = time.monotonic()
        bootstrap = network.start(timeout=BOOTSTRAP_DEADLINE)
        stack.callback(network.stop)
        source = network.onion_address(SOURCE_SERVICE)
        reachable = network.wait_until_reachable(
            source, client="source", timeout=REACHABLE_DEADLINE
        )
        ready = time.monotonic() - session_start
        first_request = time.monotonic()
        with httpx.Client(proxy=network.socks_url("source"), timeout=REACHABLE_DEADLINE) as http:
            http.get(f"http://{source}/")  # measured only; the tests check the answers
        first_request = time.monotonic() - first_request
        site = OnionSite(
            network=network,
            world=world,
            source_address=source,
            courier_address=network.onion_address(COURIER_SERVICE),
            bootstrap_seconds=bootstrap,
            reachable_seconds=reachable,
        )
        TIMINGS.parent.mkdir(exist_ok=True)
        TIMINGS.write_text(
            json.dumps(
                {
                    "bootstrap_seconds": round(bootstrap, 2),
                    "reachable_after_bootstrap_seconds": round(reachable, 2),
                    "first_http_request_seconds": round(first_request, 2),
                    "ready_from_cold_start_seconds": round(ready, 2),
                },
                indent=2,
            )
            + "\n"
        )
        yield site
