"""deploy/gunicorn.conf.py, read by gunicorn itself and applied by a real gunicorn."""

import shlex
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.deploy.gunicorn_server import GUNICORN_CONF, RunningGunicorn, gunicorn, raw_request
from tests.deploy.tiny_app import PAGE
from tests.deploy.tor_network import free_port
from tests.deploy.units import DEPLOY, unit_settings

TINY_APP = "tests.deploy.tiny_app:app"


def effective_settings() -> dict[str, str]:
    result = subprocess.run(
        [
            str(Path(sys.executable).parent / "gunicorn"),
            "--print-config",
            "--config",
            str(GUNICORN_CONF),
            TINY_APP,
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    settings = {}
    for line in result.stdout.splitlines():
        key, _, value = line.partition("=")
        settings[key.strip()] = value.strip()
    return settings


def test_gunicorn_reads_the_settings_as_intended() -> None:
    settings = effective_settings()
    assert settings["bind"] == "['127.0.0.1:8080']"
    assert settings["accesslog"] == "None"
    assert settings["worker_class"] == "<WhistleWorker()>"  # whistle.deploy.workers.worker_with
    assert int(settings["worker_connections"]) >= 500
    assert settings["forwarded_allow_ips"] == "[]"
    assert settings["secure_scheme_headers"] == "{}"
    assert settings["control_socket_disable"] == "True"
    assert int(settings["timeout"]) >= 60
    assert int(settings["limit_request_line"]) <= 4094
    assert int(settings["limit_request_fields"]) <= 100
    assert settings["umask"] == str(0o077)


@pytest.fixture
def server(tmp_path: Path) -> Iterator[RunningGunicorn]:
    with gunicorn(TINY_APP, free_port(set()), tmp_path / "gunicorn.log") as running:
        yield running


def head_and_body(response: bytes) -> tuple[list[str], bytes]:
    head, _, body = response.partition(b"\r\n\r\n")
    return head.decode("latin-1").split("\r\n"), body


def test_page_is_served_without_a_server_banner(server: RunningGunicorn) -> None:
    head, body = head_and_body(
        raw_request(server.port, b"GET / HTTP/1.1\r\nHost: x.onion\r\nConnection: close\r\n\r\n")
    )
    assert head[0] == "HTTP/1.1 200 OK"
    assert not any(line.lower().startswith("server:") for line in head[1:]), head
    assert body == PAGE


def test_no_access_log(server: RunningGunicorn) -> None:
    marker = "cf4b1e0d-visited-path"
    raw_request(
        server.port,
        f"GET /{marker} HTTP/1.1\r\nHost: x.onion\r\nUser-Agent: {marker}\r\n"
        "Connection: close\r\n\r\n".encode(),
    )
    raw_request(server.port, b"GET / HTTP/1.1\r\nHost: x.onion\r\nConnection: close\r\n\r\n")
    assert marker not in server.log_text()
    assert "GET" not in server.log_text()


def test_a_too_long_request_line_is_refused(server: RunningGunicorn) -> None:
    request = b"GET /" + b"a" * 5000 + b" HTTP/1.1\r\nHost: x.onion\r\n\r\n"
    head, _ = head_and_body(raw_request(server.port, request))
    assert head[0] == "HTTP/1.1 414 URI Too Long"
    assert not any(line.lower().startswith("server:") for line in head[1:]), head


def test_too_many_header_fields_are_refused(server: RunningGunicorn) -> None:
    fields = b"".join(b"X-F%d: v\r\n" % i for i in range(200))
    head, _ = head_and_body(
        raw_request(server.port, b"GET / HTTP/1.1\r\nHost: x.onion\r\n" + fields + b"\r\n")
    )
    assert head[0] == "HTTP/1.1 431 Request Header Fields Too Large"


def test_the_units_app_argument_reaches_the_factory(tmp_path: Path) -> None:
    """gunicorn parses the ExecStart app argument, quotes and all, as the unit means it."""
    (command,) = unit_settings(DEPLOY / "whistle-submit.service")["ExecStart"]
    app_spec = shlex.split(command)[-1]  # systemd unquotes like a shell here
    assert app_spec == 'whistle.submit:app_from_directory("/var/lib/whistle")'
    data_dir = tmp_path / "data"
    test_spec = app_spec.replace("whistle.submit:", "tests.deploy.tiny_app:").replace(
        "/var/lib/whistle", str(data_dir)
    )
    with gunicorn(test_spec, free_port(set()), tmp_path / "gunicorn.log") as running:
        _, body = head_and_body(
            raw_request(
                running.port, b"GET /data-dir HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
            )
        )
    assert body.decode() == str(data_dir)


def test_forwarded_headers_from_loopback_are_not_trusted(server: RunningGunicorn) -> None:
    """tor connects from 127.0.0.1 and passes the visitor's headers: they must not count."""
    _, body = head_and_body(
        raw_request(
            server.port,
            b"GET /scheme HTTP/1.1\r\nHost: x.onion\r\nX-Forwarded-Proto: https\r\n"
            b"X-Forwarded-Ssl: on\r\nConnection: close\r\n\r\n",
        )
    )
    assert body == b"http"


def test_a_malformed_request_is_logged_without_address_or_content(server: RunningGunicorn) -> None:
    """Attack review (info): gunicorn logged ``Invalid request from ip=127.0.0.1: <line>``."""
    marker = "5d1e-malformed-path-marker"
    for request in (
        f"GARBAGE /{marker}\r\n\r\n".encode(),
        f"GET /{marker} HTTP/9.9\r\nHost: x.onion\r\n\r\n".encode(),
        f"GET /{marker} HTTP/1.1\r\nHost: x.onion\r\nBad Header\r\n\r\n".encode(),
    ):
        head, _ = head_and_body(raw_request(server.port, request))
        assert head[0].startswith("HTTP/1.1 400"), head
    raw_request(server.port, b"GET / HTTP/1.1\r\nHost: x.onion\r\nConnection: close\r\n\r\n")
    log = server.log_text()
    assert "An invalid request was refused." in log
    assert "ip=" not in log
    assert "127.0.0.1" not in log.replace("Listening at: http://127.0.0.1", "")
    assert marker not in log
