"""``whistle server init``, config.toml validation and start-up failures in one clear line."""

import stat
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from tests.submit.conftest import Office, make_office
from whistle.cli import main
from whistle.crypto import ServerCard, read_card
from whistle.submit import ConfigError, app_from_directory, load_config
from whistle.submit.config import SECRET_FILES
from whistle.submit.datadir import init_data_directory


def test_init_creates_secrets_cards_config_and_database(
    data_dir: Path, office: Office, db_backend: str
) -> None:
    for name in SECRET_FILES:
        mode = stat.S_IMODE((data_dir / name).stat().st_mode)
        assert mode == 0o600, name
    assert stat.S_IMODE(data_dir.stat().st_mode) == 0o700
    card = read_card((data_dir / "server-card.json").read_bytes())
    assert isinstance(card, ServerCard)
    assert len(card.install_id) == 32
    config = load_config(data_dir)
    assert config.office_card.fingerprint == office.fingerprint
    assert config.default_language == "ca"
    assert config.time_zone == "Europe/Madrid"
    if db_backend == "sqlite":
        assert config.database_url.startswith("sqlite:///")
        assert (data_dir / "submit.sqlite3").exists()
    else:
        assert config.database_url.startswith("postgresql+psycopg://")
        assert not (data_dir / "submit.sqlite3").exists()
    assert "SubmitConfig(office_name=" in repr(config)
    assert config.pepper.hex() not in repr(config)


def test_init_refuses_a_wrong_fingerprint_and_a_non_empty_directory(
    tmp_path: Path, office: Office
) -> None:
    other = make_office()
    with pytest.raises(ConfigError, match="fingerprint"):
        init_data_directory(tmp_path / "a", office.card, fingerprint=other.fingerprint)
    assert not (tmp_path / "a").exists()
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "x").write_text("x")
    with pytest.raises(ConfigError, match="not empty"):
        init_data_directory(tmp_path / "b", office.card, fingerprint=office.fingerprint)
    with pytest.raises(ConfigError, match="card"):
        init_data_directory(tmp_path / "c", b"{not a card", fingerprint=office.fingerprint)


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda t: t.replace('default_language = "ca"', 'default_language = "fr"'), "language"),
        (lambda t: t + "\n[[[", "not valid TOML"),
        (lambda t: t.replace("max_files = 20", "max_files = 0"), "max_files"),
        (lambda t: t.replace("max_files = 20", 'max_files = "20"'), "max_files"),
        (lambda t: t.replace("max_files = 20", "max_files = 20\nbogus = 1"), "bogus"),
        (lambda t: t.replace('office_fingerprint = "', 'office_fingerprint = "X'), "fingerprint"),
        (lambda t: t.replace("cookie_secure = false", "cookie_secure = 1"), "cookie_secure"),
        (lambda t: t.replace('"Europe/Madrid"', '"Mars/Olympus"'), "time_zone"),
        (lambda t: t.replace('"Europe/Madrid"', '"../../etc/passwd"'), "time_zone"),
        (
            lambda t: t.replace("discard_cap_bytes = 1073741824", "discard_cap_bytes = 10"),
            "discard_cap",
        ),
    ],
)
def test_bad_config_is_one_clear_error(data_dir: Path, edit, message: str) -> None:  # type: ignore[no-untyped-def]
    path = data_dir / "config.toml"
    path.write_text(edit(path.read_text()))
    with pytest.raises(ConfigError, match=message):
        load_config(data_dir)


def test_bad_secrets(data_dir: Path) -> None:
    (data_dir / "pepper").chmod(0o644)
    with pytest.raises(ConfigError, match="chmod 600"):
        load_config(data_dir)
    (data_dir / "pepper").chmod(0o600)
    (data_dir / "install-salt").write_bytes(b"short")
    with pytest.raises(ConfigError, match="32 bytes"):
        load_config(data_dir)
    (data_dir / "session.key").unlink()
    with pytest.raises(ConfigError):
        load_config(data_dir)


def test_app_from_directory_fails_with_one_line(tmp_path: Path) -> None:
    with pytest.raises(SystemExit) as raised:
        app_from_directory(tmp_path / "missing")
    message = str(raised.value)
    assert message.startswith("whistle: cannot read")
    assert "\n" not in message


def test_app_from_directory_refuses_an_old_schema(data_dir: Path) -> None:
    from whistle.submit import db

    db.downgrade(load_config(data_dir).database_url, "base")
    with pytest.raises(SystemExit, match="whistle server upgrade"):
        app_from_directory(data_dir)


def test_app_from_directory_gunicorn_style(data_dir: Path) -> None:
    app = app_from_directory(str(data_dir))
    assert app.test_client().get("/").status_code == 200


