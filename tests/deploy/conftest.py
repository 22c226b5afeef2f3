"""Fixtures for deployment tests: a real gunicorn behind a real onion service, as
`whistle server setup` writes them (in a fresh root directory): its data directory, its
gunicorn.conf.py, its units' app factories and its tor fragments.

The private Tor network is started once per test session (``onion_site``), so every test that
uses it is marked ``serial``: under xdist each worker would start its own network. Such tests are
deselected when pytest runs with ``-n``; run them in a second, plain run (the Makefile does):

    pytest -n auto -m "not serial"
    pytest -m serial
"""

import dataclasses
import json
import shutil
import time
import warnings
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner

from tests.bundles.conftest import World, make_world
from tests.conftest import INSECURE_KDF_PARAMS
from tests.deploy.gunicorn_server import gunicorn
from tests.deploy.tor_network import TorNetwork, free_port, x25519_keypair
from tests.deploy.torrc import COURIER_SERVICE, REPO, SOURCE_SERVICE
from tests.deploy.units import unit_settings
from whistle.cli import main
from whistle.submit.config import load_config
from whistle.submit.server_setup import TOR_INCLUDE

#: Seconds the private network may take to bootstrap (measured here: 15-35 s).
BOOTSTRAP_DEADLINE = 240.0
#: Seconds from bootstrap until the source onion service answers a connection (measured: ~4 s).
REACHABLE_DEADLINE = 180.0
#: Where the session's timings are written for docs/benchmarks.md (git-ignored).
TIMINGS = REPO / "test-artifacts" / "tor-network.json"

SOURCE_PORT = 8080  # torrc.example: HiddenServicePort 80 127.0.0.1:8080
COURIER_PORT = 8081  # torrc.example: HiddenServicePort 80 127.0.0.1:8081


def served_apps(root: Path) -> dict[int, str]:
    """What gunicorn serves behind each onion service, by the port torrc.example names: the
    app factory of each unit setup wrote under ``root``, on the data directory under ``root``."""
    apps = {}
    for port, unit in ((SOURCE_PORT, "whistle-submit"), (COURIER_PORT, "whistle-courier")):
        (command,) = unit_settings(root / f"etc/systemd/system/{unit}.service")["ExecStart"]
        spec = command.split()[-1].strip("'")
        apps[port] = spec.replace('"/var/lib/whistle"', f'"{root}/var/lib/whistle"')
    return apps


def set_up_server(root: Path, world: World, courier_key: str) -> World:
    """`whistle server setup --root` around the world's data directory (its inbox pins that
    server), with the courier's client key: the world, its server now under ``root``."""
    data = root / "var/lib/whistle"
    data.parent.mkdir(parents=True)
    shutil.move(world.server_dir, data)
    (root / "etc").mkdir()
    for name in ("passwd", "group", "shadow", "gshadow", "os-release"):
        shutil.copy2(f"/etc/{name}", root / "etc" / name)
    result = CliRunner().invoke(
        main, ["server", "setup", "--root", str(root), "--courier-key", courier_key]
    )
    assert result.exit_code == 0, result.output
    return dataclasses.replace(world, server_dir=data, server_config=load_config(data))


def written_torrc(root: Path) -> str:
    """/etc/tor/torrc as setup left it, its %include of the fragments expanded."""
    fragments = sorted((root / "etc/tor/torrc.d").glob("whistle-*.conf"))
    return (
        (root / "etc/tor/torrc")
        .read_text()
        .replace(TOR_INCLUDE, "".join(path.read_text() for path in fragments))
    )


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
    # A real office (inbox) and server that trust each other; the server set up by
    # `whistle server setup`, courier key included (which switches the courier on).
    private_key, public_key = x25519_keypair(root / "office-keys")
    server_root = root / "server-root"
    world = set_up_server(server_root, make_world(root, INSECURE_KDF_PARAMS), public_key)
    taken: set[int] = set()
    ports = {SOURCE_PORT: free_port(taken), COURIER_PORT: free_port(taken)}
    with ExitStack() as stack:
        for torrc_port, app_spec in served_apps(server_root).items():
            stack.enter_context(
                gunicorn(
                    app_spec,
                    ports[torrc_port],
                    root / f"gunicorn-{torrc_port}.log",
                    config=server_root / "etc/whistle/gunicorn.conf.py",
                )
            )
        network = TorNetwork(
            workdir=root / "tor",
            torrc_example=written_torrc(server_root),
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
