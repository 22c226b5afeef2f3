"""The release wheelhouse built from this checkout (scripts/release.sh, as `make release`), and a
fresh venv installed from it offline by its install.sh, once per test session (under xdist, the
first worker builds them; the others wait and reuse them).

The build runs on a copy of the checkout's files (what git tracks, plus the browser bundle
`make build` made, so no npm registry is needed): never the compiled catalogs, so the package
build itself must compile them.
"""

import fcntl
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.deploy.torrc import REPO

#: How long building the wheelhouse and installing from it may take (about 40 s here).
INSTALL_DEADLINE = 600


@dataclass(frozen=True)
class Installed:
    wheelhouse: Path
    venv: Path

    def bin(self, name: str) -> str:
        return str(self.venv / "bin" / name)


def checkout_copy(target: Path) -> None:
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=REPO,
        capture_output=True,
        check=True,
    ).stdout
    for name in filter(None, listed.decode().split("\0")):
        source = REPO / name
        if source.is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / name)
    bundle = Path("whistle/submit/static/build")
    shutil.copytree(REPO / bundle, target / bundle)


def run(command: list[str], cwd: Path, **env: str) -> str:
    result = subprocess.run(
        command,
        cwd=cwd,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=INSTALL_DEADLINE,
        check=False,
    )
    assert result.returncode == 0, f"{command}:\n{result.stdout[-3000:]}{result.stderr[-3000:]}"
    return result.stdout


def build_and_install(root: Path) -> Installed:
    source, wheelhouse, venv = root / "source", root / "wheelhouse", root / "venv"
    checkout_copy(source)
    assert not list(source.rglob("*.mo"))
    pip = str(Path(sys.executable).parent / "pip")
    run(["scripts/release.sh"], cwd=REPO, SRC=str(source), OUT=str(wheelhouse), PIP=pip)
    shutil.rmtree(source)  # nothing can be imported from the copy by accident
    # As docs/deployment.md says, with nothing but the wheelhouse (and no network: --no-index).
    run(["sha256sum", "-c", "SHA256SUMS"], cwd=wheelhouse)
    run(
        ["sh", "install.sh"],
        cwd=wheelhouse,
        WHISTLE_VENV=str(venv),
        WHISTLE_LINK=str(root / "bin" / "whistle"),
    )
    return Installed(wheelhouse, venv)


@contextmanager
def locked(path: Path) -> Iterator[None]:
    with path.open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


@pytest.fixture(scope="session")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Installed:
    base = tmp_path_factory.getbasetemp()
    shared = base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base  # one per session
    root = shared / "offline-install"
    with locked(shared / "offline-install.lock"):
        done = root / "done"
        if not done.exists():
            shutil.rmtree(root, ignore_errors=True)
            root.mkdir()
            build_and_install(root)
            done.touch()
    return Installed(root / "wheelhouse", root / "venv")