def test_cli_init_and_upgrade(tmp_path: Path, office: Office) -> None:
    card = tmp_path / "office-card.json"
    card.write_bytes(office.card)
    runner = CliRunner()
    result = runner.invoke(
        main,
        [
            "server",
            "init",
            str(tmp_path / "d"),
            "--office-card",
            str(card),
            "--fingerprint",
            office.fingerprint,
            "--language",
            "es",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "server-card.json" in result.output
    assert load_config(tmp_path / "d").default_language == "es"
    result = runner.invoke(main, ["server", "upgrade", str(tmp_path / "d")])
    assert result.exit_code == 0
    # Without --fingerprint the card's is shown and must be typed back.
    result = runner.invoke(
        main,
        ["server", "init", str(tmp_path / "e"), "--office-card", str(card)],
        input="WRONG\n",
    )
    assert result.exit_code != 0
    assert office.fingerprint in result.output
    result = runner.invoke(
        main,
        ["server", "init", str(tmp_path / "f"), "--office-card", str(card)],
        input=office.fingerprint.lower() + "\n",
    )
    assert result.exit_code == 0, result.output
    # The server's own fingerprint, which the office compares at `inbox trust-server`.
    server_card = read_card((tmp_path / "f" / "server-card.json").read_bytes())
    assert f"Server fingerprint: {server_card.fingerprint}" in result.output


def test_cli_run_refuses_a_bad_directory(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["server", "run", str(tmp_path)])
    assert result.exit_code != 0
    assert "cannot read" in result.output


def test_module_reads_no_environment_and_no_inbox() -> None:
    import whistle.submit

    package = Path(whistle.submit.__file__).parent
    source = "\n".join(p.read_text() for p in package.rglob("*.py"))
    assert "os.environ" not in source
    assert "getenv" not in source
    assert "whistle.inbox" not in source
    assert "import nacl" not in source
    assert "from nacl" not in source
    assert (
        subprocess.run(
            [sys.executable, "-c", "import whistle.submit, whistle.submit.views"], check=False
        ).returncode
        == 0
    )


@pytest.mark.sqlite_only
@pytest.mark.parametrize(
    ("url", "message"),
    [
        (
            "postgresql://whistle@/whistle?host=/nonexistent-socket-dir",
            "whistle: cannot connect to the database (database_url in config.toml): ",
        ),
        (
            "postgresql+psycopg://whistle:secret-password@127.0.0.1:1/whistle",
            "whistle: cannot connect to the database (database_url in config.toml): ",
        ),
        ("mysql://whistle@localhost/whistle", "whistle: config.toml: database_url must be"),
        ("not a url", "whistle: config.toml: database_url is not a database URL"),
    ],
)
def test_a_database_that_cannot_be_reached_is_one_line_at_start_up(
    data_dir: Path, url: str, message: str
) -> None:
    config = data_dir / "config.toml"
    config.write_text(config.read_text().replace('database_url = ""', f'database_url = "{url}"'))
    with pytest.raises(SystemExit) as raised:
        app_from_directory(data_dir)
    line = str(raised.value)
    assert line.startswith(message), line
    assert "\n" not in line
    assert "secret-password" not in line
    result = CliRunner().invoke(main, ["server", "upgrade", str(data_dir)])
    assert result.exit_code != 0
    assert "Traceback" not in result.output
    assert len(result.output.strip().splitlines()) == 1, result.output


def test_init_with_an_unreachable_database_writes_nothing(tmp_path: Path, office: Office) -> None:
    with pytest.raises(ConfigError, match="cannot connect to the database"):
        init_data_directory(
            tmp_path / "d",
            office.card,
            fingerprint=office.fingerprint,
            database_url="postgresql://whistle@/whistle?host=/nonexistent-socket-dir",
        )
    assert not (tmp_path / "d").exists()


def test_postgresql_url_means_psycopg_3() -> None:
    from whistle.submit.config import normalise_database_url

    assert normalise_database_url("postgresql://u@/d?host=/run/postgresql") == (
        "postgresql+psycopg://u@/d?host=%2Frun%2Fpostgresql"
    )
    assert normalise_database_url("") == ""


def test_the_time_zone_comes_from_the_office_card_and_cannot_contradict_it(
    tmp_path: Path,
) -> None:
    from whistle.crypto import (
        Desk,
        generate_box_keypair,
        generate_signing_keypair,
        make_office_card,
    )

    signing = generate_signing_keypair()
    card = make_office_card(
        signing.seed,
        name="Ajuntament de les Palmes",
        bundle_key=generate_box_keypair().public_key,
        desks=[Desk("antifrau", "Desk", generate_box_keypair().public_key)],
        custodian_key=generate_box_keypair().public_key,
        epoch=1,
        created="2026-11-01",
        time_zone="Atlantic/Canary",
    )
    directory = tmp_path / "data"
    init_data_directory(directory, card, fingerprint=read_card(card).fingerprint)
    config_path = directory / "config.toml"
    assert 'time_zone = "Atlantic/Canary"' in config_path.read_text()
    assert load_config(directory).time_zone == "Atlantic/Canary"
    config_path.write_text(config_path.read_text().replace("Atlantic/Canary", "Europe/Madrid"))
    with pytest.raises(ConfigError, match="office card says Atlantic/Canary"):
        load_config(directory)
    # Left out of config.toml: the card's zone, not UTC.
    text = "\n".join(
        line for line in config_path.read_text().splitlines() if not line.startswith("time_zone")
    )
    config_path.write_text(text + "\n")
    assert load_config(directory).time_zone == "Atlantic/Canary"


def test_no_time_zone_anywhere_is_refused(data_dir: Path) -> None:
    path = data_dir / "config.toml"
    lines = path.read_text().splitlines()
    text = "\n".join(line for line in lines if not line.startswith("time_zone"))
    path.write_text(text + "\n")
    with pytest.raises(ConfigError, match="set time_zone"):
        load_config(data_dir)
