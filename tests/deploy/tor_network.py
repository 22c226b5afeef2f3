"""A private Tor network on loopback, for tests that must go through a real onion service.

Three directory authorities (keys from ``tor-gencert``), a few relays, one onion-service node
that runs the ``HiddenService*`` lines of ``torrc.example`` and any number of clients with a
SocksPort. Every node has ``TestingTorNetwork 1``, every address is 127.0.0.1, every port is
picked free at run time. Nothing waits a fixed time: :meth:`TorNetwork.start` polls the nodes'
logs against a deadline and fails with the last log lines of the node that did not make it.

Each tor is started with ``__OwningControllerProcess`` set to this process, so a test run that
dies without tearing down still leaves no tor behind; :meth:`TorNetwork.stop` ends each one by
its PID.
"""

import base64
import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from tests.deploy.torrc import onion_service_lines

BOOTSTRAPPED = "Bootstrapped 100%"
#: How often the logs are looked at while waiting (not a wait for something to happen).
POLL_INTERVAL = 0.2


class TorNetworkError(RuntimeError):
    """The private network could not be started (the message carries the log tail)."""


def free_port(taken: set[int]) -> int:
    """A loopback TCP port that nothing listens on now and that ``taken`` does not hold."""
    while True:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        if port not in taken:
            taken.add(port)
            return port


def x25519_keypair(workdir: Path) -> tuple[str, str]:
    """A v3 onion client-authorisation key pair ``(private, public)``, both unpadded base32.

    Made with the ``openssl`` commands docs/deployment.md gives the office, so the documented
    procedure is the tested one.
    """
    workdir.mkdir(parents=True, exist_ok=True)
    pem = workdir / "client-auth.pem"
    subprocess.run(["openssl", "genpkey", "-algorithm", "x25519", "-out", str(pem)], check=True)
    private_der = subprocess.run(
        ["openssl", "pkey", "-in", str(pem), "-outform", "DER"], check=True, capture_output=True
    ).stdout
    public_der = subprocess.run(
        ["openssl", "pkey", "-in", str(pem), "-pubout", "-outform", "DER"],
        check=True,
        capture_output=True,
    ).stdout
    pem.unlink()

    def b32(raw: bytes) -> str:
        return base64.b32encode(raw[-32:]).decode().rstrip("=")

    return b32(private_der), b32(public_der)


#: SOCKS5 reply codes that tor sends with ``ExtendedErrors`` (tor's socks-extensions spec).
SOCKS_SUCCEEDED = 0x00
SOCKS_ONION_DESCRIPTOR_NOT_FOUND = 0xF0
SOCKS_ONION_MISSING_CLIENT_AUTH = 0xF4


def socks_connect(socks_port: int, host: str, port: int, timeout: float = 60.0) -> int:
    """Ask tor's SocksPort to connect to ``host:port``; return the SOCKS5 reply code.

    A raw handshake, because HTTP clients turn tor's extended codes into one generic error.
    The host name goes to tor as a name (never resolved here).
    """
    name = host.encode("ascii")
    with socket.create_connection(("127.0.0.1", socks_port), timeout=timeout) as sock:
        sock.sendall(b"\x05\x01\x00")
        if _recv_exactly(sock, 2) != b"\x05\x00":
            raise TorNetworkError("the SocksPort refused a no-authentication SOCKS5 handshake")
        request = b"\x05\x01\x00\x03" + bytes([len(name)]) + name + port.to_bytes(2, "big")
        sock.sendall(request)
        return _recv_exactly(sock, 2)[1]


def _recv_exactly(sock: socket.socket, n: int) -> bytes:
    data = b""
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        if not chunk:
            raise TorNetworkError("the SocksPort closed the connection mid-reply")
        data += chunk
    return data


