"""The release as an office installs it: a wheelhouse built from the checkout, a fresh venv
installed from it with --no-index, and the site and the inbox run from that venv (not from the
checkout), answering in Catalan, Spanish and English, through a short report-to-inbox flow."""

import hashlib
import json
import os
import re
import shutil
import signal
import stat
import subprocess
import sys
import time
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.deploy.tor_network import free_port
from tests.deploy.torrc import REPO
from tests.install.conftest import Installed, checkout_copy, run
from tests.submit.conftest import CODE, CSRF

LANGUAGES = ("ca", "es", "en")
#: How long the demo may take to set up an office and start both servers (~3 s here).
START_DEADLINE = 90.0
#: How long the demo's inbox may take to collect a report (it syncs every 3 s).
SYNC_DEADLINE = 60.0
TITLE = re.compile(r"<title>([^<]+)</title>")


def test_the_wheel_carries_catalogs_bundle_questionnaire_and_deployment_files(
    installed: Installed,
) -> None:
    (wheel,) = installed.wheelhouse.glob("whistle_office-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for app in ("submit", "inbox"):
        for lang in LANGUAGES:
            assert f"whistle/{app}/translations/{lang}/LC_MESSAGES/messages.mo" in names
    assert "whistle/submit/static/build/manifest.json" in names
    assert "whistle/submit/questionnaire.toml" in names
    for name in (
        "gunicorn.conf.py",
        "torrc.example",
        "whistle-submit.service",
        "whistle-courier.service",
        "whistle-housekeeping.service",
        "whistle-housekeeping.timer",
    ):
        assert f"whistle/deploy/{name}" in names


def test_the_wheelhouse_checks_and_names_the_served_scripts(installed: Installed) -> None:
    sums = (installed.wheelhouse / "SHA256SUMS").read_text().splitlines()
    listed = {line.split("  ", 1)[1] for line in sums}
    assert listed == {
        path.name for path in installed.wheelhouse.iterdir() if path.name != "SHA256SUMS"
    }
    (wheel,) = installed.wheelhouse.glob("whistle_office-*.whl")
    build = "whistle/submit/static/build/"
    with zipfile.ZipFile(wheel) as archive:
        manifest = json.loads(archive.read(build + "manifest.json"))
        served = {
            name: hashlib.sha256(archive.read(build + name)).hexdigest()
            for name in (manifest[role]["file"] for role in ("page", "wasm", "fallback"))
        }
    published = (installed.wheelhouse / "crypto-bundle.sha256").read_text().splitlines()
    assert published == [f"{digest}  {name}" for name, digest in served.items()]


def test_the_installed_package_is_not_the_checkout(installed: Installed, tmp_path: Path) -> None:
    where = subprocess.run(
        [installed.bin("python"), "-c", "import whistle; print(whistle.__file__)"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert Path(where).is_relative_to(installed.venv)
    linked = installed.venv.parent / "bin" / "whistle"
    assert linked.readlink() == installed.venv / "bin" / "whistle"
    version = subprocess.run([linked, "--version"], capture_output=True, text=True, check=True)
    assert version.stdout.startswith("whistle, version ")


@dataclass
class Demo:
    submit: str
    inbox: str
    password: str
    process: subprocess.Popen[bytes]


@pytest.fixture
def demo(installed: Installed, tmp_path: Path) -> Iterator[Demo]:
    """`whistle demo` from the installed venv, started outside the checkout."""
    taken: set[int] = set()
    submit_port, inbox_port = free_port(taken), free_port(taken)
    log = tmp_path / "demo.log"
    env = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    with log.open("wb") as out:
        process = subprocess.Popen(
            [
                *(installed.bin("whistle"), "demo", "--data", str(tmp_path / "data")),
                *("--submit-port", str(submit_port), "--inbox-port", str(inbox_port)),
            ],
            cwd=tmp_path,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + START_DEADLINE
        password = None
        while password is None:
            assert process.poll() is None, log.read_text()
            assert time.monotonic() < deadline, log.read_text()
            found = re.search(r"Password:\s+(\S+)", log.read_text())
            password = found.group(1) if found else None
            time.sleep(0.2)
        yield Demo(
            f"http://127.0.0.1:{submit_port}", f"http://127.0.0.1:{inbox_port}", password, process
        )
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=60)


def test_demo_serves_both_apps_in_three_languages_with_the_packaged_gunicorn_config(
    demo: Demo,
) -> None:
    titles = {}
    for lang in LANGUAGES:
        with httpx.Client(base_url=demo.submit, follow_redirects=True, timeout=30) as site:
            page = site.get(f"/language/{lang}")
            assert page.status_code == 200
            assert f'<html lang="{lang}"' in page.text
            assert "server" not in page.headers
            titles["submit", lang] = TITLE.search(page.text).group(1)  # type: ignore[union-attr]
        login = httpx.get(f"{demo.inbox}/login", headers={"Accept-Language": lang}, timeout=30)
        assert login.status_code == 200
        assert f'<html lang="{lang}"' in login.text
        titles["inbox", lang] = TITLE.search(login.text).group(1)  # type: ignore[union-attr]
    # A missing catalog falls back to English: three different titles mean three catalogs.
    for app in ("submit", "inbox"):
        assert len({titles[app, lang] for lang in LANGUAGES}) == 3, titles
    # The site runs under gunicorn with the config file of the installed package (nothing else
    # removes the Server header, checked above), its processes named in ps (setproctitle).
    ps = subprocess.run(["ps", "-ewwo", "args"], capture_output=True, text=True, check=True)
    assert "gunicorn: master [whistle-demo-submit]" in ps.stdout


def test_a_report_reaches_the_installed_inbox_and_the_source_checks_in(demo: Demo) -> None:
    with httpx.Client(base_url=demo.submit, follow_redirects=True, timeout=30) as source:
        source.get("/language/es")
        form = source.get("/report/antifraud")  # the demo office has two desks
        csrf = CSRF.search(form.text).group(1)  # type: ignore[union-attr]
        receipt = source.post(
            "/report/antifraud",
            data={
                "csrf_token": csrf,
                "q_subject": "Contratos partidos",
                "q_description": "Un contrato se partió en tres para evitar el concurso.",
                "accept": "yes",
            },
            files={"files": ("", b"", "application/octet-stream")},
        )
        assert receipt.status_code == 200, receipt.text
        code = CODE.search(receipt.text).group(1)  # type: ignore[union-attr]

    with httpx.Client(base_url=demo.inbox, timeout=30) as officer:
        signed_in = officer.post("/login", data={"name": "demo", "password": demo.password})
        assert signed_in.status_code == 303
        deadline = time.monotonic() + SYNC_DEADLINE
        while "Contratos partidos" not in (cases := officer.get("/cases")).text:
            assert time.monotonic() < deadline, cases.text
            time.sleep(1)

    with httpx.Client(base_url=demo.submit, follow_redirects=True, timeout=30) as source:
        page = source.get("/check-in")
        csrf = CSRF.search(page.text).group(1)  # type: ignore[union-attr]
        case = source.post("/check-in", data={"csrf_token": csrf, "code": code})
        # The demo's inbox acknowledges what it imported, so the server has deleted the text:
        # the source's code still opens the case, to read replies and follow up.
        assert case.status_code == 200
        assert "<h1>Your report</h1>" in case.text
        assert 'action="/follow-up"' in case.text


def test_two_builds_of_one_tree_give_the_same_wheel(installed: Installed, tmp_path: Path) -> None:
    """The release is reproducible: another build, from a copy at another path, gives the same
    whistle_office wheel bytes (SOURCE_DATE_EPOCH is the commit time, as in release.sh)."""
    source = tmp_path / "elsewhere" / "source"
    checkout_copy(source)
    epoch = subprocess.run(
        ["git", "log", "-1", "--format=%ct", "HEAD"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    out = tmp_path / "again"
    run(
        [
            *(str(Path(sys.executable).parent / "pip"), "wheel", "--quiet", "--no-deps"),
            *("--wheel-dir", str(out), str(source)),
        ],
        cwd=tmp_path,
        SOURCE_DATE_EPOCH=epoch,
    )
    (first,) = installed.wheelhouse.glob("whistle_office-*.whl")
    (second,) = out.glob("whistle_office-*.whl")
    assert second.read_bytes() == first.read_bytes()


def test_the_installed_inbox_run_serves_three_languages(
    demo: Demo, installed: Installed, tmp_path: Path
) -> None:
    """`whistle inbox run` from the install (gunicorn), on the demo's office."""
    port = free_port(set())
    log = tmp_path / "inbox-run.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [
                *(installed.bin("whistle"), "inbox", "run", str(tmp_path / "data" / "inbox")),
                *("--port", str(port)),
            ],
            cwd=tmp_path,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    titles = set()
    try:
        deadline = time.monotonic() + START_DEADLINE
        for lang in LANGUAGES:
            while True:
                assert process.poll() is None, log.read_text()
                try:
                    page = httpx.get(
                        f"http://127.0.0.1:{port}/login",
                        headers={"Accept-Language": lang},
                        timeout=30,
                    )
                    break
                except httpx.TransportError:
                    assert time.monotonic() < deadline, log.read_text()
                    time.sleep(0.2)
            assert f'<html lang="{lang}"' in page.text
            assert "server" not in page.headers
            titles.add(TITLE.search(page.text).group(1))  # type: ignore[union-attr]
    finally:
        process.terminate()
        process.wait(timeout=30)
    assert len(titles) == 3
    assert "/login" not in log.read_text()  # no request log


def test_the_documented_path_with_the_installed_command(
    installed: Installed, tmp_path: Path
) -> None:
    """deployment.md, Part 1, steps 2 to 5, with the installed `whistle` (the server in a fresh
    root directory): office init, server setup, trust-server, status."""
    whistle = str(installed.venv.parent / "bin" / "whistle")  # what install.sh linked
    password = tmp_path / "password"
    password.write_text("a long passphrase for the first officer\n")
    card = tmp_path / "usb" / "office-card.json"
    card.parent.mkdir()
    office = subprocess.run(
        [
            *(whistle, "office", "init", str(tmp_path / "inbox"), "--name", "Oficina Antifrau"),
            *("--desk", "antifraud=Anti-fraud office", "--officer", "ana"),
            *("--password-file", str(password), "--card-out", str(card)),
            *("--time-zone", "Europe/Madrid"),
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    fingerprint = re.search(r"Office fingerprint: (.+)", office).group(1)  # type: ignore[union-attr]

    root = tmp_path / "server"
    (root / "etc").mkdir(parents=True)
    for name in ("passwd", "group", "shadow", "gshadow", "os-release"):
        shutil.copy2(f"/etc/{name}", root / "etc" / name)
    setup = subprocess.run(
        [whistle, "server", "setup", "--root", str(root), "--office-card", str(card)],
        input=fingerprint + "\n",
        capture_output=True,
        text=True,
        check=False,
    )
    assert setup.returncode == 0, setup.stdout + setup.stderr
    server_fingerprint = re.search(r"Server fingerprint: (.+)", setup.stdout).group(1)  # type: ignore[union-attr]
    unit = (root / "etc/systemd/system/whistle-submit.service").read_text()
    assert f"ExecStart={installed.venv}/bin/gunicorn " in unit

    trust = subprocess.run(
        [
            *(whistle, "inbox", "trust-server", str(tmp_path / "inbox")),
            str(root / "var/lib/whistle/server-card.json"),
        ],
        input="y\n",
        capture_output=True,
        text=True,
        check=False,
    )
    assert trust.returncode == 0, trust.stdout + trust.stderr
    assert server_fingerprint in trust.stdout

    status = subprocess.run(
        [whistle, "server", "status", str(root / "var/lib/whistle")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert status.returncode == 0, status.stdout + status.stderr
    assert "Submissions waiting for collection: 0" in status.stdout


def refused_install(wheelhouse: Path, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    """install.sh run on ``wheelhouse``: it fails and leaves neither a venv nor a link."""
    venv, link = tmp_path / "venv", tmp_path / "bin" / "whistle"
    result = subprocess.run(
        ["sh", str(wheelhouse / "install.sh")],
        env={**os.environ, "WHISTLE_VENV": str(venv), "WHISTLE_LINK": str(link)},
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode != 0
    assert not venv.exists()
    assert not link.exists()
    return result


def test_install_sh_refuses_a_tampered_wheelhouse_and_installs_nothing(
    installed: Installed, tmp_path: Path
) -> None:
    wheelhouse = tmp_path / "wheelhouse"
    shutil.copytree(installed.wheelhouse, wheelhouse)
    (wheel,) = wheelhouse.glob("whistle_office-*.whl")
    data = bytearray(wheel.read_bytes())
    data[len(data) // 2] ^= 1
    wheel.write_bytes(bytes(data))
    result = refused_install(wheelhouse, tmp_path)
    assert f"{wheel.name}: FAILED" in result.stdout


def test_install_sh_refuses_a_wheel_not_listed_in_sha256sums(
    installed: Installed, tmp_path: Path
) -> None:
    """pip takes every archive in the directory: `sha256sum -c` checks only the listed ones, so
    a newer version of a dependency added to the stick would be installed without a word."""
    wheelhouse = tmp_path / "wheelhouse"
    shutil.copytree(installed.wheelhouse, wheelhouse)
    (real,) = wheelhouse.glob("click-*.whl")
    planted = wheelhouse / "click-99.0.0-py3-none-any.whl"
    shutil.copy(real, planted)
    result = refused_install(wheelhouse, tmp_path)
    assert f"{planted.name} is not listed in SHA256SUMS" in result.stderr


def test_install_sh_under_a_strict_root_umask_leaves_the_venv_usable_by_the_service(
    installed: Installed, tmp_path: Path
) -> None:
    """A hardened root umask (077) must not make /opt/whistle/venv root's alone: the site runs
    from it as the whistle user."""
    venv = tmp_path / "venv"
    subprocess.run(
        ["sh", "-c", 'umask 077 && exec sh "$0"', str(installed.wheelhouse / "install.sh")],
        env={**os.environ, "WHISTLE_VENV": str(venv), "WHISTLE_LINK": ""},
        capture_output=True,
        check=True,
    )
    for path in (venv, venv / "bin", venv / "bin" / "whistle", *venv.glob("lib/python*")):
        assert stat.S_IMODE(path.stat().st_mode) & 0o005 == 0o005, path
    (package,) = venv.glob("lib/python*/site-packages/whistle/__init__.py")
    assert stat.S_IMODE(package.stat().st_mode) & 0o004, package
