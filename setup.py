"""Builds what git does not keep as part of the Python package build: the release build.

Everything else about the package is in pyproject.toml. A wheel or sdist built from a clean
checkout:

- compiles every translation catalog (``*.po`` → ``*.mo``, with Babel, a build requirement),
  so an installed site and inbox speak Catalan, Spanish and English;
- runs ``npm ci`` (when node_modules is missing) and ``node js/build.mjs`` when the browser
  bundle's manifest is missing, so the package ships whistle/submit/static/build/.

An sdist carries both results, so a wheel built from it needs neither node nor the npm
registry. Editable installs compile the catalogs too; ``make build`` does the same in place
(docs/browser-crypto.md).
"""

import io
import shutil
import subprocess
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py
from setuptools.command.sdist import sdist

ROOT = Path(__file__).resolve().parent
MANIFEST = ROOT / "whistle" / "submit" / "static" / "build" / "manifest.json"
CATALOGS = "*/translations/*/LC_MESSAGES/messages.po"


def build_browser_bundle() -> None:
    if not (ROOT / "js" / "build.mjs").exists():
        return  # building from an sdist that already carries the bundle
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        raise SystemExit("building whistle needs node and npm for the browser bundle")
    if not (ROOT / "node_modules" / ".package-lock.json").exists():
        subprocess.run([npm, "ci", "--no-audit", "--no-fund"], cwd=ROOT, check=True)
    subprocess.run([node, "js/build.mjs"], cwd=ROOT, check=True)


def compile_catalogs() -> None:
    """Every ``messages.po`` to its ``messages.mo``, as ``pybabel compile`` does (no fuzzy).

    A catalog whose compiled bytes did not change is not rewritten (stable mtimes).
    """
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po

    for po in sorted((ROOT / "whistle").glob(CATALOGS)):
        with po.open("rb") as source:
            catalog = read_po(source, locale=po.parent.parent.name)
        compiled = io.BytesIO()
        write_mo(compiled, catalog, use_fuzzy=False)
        mo = po.with_suffix(".mo")
        if not mo.exists() or mo.read_bytes() != compiled.getvalue():
            mo.write_bytes(compiled.getvalue())


class BuildPyWithBundle(build_py):
    def run(self) -> None:
        compile_catalogs()
        if not getattr(self, "editable_mode", False) and not MANIFEST.exists():
            build_browser_bundle()
        super().run()


class SdistWithBundle(sdist):
    """An sdist carries the compiled catalogs and the built bundle: a wheel built from it
    needs no node."""

    def run(self) -> None:
        compile_catalogs()
        if not MANIFEST.exists():
            build_browser_bundle()
        super().run()


setup(cmdclass={"build_py": BuildPyWithBundle, "sdist": SdistWithBundle})
