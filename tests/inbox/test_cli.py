"""The command line: office init, trust-server, list, show, run's loopback check."""

import re
import subprocess
import sys
import time
from pathlib import Path

import click
import httpx
import pytest
from click.testing import CliRunner

from whistle.cli import main
from whistle.crypto import generate_signing_keypair, make_server_card, read_card
from whistle.inbox.config import insecure_password_hash

from .conftest import CANARY, PASSWORD, do_import, incoming, make_followup, make_submission


@pytest.fixture
def obj(insecure_kdf_params, clock):
    return {
        "config": {
            "kdf_params": insecure_kdf_params,
            "password_hash": insecure_password_hash(),
            "clock": clock,
        }
    }


@pytest.fixture
def password_file(tmp_path):
    path = tmp_path / "password"
    path.write_text(PASSWORD + "\n")
    return path


def test_office_init_prints_recovery_key_once_and_writes_card(tmp_path, obj, password_file) -> None:
    data_dir = tmp_path / "office"
    result = CliRunner().invoke(
        main,
        [
            "office",
            "init",
            str(data_dir),
            "--name",
            "Oficina Antifrau",
            "--desk",
            "antifraud=Anti-fraud office",
            "--desk",
            "ethics=Ethics",
            "--officer",
            "admin",
            "--password-file",
            str(password_file),
            "--time-zone",
            "Europe/Madrid",
        ],
        obj=obj,
    )
    assert result.exit_code == 0, result.output
    card = read_card((data_dir / "office-card.json").read_bytes())
    assert card.time_zone == "Europe/Madrid"  # carried to the server
    assert card.fingerprint in result.output
    key = re.search(r"^ {4}(\S{4}(?: \S{4}){12} \S{1,2})\s*$", result.output, re.MULTILINE)
    assert key, result.output
    for path in data_dir.rglob("*"):
        if path.is_file():
            assert key.group(1).replace(" ", "").encode() not in path.read_bytes()
    again = CliRunner().invoke(
        main,
        [
            "office",
            "init",
            str(data_dir),
            "--name",
            "X",
            "--officer",
            "a",
            "--password-file",
            str(password_file),
            "--time-zone",
            "Europe/Madrid",
        ],
        obj=obj,
    )
    assert again.exit_code == 1
    assert "holds an office already" in again.output
    assert "Traceback" not in again.output


def test_office_init_requires_a_real_time_zone(tmp_path, obj, password_file) -> None:
    base = ["office", "init", str(tmp_path / "o"), "--name", "O", "--officer", "admin"]
    base += ["--password-file", str(password_file)]
    missing = CliRunner().invoke(main, base, obj=obj)
    assert missing.exit_code == 2
    assert "--time-zone" in missing.output
    wrong = CliRunner().invoke(main, [*base, "--time-zone", "Mars/Olympus"], obj=obj)
    assert wrong.exit_code == 1
    assert "Europe/Madrid" in wrong.output
    assert not (tmp_path / "o" / "inbox.sqlite").exists()


def test_the_inbox_counts_in_the_cards_time_zone(office, obj) -> None:
    """No silent UTC: the card's zone is used, a contradicting one refused."""
    from whistle.inbox.cli.common import office_zone

    ctx = click.Context(main, obj=obj)
    assert office_zone(ctx, office.config.data_dir, None) == office.config.time_zone
    with pytest.raises(click.ClickException, match="card says"):
        office_zone(ctx, office.config.data_dir, "Pacific/Kiritimati")


def test_trust_server_shows_fingerprint_and_asks(office, tmp_path, obj) -> None:
    card = make_server_card(
        generate_signing_keypair().seed,
        name="srv",
        bundle_key=bytes(32),
        install_id="ab" * 16,
        created="2026-11-01",
    )
    path = tmp_path / "server-card.json"
    path.write_bytes(card)
    fingerprint = read_card(card).fingerprint
    args = ["inbox", "trust-server", str(office.config.data_dir), str(path)]
    refused = CliRunner().invoke(main, args, obj=obj, input="n\n")
    assert fingerprint in refused.output
    assert refused.exit_code == 1
    accepted = CliRunner().invoke(main, args, obj=obj, input="y\n")
    assert accepted.exit_code == 0
    assert "pinned" in accepted.output
    assert CliRunner().invoke(main, [*args, "--yes"], obj=obj).exit_code == 0
    bad = tmp_path / "bad.json"
    bad.write_bytes(b"{}")
    result = CliRunner().invoke(
        main, ["inbox", "trust-server", str(office.config.data_dir), str(bad), "--yes"], obj=obj
    )
    assert result.exit_code == 1
    assert "Traceback" not in result.output


