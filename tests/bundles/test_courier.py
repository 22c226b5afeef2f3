"""The courier on loopback: the whole loop over HTTP, and who may use it."""

import base64
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select
from werkzeug.serving import make_server

from tests.submit.conftest import check_in, submit_report
from whistle.crypto import COURIER_CHALLENGE, generate_signing_keypair, sign
from whistle.inbox.courier_client import CourierError, client, sync
from whistle.inbox.models import Case
from whistle.inbox.outgoing import queue_reply
from whistle.submit import courier_app_from_directory, load_config
from whistle.submit.courier import create_courier_app
from whistle.submit.models import Record

from .conftest import World


def _enable(server_dir: Path) -> None:
    path = server_dir / "config.toml"
    path.write_text(path.read_text().replace("courier_enabled = false", "courier_enabled = true"))


@pytest.fixture
def courier_url(world: World) -> Iterator[str]:
    _enable(world.server_dir)
    app = create_courier_app(load_config(world.server_dir))
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join()
    app.extensions["whistle_courier"].dispose()


def test_courier_is_off_by_default(world: World) -> None:
    with pytest.raises(SystemExit, match="courier is off"):
        courier_app_from_directory(world.server_dir)


def test_whole_loop_over_the_courier(world: World, courier_url: str) -> None:
    web = world.client
    web.get("/language/en")
    code = submit_report(web, description="CANARY over the courier")
    with client(courier_url) as http:
        first = sync(http, world.inbox_sessions, world.keyring, world.inbox_config)
        assert first.received is not None
        assert first.received.counts["records imported"] == 1
        assert first.sent is None  # its acknowledgement waits for a backup: nothing to send
        world.inbox_backup()
        with world.inbox_session() as session:
            case_id = session.scalars(select(Case.id)).one()
            queue_reply(
                session,
                world.keyring,
                case_id=case_id,
                message="Answer over the courier.",
                files=[],
                now=world.inbox_config.clock(),
                store_dir=world.inbox_config.store_dir,
            )
        second = sync(http, world.inbox_sessions, world.keyring, world.inbox_config)
        assert second.sent is not None
        assert any("replies stored: 1" in line for line in second.server_said)
    status, page = check_in(web, code)
    assert status == 200
    assert "Answer over the courier." in page
    with world.server_state().sessions() as session:
        assert [r.kind.value for r in session.scalars(select(Record))] == ["reply"]


def _challenge(http: httpx.Client) -> str:
    return str(http.post("/courier/challenge").json()["challenge"])


def test_only_the_office_key_may_use_it(world: World, courier_url: str) -> None:
    with httpx.Client(base_url=courier_url) as http:
        assert http.post("/courier/outbox").status_code == 403
        nonce = _challenge(http)
        stranger = generate_signing_keypair().seed
        forged = sign(stranger, COURIER_CHALLENGE, f"whistle-courier:outbox:{nonce}".encode())
        headers = {"X-Whistle-Challenge": nonce, "X-Whistle-Proof": base64.b64encode(forged)}
        refused = http.post("/courier/outbox", headers=headers)
        assert refused.status_code == 403
        assert "office key" in refused.json()["error"]
        # A challenge is single-use, even after a failed attempt.
        seed = world.keyring.signing_seed
        good = sign(seed, COURIER_CHALLENGE, f"whistle-courier:outbox:{nonce}".encode())
        headers["X-Whistle-Proof"] = base64.b64encode(good)
        assert http.post("/courier/outbox", headers=headers).status_code == 403
        # A proof for one action does not serve another.
        nonce = _challenge(http)
        proof = sign(seed, COURIER_CHALLENGE, f"whistle-courier:outbox:{nonce}".encode())
        headers = {"X-Whistle-Challenge": nonce, "X-Whistle-Proof": base64.b64encode(proof)}
        assert http.post("/courier/replies", headers=headers, content=b"x").status_code == 403
        assert http.get("/courier/outbox").status_code == 405


def test_a_bad_bundle_over_the_courier_is_a_clear_refusal(world: World, courier_url: str) -> None:
    from whistle.inbox.courier_client import _post

    before = world.snapshot()["server"]
    with client(courier_url) as http, pytest.raises(CourierError, match="nothing was changed"):
        _post(http, world.keyring, "replies", b"WHENV\x01garbage")
    after = world.snapshot()["server"]
    before.pop("courier_challenges"), after.pop("courier_challenges")
    assert after == before


def test_sync_command(world: World, courier_url: str, tmp_path: Path) -> None:
    from click.testing import CliRunner

    from tests.inbox.conftest import PASSWORD
    from whistle.cli import main

    from .test_cli import _inbox_obj

    submit_report(world.client)
    password = tmp_path / "password"
    password.write_text(PASSWORD)
    args = ["inbox", "sync", str(world.inbox_config.data_dir), "--url", courier_url]
    args += ["--officer", "admin", "--password-file", str(password)]
    result = CliRunner().invoke(main, args, obj=_inbox_obj(world))
    assert result.exit_code == 0, result.output
    assert "records imported: 1" in result.output
    assert "server: " not in result.output  # nothing went: the acknowledgement waits
    assert "1 acknowledgement(s) wait for a backup" in result.output
    backup = CliRunner().invoke(
        main,
        ["inbox", "backup", str(world.inbox_config.data_dir), "--out", str(tmp_path), *args[5:]],
        obj=_inbox_obj(world),
    )
    assert backup.exit_code == 0, backup.output
    result = CliRunner().invoke(main, args, obj=_inbox_obj(world))
    assert result.exit_code == 0, result.output
    assert "acknowledged records deleted: 1" in result.output  # the server said so
    unreachable = CliRunner().invoke(
        main, [*args[:4], "http://127.0.0.1:9", *args[5:]], obj=_inbox_obj(world)
    )
    assert unreachable.exit_code == 1
    assert "cannot be reached" in unreachable.output
