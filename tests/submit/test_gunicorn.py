"""A real gunicorn serving a data directory: headers, a report, an oversized upload, no log."""

import http.client
import re
import subprocess

import pytest

from tests.deploy.gunicorn_server import GUNICORN_CONF
from tests.submit.conftest import Office, browser_report

pytestmark = pytest.mark.slow


def _request(port: int, method: str, path: str, body: bytes = b"", headers=None):  # type: ignore[no-untyped-def]
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    connection.request(method, path, body=body, headers=headers or {})
    response = connection.getresponse()
    data = response.read()
    connection.close()
    return response, data.decode("utf-8")


def test_gunicorn_serves_the_site(
    served: tuple[int, subprocess.Popen[str]], office: Office
) -> None:
    port, process = served
    response, page = _request(port, "GET", "/report", headers={"User-Agent": "UA-SMOKE"})
    assert response.status == 200
    server = response.getheader("Server") or ""
    assert not re.search(r"\d", server), f"a version in Server: {server}"
    assert response.getheader("Content-Security-Policy", "").startswith("default-src 'none'")
    cookie = (response.getheader("Set-Cookie") or "").split(";")[0]
    assert "HttpOnly" in (response.getheader("Set-Cookie") or "")
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert csrf

    body, content_type = browser_report(csrf.group(1), files=[("a.txt", b"a" * 50_000)])
    response, page = _request(
        port, "POST", "/report", body, {"Content-Type": content_type, "Cookie": cookie}
    )
    assert response.status == 200
    assert 'id="code"' in page

    # Larger than the limit: read and dropped, then a page that says the limit (no reset).
    body, content_type = browser_report(csrf.group(1), files=[("big.bin", b"b" * 3_000_000)])
    response, page = _request(
        port, "POST", "/report", body, {"Content-Type": content_type, "Cookie": cookie}
    )
    assert response.status == 413
    assert "98 KB" in page

    process.terminate()
    _, err = process.communicate(timeout=30)
    assert "UA-SMOKE" not in err
    assert "GET /" not in err
    assert "POST /" not in err
    assert "127.0.0.1 -" not in err


@pytest.mark.sqlite_only
def test_gunicorn_with_an_unreachable_database_stops_with_one_line(data_dir) -> None:  # type: ignore[no-untyped-def]
    import sys
    from pathlib import Path

    config = data_dir / "config.toml"
    config.write_text(
        config.read_text().replace(
            'database_url = ""', 'database_url = "postgresql://w@/w?host=/nonexistent-dir"'
        )
    )
    process = subprocess.run(
        [
            str(Path(sys.executable).with_name("gunicorn")),
            "--config",
            str(GUNICORN_CONF),
            "--bind",
            "127.0.0.1:0",
            "--workers",
            "2",
            "--no-control-socket",
            f'whistle.submit:app_from_directory("{data_dir}")',
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    # The arbiter stopped rather than booting workers again and again: status 3 — or, when a
    # worker dies before the arbiter's main loop has started (a race inside gunicorn's own
    # start-up, seen under load), gunicorn's uncaught HaltServer for that same status 3.
    halted = "HaltServer: <HaltServer 'Worker failed to boot.' 3>"
    assert process.returncode in (3, 1), process.stderr
    if process.returncode == 1:
        assert halted in process.stderr, process.stderr
    lines = [line for line in process.stderr.splitlines() if line.startswith("whistle: ")]
    assert lines
    assert all(
        line.startswith("whistle: cannot connect to the database (database_url in config.toml): ")
        for line in lines
    )
    assert process.stderr.count("Traceback") == process.stderr.count(halted), process.stderr
