"""Builds the browser crypto bundle as part of the Python package build.

Everything else about the package is in pyproject.toml. A wheel or sdist built
from a checkout runs ``npm ci`` (when node_modules is missing) and
``node js/build.mjs`` when the bundle's manifest is missing, so the package
ships whistle/submit/static/build/ (an sdist carries the built bundle, so a
wheel built from it needs no node). Editable installs skip it: ``make build``
builds in place (docs/browser-crypto.md).
"""

import shutil
import subprocess
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py
from setuptools.command.sdist import sdist

ROOT = Path(__file__).resolve().parent
MANIFEST = ROOT / "whistle" / "submit" / "static" / "build" / "manifest.json"


def build_browser_bundle() -> None:
    if not (ROOT / "js" / "build.mjs").exists():
        return  # building from an sdist that already carries the bundle
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        raise SystemExit("building whistle needs node and npm for the browser bundle")
    if not (ROOT / "node_modules" / ".package-lock.json").exists():
        subprocess.run([npm, "ci", "--no-audit", "--no-fund"], cwd=ROOT, check=True)
    subprocess.run([node, "js/build.mjs"], cwd=ROOT, check=True)


class BuildPyWithBundle(build_py):
    def run(self) -> None:
        if not getattr(self, "editable_mode", False) and not MANIFEST.exists():
            build_browser_bundle()
        super().run()


class SdistWithBundle(sdist):
    """An sdist carries the built bundle, so a wheel built from it needs no node."""

    def run(self) -> None:
        if not MANIFEST.exists():
            build_browser_bundle()
        super().run()


setup(cmdclass={"build_py": BuildPyWithBundle, "sdist": SdistWithBundle})
