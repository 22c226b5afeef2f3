"""Pepper rotation: a new pepper, the old one kept until every login has moved over.

A login found through the previous pepper is re-hashed with the current one at that
check-in; `whistle server status` counts those still waiting; housekeeping removes the
previous pepper once none is; `--drop-previous` removes it earlier, on purpose.
"""

import stat
from pathlib import Path

import pytest
from click.testing import CliRunner
from flask import Flask
from sqlalchemy import select

from tests.submit.conftest import check_in, submit_report
from whistle.cli import main
from whistle.crypto import derive_source_keys, generate_code, login_lookup
from whistle.submit import create_app, load_config
from whistle.submit.config import ConfigError
from whistle.submit.models import Login
from whistle.submit.pepper import pepper_tag
from whistle.submit.views import plain as views_module


def _app(data_dir: Path) -> Flask:
    return create_app(load_config(data_dir))


def _dispose(app: Flask) -> None:
    app.extensions["whistle_submit"].engine.dispose()


def _english(app: Flask):  # type: ignore[no-untyped-def]
    client = app.test_client()
    client.get("/language/en")
    return client


def _server(*args: str):  # type: ignore[no-untyped-def]
    return CliRunner().invoke(main, ["server", *args])


def _logins(app: Flask) -> dict[bytes, bytes | None]:
    with app.extensions["whistle_submit"].sessions() as session:
        return {row.lookup: row.pepper_tag for row in session.scalars(select(Login))}


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_rotation_then_check_ins_rehash_and_the_old_pepper_goes(data_dir: Path) -> None:
    before = _app(data_dir)
    client = _english(before)
    codes = [submit_report(client, subject=f"Report {i}") for i in range(2)]
    old_pepper = (data_dir / "pepper").read_bytes()
    _dispose(before)

    rotated = _server("rotate-pepper", str(data_dir))
    assert rotated.exit_code == 0, rotated.output
    assert (data_dir / "pepper.previous").read_bytes() == old_pepper
    new_pepper = (data_dir / "pepper").read_bytes()
    assert len(new_pepper) == 32
    assert new_pepper != old_pepper
    assert _mode(data_dir / "pepper") == _mode(data_dir / "pepper.previous") == 0o600
    assert not list(data_dir.glob(".*.tmp"))
    status = _server("status", str(data_dir))
    assert "Logins still on the previous pepper: 2" in status.output, status.output

    after = _app(data_dir)
    client = _english(after)
    salt = after.extensions["whistle_submit"].config.install_salt
    token = derive_source_keys(codes[0], salt).login_token
    old_lookup = login_lookup(token, old_pepper)
    assert _logins(after)[old_lookup] == pepper_tag(old_pepper, old_lookup)
    status_code, page = check_in(client, codes[0])
    assert status_code == 200
    assert "Report 0" in page
    logins = _logins(after)
    assert login_lookup(token, old_pepper) not in logins
    new_lookup = login_lookup(token, new_pepper)
    assert logins[new_lookup] == pepper_tag(new_pepper, new_lookup)
    # The next check-in finds it through the current pepper.
    assert check_in(client, codes[0])[0] == 200
    assert "Logins still on the previous pepper: 1" in _server("status", str(data_dir)).output
    # A new report is filed under the new pepper.
    submit_report(client, subject="After the rotation")
    on_new = [k for k, tag in _logins(after).items() if tag == pepper_tag(new_pepper, k)]
    assert len(on_new) == 2

    refused = _server("rotate-pepper", str(data_dir))
    assert refused.exit_code == 1
    assert "1 login(s) still use" in refused.output
    kept = _server("housekeeping", str(data_dir))
    assert kept.exit_code == 0, kept.output
    assert (data_dir / "pepper.previous").exists()

    assert check_in(client, codes[1])[0] == 200
    assert "previous pepper: 0" in _server("status", str(data_dir)).output
    _dispose(after)
    swept = _server("housekeeping", str(data_dir))
    assert "previous pepper is no longer needed" in swept.output
    assert not (data_dir / "pepper.previous").exists()
    assert "previous pepper" not in _server("status", str(data_dir)).output

    last = _app(data_dir)
    client = _english(last)
    for i, code in enumerate(codes):
        status_code, page = check_in(client, code)
        assert status_code == 200
        assert f"Report {i}" in page
    assert check_in(client, generate_code())[0] == 422
    _dispose(last)
    # And a second rotation is allowed now.
    assert _server("rotate-pepper", str(data_dir)).exit_code == 0


def test_drop_previous_on_purpose_loses_the_logins_left(data_dir: Path) -> None:
    before = _app(data_dir)
    code = submit_report(_english(before))
    _dispose(before)
    assert _server("rotate-pepper", str(data_dir)).exit_code == 0
    asked = CliRunner().invoke(
        main, ["server", "rotate-pepper", str(data_dir), "--drop-previous"], input="n\n"
    )
    assert asked.exit_code == 1
    assert "1 login(s) still use the previous pepper" in asked.output
    assert (data_dir / "pepper.previous").exists()
    dropped = _server("rotate-pepper", str(data_dir), "--drop-previous", "--yes")
    assert dropped.exit_code == 0, dropped.output
    assert not (data_dir / "pepper.previous").exists()
    after = _app(data_dir)
    status_code, page = check_in(_english(after), code)
    assert status_code == 422
    assert "unknown" in page
    _dispose(after)
    nothing = _server("rotate-pepper", str(data_dir), "--drop-previous")
    assert "nothing to drop" in nothing.output