@dataclass
class TorNode:
    """One tor process of the network."""

    name: str
    datadir: Path
    control_port: int
    torrc_lines: list[str]
    socks_port: int | None = None
    process: subprocess.Popen[bytes] | None = None

    @property
    def log(self) -> Path:
        return self.datadir / "notice.log"

    def log_text(self) -> str:
        try:
            return self.log.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def log_tail(self, lines: int = 15) -> str:
        return "\n".join(self.log_text().splitlines()[-lines:])

    def bootstrapped(self) -> bool:
        return BOOTSTRAPPED in self.log_text()

    def control(self, *commands: str, timeout: float = 10.0) -> str:
        """Send control-port commands (the port takes no password: loopback, test only)."""
        lines = ["AUTHENTICATE", *commands, "QUIT"]
        with socket.create_connection(("127.0.0.1", self.control_port), timeout=timeout) as sock:
            sock.sendall("".join(f"{line}\r\n" for line in lines).encode())
            chunks = []
            while chunk := sock.recv(65536):
                chunks.append(chunk)
        reply = b"".join(chunks).decode(errors="replace")
        for line in reply.splitlines():
            if line.startswith(("4", "5")):
                raise TorNetworkError(f"{self.name}: control command failed: {line}")
        return reply


@dataclass
class TorNetwork:
    """A private Tor network rooted at ``workdir``.

    ``torrc_example`` is the operator's torrc; its onion-service lines run on the ``hs`` node
    with their loopback targets remapped by ``ports``. ``clients`` names the client nodes, each
    with the client-authorisation private keys it holds, by onion-service directory name.
    ``authorized_clients`` gives, per onion-service directory name, the public keys
    (``NAME.auth`` files) the service accepts.
    """

    workdir: Path
    torrc_example: str
    ports: Mapping[int, int]
    clients: Mapping[str, Mapping[str, str]] = field(default_factory=lambda: {"client": {}})
    authorized_clients: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    n_authorities: int = 3
    n_relays: int = 3
    tor: str = "tor"
    tor_gencert: str = "tor-gencert"
    nodes: dict[str, TorNode] = field(default_factory=dict, init=False)
    _taken: set[int] = field(default_factory=set, init=False, repr=False)

    @property
    def hs_dir(self) -> Path:
        """Where the onion services' directories are (``/var/lib/tor`` on a real server)."""
        return self.workdir / "hs"

    @property
    def _empty_torrc(self) -> Path:
        """tor reads this instead of /etc/tor's defaults (it refuses /dev/null)."""
        return self.workdir / "empty-torrc"

    def onion_address(self, service: str) -> str:
        return (self.hs_dir / service / "hostname").read_text().strip()

    def client(self, name: str = "client") -> TorNode:
        return self.nodes[name]

    def socks_url(self, name: str = "client") -> str:
        """A ``socks5h://`` URL: host names (the .onion) are resolved by tor, never locally."""
        return f"socks5h://127.0.0.1:{self.nodes[name].socks_port}"

    # -- start and stop ------------------------------------------------------------------------

    def start(self, timeout: float = 240.0) -> float:
        """Start every node and wait until the onion node and the clients have bootstrapped.

        Returns the seconds it took. Raises :class:`TorNetworkError` past ``timeout``.
        """
        started = time.monotonic()
        deadline = started + timeout
        self.workdir.mkdir(parents=True, exist_ok=True)
        self._taken.update(self.ports.values())
        self._empty_torrc.touch()
        try:
            dir_authorities = self._make_authorities()
            self._make_relays()
            self._make_onion_service()
            for node in self.nodes.values():
                self._launch(node, dir_authorities)
            self._wait_for_hostnames(deadline)
            for name, keys in self.clients.items():
                node = self._make_client(name, keys)
                self._launch(node, dir_authorities)
            waiting_for = [self.nodes["hs"], *(self.nodes[name] for name in self.clients)]
            self._wait(deadline, lambda: all(node.bootstrapped() for node in waiting_for))
        except BaseException:
            self.stop()
            raise
        return time.monotonic() - started

    def stop(self) -> None:
        """SIGTERM every tor by its PID, then SIGKILL any still there after a grace period."""
        running = [n.process for n in self.nodes.values() if n.process and n.process.poll() is None]
        for process in running:
            os.kill(process.pid, signal.SIGTERM)
        for process in running:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.kill(process.pid, signal.SIGKILL)
                process.wait(timeout=10)

    def wait_until_reachable(
        self, address: str, port: int = 80, client: str = "client", timeout: float = 180.0
    ) -> float:
        """Connect to ``address:port`` through ``client`` until it works; return the seconds.

        Right after bootstrap the onion service may not have published its descriptor yet;
        each failed attempt is followed by NEWNYM so the next one asks the directories again.
        """
        started = time.monotonic()
        deadline = started + timeout
        socks_port = self.nodes[client].socks_port
        if socks_port is None:
            raise ValueError(f"{client} has no SocksPort")
        codes = []
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TorNetworkError(
                    f"{address} not reachable through {client} in {timeout} s; "
                    f"SOCKS replies: {codes}\n{self.nodes['hs'].log_tail()}"
                )
            self._check_alive()
            try:
                code = socks_connect(socks_port, address, port, timeout=min(remaining, 60.0))
            except (OSError, TorNetworkError):
                code = -1  # no reply in time, or the connection dropped: try again
            if code == SOCKS_SUCCEEDED:
                return time.monotonic() - started
            codes.append(code)
            self.new_identity(client)
            time.sleep(POLL_INTERVAL)

    def new_identity(self, name: str = "client") -> None:
        """NEWNYM: the client forgets its circuits and its onion-service state.

        Forgetting matters when a first attempt came before the service's descriptor was
        published: a client does not re-ask the same directories for 15 minutes otherwise.
        """
        self.nodes[name].control("SIGNAL NEWNYM")

    # -- nodes ---------------------------------------------------------------------------------

    def _common(self, node: TorNode) -> list[str]:
        return [
            "TestingTorNetwork 1",
            f"DataDirectory {node.datadir}",
            f"Nickname {node.name}",
            f"Log notice file {node.log}",
            "SafeLogging 0",
            "ShutdownWaitLength 0",
            f"ControlPort 127.0.0.1:{node.control_port}",
            f"__OwningControllerProcess {os.getpid()}",
            "AssumeReachable 1",
            "PathsNeededToBuildCircuits 0.67",
            "TestingDirAuthVoteExit *",
            "TestingDirAuthVoteGuard *",
            "TestingDirAuthVoteHSDir *",
            "TestingMinExitFlagThreshold 0",
            "V3AuthNIntervalsValid 2",
        ]

    def _new_node(self, name: str) -> TorNode:
        datadir = self.workdir / name
        datadir.mkdir(mode=0o700, parents=True, exist_ok=True)
        node = TorNode(
            name=name, datadir=datadir, control_port=free_port(self._taken), torrc_lines=[]
        )
        node.torrc_lines = self._common(node)
        self.nodes[name] = node
        return node

    def _relay_lines(self) -> tuple[int, int, list[str]]:
        or_port, dir_port = free_port(self._taken), free_port(self._taken)
        return (
            or_port,
            dir_port,
            [
                "Address 127.0.0.1",
                f"ORPort 127.0.0.1:{or_port}",
                f"DirPort 127.0.0.1:{dir_port}",
                "SocksPort 0",
                "ExitRelay 0",
            ],
        )

    def _make_authorities(self) -> list[str]:
        lines = []
        for i in range(self.n_authorities):
            node = self._new_node(f"auth{i}")
            or_port, dir_port, relay_lines = self._relay_lines()
            keys = node.datadir / "keys"
            keys.mkdir(mode=0o700, exist_ok=True)
            subprocess.run(
                [
                    self.tor_gencert,
                    "--create-identity-key",
                    "--passphrase-fd",
                    "0",
                    "-m",
                    "12",
                    "-a",
                    f"127.0.0.1:{dir_port}",
                    "-i",
                    str(keys / "authority_identity_key"),
                    "-s",
                    str(keys / "authority_signing_key"),
                    "-c",
                    str(keys / "authority_certificate"),
                ],
                input=b"\n",
                check=True,
                capture_output=True,
            )
            v3ident = next(
                line.split()[1]
                for line in (keys / "authority_certificate").read_text().splitlines()
                if line.startswith("fingerprint ")
            )
            subprocess.run(
                [
                    self.tor,
                    "--list-fingerprint",
                    "--defaults-torrc",
                    str(self._empty_torrc),
                    "-f",
                    str(self._empty_torrc),
                    "--DataDirectory",
                    str(node.datadir),
                    "--Nickname",
                    node.name,
                    "--ORPort",
                    str(or_port),
                    "--Log",
                    "err stderr",
                ],
                check=True,
                capture_output=True,
            )
            rsa_fingerprint = (node.datadir / "fingerprint").read_text().split()[1]
            node.torrc_lines += [
                *relay_lines,
                "AuthoritativeDirectory 1",
                "V3AuthoritativeDirectory 1",
                f"ContactInfo {node.name}@test.invalid",
                "TestingV3AuthInitialVotingInterval 10",
                "TestingV3AuthInitialVoteDelay 2",
                "TestingV3AuthInitialDistDelay 2",
                "V3AuthVotingInterval 10",
                "V3AuthVoteDelay 2",
                "V3AuthDistDelay 2",
            ]
            lines.append(
                f"DirAuthority {node.name} orport={or_port} no-v2 v3ident={v3ident} "
                f"127.0.0.1:{dir_port} {rsa_fingerprint}"
            )
        return lines

    def _make_relays(self) -> None:
        for i in range(self.n_relays):
            node = self._new_node(f"relay{i}")
            node.torrc_lines += self._relay_lines()[2]

    def _make_onion_service(self) -> None:
        node = self._new_node("hs")
        self.hs_dir.mkdir(mode=0o700, exist_ok=True)
        for service, keys in self.authorized_clients.items():
            auth_dir = self.hs_dir / service / "authorized_clients"
            auth_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
            (self.hs_dir / service).chmod(0o700)
            for client, public_key in keys.items():
                (auth_dir / f"{client}.auth").write_text(f"descriptor:x25519:{public_key}\n")
        node.torrc_lines += [
            "SocksPort 0",
            *onion_service_lines(self.torrc_example, self.hs_dir, self.ports),
        ]

    def _make_client(self, name: str, keys: Mapping[str, str]) -> TorNode:
        node = self._new_node(name)
        node.socks_port = free_port(self._taken)
        auth_dir = node.datadir / "onion-auth"
        auth_dir.mkdir(mode=0o700, exist_ok=True)
        for service, private_key in keys.items():
            address = self.onion_address(service).removesuffix(".onion")
            (auth_dir / f"{service}.auth_private").write_text(
                f"{address}:descriptor:x25519:{private_key}\n"
            )
        node.torrc_lines += [
            f"SocksPort 127.0.0.1:{node.socks_port} ExtendedErrors",
            f"ClientOnionAuthDir {auth_dir}",
        ]
        return node

    def _launch(self, node: TorNode, dir_authorities: list[str]) -> None:
        torrc = node.datadir / "torrc"
        torrc.write_text("\n".join([*node.torrc_lines, *dir_authorities]) + "\n")
        node.process = subprocess.Popen(
            [self.tor, "--defaults-torrc", str(self._empty_torrc), "-f", str(torrc)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    # -- waiting -------------------------------------------------------------------------------

    def _wait_for_hostnames(self, deadline: float) -> None:
        services = {
            line.split()[1].rstrip("/")
            for line in self.nodes["hs"].torrc_lines
            if line.startswith("HiddenServiceDir ")
        }
        self._wait(deadline, lambda: all((Path(s) / "hostname").exists() for s in services))

    def _check_alive(self) -> None:
        for node in self.nodes.values():
            if node.process and node.process.poll() is not None:
                raise TorNetworkError(
                    f"tor node {node.name} exited with {node.process.returncode}:\n"
                    f"{node.log_tail()}"
                )

    def _wait(self, deadline: float, done: Callable[[], bool]) -> None:
        while not done():
            self._check_alive()
            if time.monotonic() > deadline:
                late = [n for n in self.nodes.values() if not n.bootstrapped()]
                report = "\n".join(f"--- {n.name}:\n{n.log_tail()}" for n in late)
                raise TorNetworkError(f"private tor network not ready in time:\n{report}")
            time.sleep(POLL_INTERVAL)