def test_list_and_show(office, obj, password_file) -> None:
    source, envelope = make_submission(
        office, subject="Roads\x1b[2J contract", files=[("a.txt", b"x")]
    )
    other, envelope2 = make_submission(office, subject="Hiring", desk="ethics")
    follow = make_followup(office, source, f"more {CANARY}")
    do_import(
        office,
        [
            incoming("submission", source.case_id, envelope),
            incoming("submission", other.case_id, envelope2),
            incoming("followup", source.case_id, follow),
        ],
    )
    base = ["--officer", "admin", "--password-file", str(password_file)]
    listed = CliRunner().invoke(
        main, ["inbox", "list", str(office.config.data_dir), *base], obj=obj
    )
    assert listed.exit_code == 0, listed.output
    assert source.case_id in listed.output
    assert "\x1b" not in listed.output
    assert other.case_id in listed.output
    only = CliRunner().invoke(
        main, ["inbox", "list", str(office.config.data_dir), *base, "--search", CANARY], obj=obj
    )
    assert source.case_id in only.output
    assert other.case_id not in only.output
    shown = CliRunner().invoke(
        main, ["inbox", "show", str(office.config.data_dir), source.case_id[:10], *base], obj=obj
    )
    assert shown.exit_code == 0, shown.output
    assert CANARY in shown.output
    assert "file 0: a.txt" in shown.output
    assert "\x1b" not in shown.output
    missing = CliRunner().invoke(
        main, ["inbox", "show", str(office.config.data_dir), "ffffffffff", *base], obj=obj
    )
    assert missing.exit_code == 1
    assert "No such case" in missing.output


def test_wrong_password_on_the_command_line(office, obj, tmp_path) -> None:
    wrong = tmp_path / "wrong"
    wrong.write_text("not the password\n")
    result = CliRunner().invoke(
        main,
        [
            "inbox",
            "list",
            str(office.config.data_dir),
            "--officer",
            "admin",
            "--password-file",
            str(wrong),
        ],
        obj=obj,
    )
    assert result.exit_code == 1
    assert "Wrong name or password." in result.output


def test_password_prompt(office, obj) -> None:
    result = CliRunner().invoke(
        main,
        ["inbox", "list", str(office.config.data_dir), "--officer", "admin"],
        obj=obj,
        input=PASSWORD + "\n",
    )
    assert result.exit_code == 0, result.output


@pytest.mark.parametrize(
    "host",
    [
        "0.0.0.0",  # noqa: S104 - it must be refused
        "192.168.1.2",
        "::",
        "localhost.evil",
        "::1",
    ],
)
def test_run_refuses_non_loopback(office, obj, host) -> None:
    result = CliRunner().invoke(
        main, ["inbox", "run", str(office.config.data_dir), "--host", host], obj=obj
    )
    assert result.exit_code == 2
    assert "127.0.0.1" in result.output


def test_commands_on_a_directory_without_office(tmp_path, obj, password_file) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    result = CliRunner().invoke(
        main,
        ["inbox", "list", str(empty), "--officer", "a", "--password-file", str(password_file)],
        obj=obj,
    )
    assert result.exit_code == 1
    assert "office init" in result.output


def test_run_serves_on_loopback_only(office, obj, monkeypatch) -> None:
    calls = []
    monkeypatch.setattr(
        "whistle.serving._LoopbackApplication.run",
        lambda self: calls.append({key: self.cfg.settings[key].get() for key in SERVED}),
    )
    result = CliRunner().invoke(
        main, ["inbox", "run", str(office.config.data_dir), "--port", "8555"], obj=obj
    )
    assert result.exit_code == 0, result.output
    assert calls == [
        {
            "bind": ["127.0.0.1:8555"],
            "worker_class": "gthread",
            "workers": 1,  # the unlocked keys live in the one worker's memory
            "max_requests": 0,  # a recycled worker would sign everyone out
            "accesslog": None,
            "proc_name": "whistle-inbox",
        }
    ]


SERVED = ("bind", "worker_class", "workers", "max_requests", "accesslog", "proc_name")


def test_run_is_gunicorn_without_request_log_or_server_header(tmp_path) -> None:
    """The real command, in its own process: no development-server warning, no request log."""
    from tests.deploy.tor_network import free_port
    from whistle.demo import set_up

    inbox_dir = set_up(tmp_path / "demo").inbox_dir
    port = free_port(set())
    log = tmp_path / "inbox.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [
                *(str(Path(sys.executable).parent / "whistle"), "inbox", "run", str(inbox_dir)),
                *("--port", str(port), "--language", "es"),
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, log.read_text()
            try:
                # The office chose Spanish: an English browser does not override it.
                page = httpx.get(
                    f"http://127.0.0.1:{port}/login", headers={"Accept-Language": "en"}, timeout=5
                )
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, log.read_text()
                time.sleep(0.2)
        # What the attack review found in the log of the old development server: a search.
        search = httpx.get(f"http://127.0.0.1:{port}/cases?q=Jane+Doe+embezzlement", timeout=5)
        assert "server" not in search.headers
    finally:
        process.terminate()
        process.wait(timeout=30)
    assert page.status_code == 200
    assert '<html lang="es"' in page.text
    assert "server" not in page.headers
    output = log.read_text()
    assert "development server" not in output
    assert "/login" not in output  # no request log
    assert "embezzlement" not in output
    assert "/cases" not in output
    assert "Inbox on http://localhost:" in output  # security keys refuse IP-address origins


def test_office_card_written_again(office, obj, tmp_path) -> None:
    out = tmp_path / "card.json"
    result = CliRunner().invoke(
        main, ["office", "card", str(office.config.data_dir), "--out", str(out)], obj=obj
    )
    assert result.exit_code == 0, result.output
    assert out.read_bytes() == office.created.card
    assert office.created.fingerprint in result.output