def test_unknown_and_known_codes_do_the_same_lookup_with_two_peppers(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = _app(data_dir)
    code = submit_report(_english(before))
    _dispose(before)
    assert _server("rotate-pepper", str(data_dir)).exit_code == 0
    after = _app(data_dir)
    client = _english(after)
    calls: list[int] = []
    real = views_module.store.find_logins

    def find(session, lookups):  # type: ignore[no-untyped-def]
        calls.append(len(lookups))
        return real(session, lookups)

    monkeypatch.setattr(views_module.store, "find_logins", find)
    assert check_in(client, code)[0] == 200
    assert check_in(client, generate_code())[0] == 422
    assert check_in(client, code)[0] == 200  # now through the current pepper
    assert calls == [2, 2, 2]
    _dispose(after)


def test_sealed_check_in_rehashes_too(data_dir: Path, office) -> None:  # type: ignore[no-untyped-def]
    from tests.submit.test_sealed import browser_envelope, post_sealed

    before = _app(data_dir)
    client = before.test_client()
    _code, keys, case_id, envelope = browser_envelope(before, office, [])
    assert (
        post_sealed(client, "/report/sealed", keys.login_token + case_id + envelope).status_code
        == 200
    )
    _dispose(before)
    assert _server("rotate-pepper", str(data_dir)).exit_code == 0
    after = _app(data_dir)
    response = post_sealed(after.test_client(), "/check-in/sealed", keys.login_token)
    assert response.status_code == 200
    assert response.json["case_id"] == case_id.hex()
    new_pepper = (data_dir / "pepper").read_bytes()
    lookup = login_lookup(keys.login_token, new_pepper)
    assert _logins(after) == {lookup: pepper_tag(new_pepper, lookup)}
    _dispose(after)


@pytest.mark.sqlite_only
def test_previous_pepper_file_is_checked_like_the_others(data_dir: Path) -> None:
    previous = data_dir / "pepper.previous"
    previous.write_bytes(bytes(31))
    previous.chmod(0o600)
    with pytest.raises(ConfigError, match="exactly 32 bytes"):
        load_config(data_dir)
    previous.write_bytes(bytes(32))
    previous.chmod(0o644)
    with pytest.raises(ConfigError, match="chmod 600"):
        load_config(data_dir)
    # A rotation that stopped half-way (previous written, new not yet): read as no previous.
    previous.write_bytes((data_dir / "pepper").read_bytes())
    previous.chmod(0o600)
    assert load_config(data_dir).previous_pepper is None
    assert _server("rotate-pepper", str(data_dir)).exit_code == 0
    assert load_config(data_dir).previous_pepper is not None


@pytest.mark.sqlite_only  # scans the SQLite files in the data directory
def test_no_code_token_or_pepper_in_the_database_after_rotation(data_dir: Path) -> None:
    before = _app(data_dir)
    code = submit_report(_english(before))
    salt = before.extensions["whistle_submit"].config.install_salt
    _dispose(before)
    old_pepper = (data_dir / "pepper").read_bytes()
    assert _server("rotate-pepper", str(data_dir)).exit_code == 0
    after = _app(data_dir)
    assert check_in(_english(after), code)[0] == 200
    _dispose(after)
    new_pepper = (data_dir / "pepper").read_bytes()
    token = derive_source_keys(code, salt).login_token
    needles = [code.encode(), code.replace("-", "").encode(), token, old_pepper, new_pepper]
    for path in data_dir.rglob("*"):
        if not path.is_file() or path.name in ("pepper", "pepper.previous"):
            continue
        data = path.read_bytes()
        assert not [n for n in needles if n in data], path


@pytest.mark.sqlite_only
def test_untagged_logins_from_before_the_migration_count_after_a_rotation(
    data_dir: Path,
) -> None:
    """Rows made before revision 0004 carry no tag: the rotation tags them with the pepper
    that made them, so they count as waiting and still open their case."""
    before = _app(data_dir)
    code = submit_report(_english(before))
    with before.extensions["whistle_submit"].sessions.begin() as session:
        session.execute(Login.__table__.update().values(pepper_tag=None))
    _dispose(before)
    assert _server("rotate-pepper", str(data_dir)).exit_code == 0
    assert "previous pepper: 1" in _server("status", str(data_dir)).output
    after = _app(data_dir)
    assert check_in(_english(after), code)[0] == 200
    _dispose(after)
    assert "previous pepper: 0" in _server("status", str(data_dir)).output


@pytest.mark.sqlite_only
def test_tags_say_nothing_without_the_peppers(data_dir: Path) -> None:
    """Two logins made with the same pepper carry unrelated tags: a database copy alone
    cannot group logins by pepper."""
    app = _app(data_dir)
    client = _english(app)
    submit_report(client)
    submit_report(client)
    tags = list(_logins(app).values())
    _dispose(app)
    assert len(tags) == 2
    assert all(t is not None and len(t) == 8 for t in tags)
    assert tags[0] != tags[1]


def test_a_running_site_follows_a_rotation_without_a_restart(data_dir: Path) -> None:
    """Two workers of one host: one started before the rotation, one after (gunicorn starts
    fresh workers now and then). The fresh one moves a login to the new pepper; the old one
    must still find it, and file new logins under the new pepper too."""
    old_worker = _app(data_dir)
    client = _english(old_worker)
    code = submit_report(client, subject="Before")
    assert _server("rotate-pepper", str(data_dir)).exit_code == 0
    new_pepper = (data_dir / "pepper").read_bytes()

    new_worker = _app(data_dir)
    assert check_in(_english(new_worker), code)[0] == 200  # moved to the new pepper
    status_code, page = check_in(_english(old_worker), code)
    assert status_code == 200
    assert "Before" in page
    submit_report(_english(old_worker), subject="After")
    assert all(tag == pepper_tag(new_pepper, k) for k, tag in _logins(old_worker).items())
    _dispose(new_worker)
    _dispose(old_worker)
