"""The rules of docs/architecture.md, read from the imports of every module in ``whistle/``."""

import ast
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "whistle"


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_module_name(path): path for path in sorted(PACKAGE.rglob("*.py"))}


def _imported(node: ast.Import | ast.ImportFrom) -> list[str]:
    """The modules an import statement names (``from a import b``: ``a.b`` when it is one)."""
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    if node.level or node.module is None:
        raise AssertionError(f"relative import of {node.module}: the rules below assume none")
    found = [f"{node.module}.{a.name}" for a in node.names if f"{node.module}.{a.name}" in MODULES]
    return found or [node.module]


def _all_imports(path: Path) -> list[str]:
    """Every import in the file, inside functions too."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return [
        name
        for node in ast.walk(tree)
        if isinstance(node, ast.Import | ast.ImportFrom)
        for name in _imported(node)
    ]


def _load_time_imports(path: Path) -> list[str]:
    """The imports run when the module loads: not inside functions, not for type checkers."""
    found: list[str] = []

    def visit(body: list[ast.stmt]) -> None:
        for node in body:
            if isinstance(node, ast.Import | ast.ImportFrom):
                found.extend(_imported(node))
            elif isinstance(node, ast.If) and "TYPE_CHECKING" not in ast.unparse(node.test):
                visit(node.body)
                visit(node.orelse)
            elif isinstance(node, ast.Try):
                visit(node.body)
                for handler in node.handlers:
                    visit(handler.body)
                visit(node.orelse)
                visit(node.finalbody)

    visit(ast.parse(path.read_text(encoding="utf-8")).body)
    return found


def _within(name: str, package: str) -> bool:
    return name == package or name.startswith(package + ".")


def test_only_the_crypto_package_imports_nacl() -> None:
    offenders = [
        f"{module} imports {name}"
        for module, path in MODULES.items()
        if not _within(module, "whistle.crypto")
        for name in _all_imports(path)
        if _within(name, "nacl")
    ]
    assert offenders == []


def test_the_crypto_package_imports_only_nacl_the_standard_library_and_whistle_errors() -> None:
    offenders = [
        f"{module} imports {name}"
        for module, path in MODULES.items()
        if _within(module, "whistle.crypto")
        for name in _all_imports(path)
        if not (
            name.split(".")[0] in sys.stdlib_module_names
            or _within(name, "nacl")
            or _within(name, "whistle.crypto")
            or name == "whistle.errors"
        )
    ]
    assert offenders == []


@pytest.mark.parametrize(("app", "other"), [("submit", "inbox"), ("inbox", "submit")])
def test_the_two_apps_never_import_each_other(app: str, other: str) -> None:
    offenders = [
        f"{module} imports {name}"
        for module, path in MODULES.items()
        if _within(module, f"whistle.{app}")
        for name in _all_imports(path)
        if _within(name, f"whistle.{other}")
    ]
    assert offenders == []


@pytest.mark.parametrize("app", ["submit", "inbox"])
def test_nothing_in_an_app_imports_its_app_module_but_the_package(app: str) -> None:
    """``app.py`` imports the views; they take what they need from ``web.py``: no loop, not even
    a deferred one."""
    offenders = [
        module
        for module, path in MODULES.items()
        if _within(module, f"whistle.{app}") and module != f"whistle.{app}"
        for name in _all_imports(path)
        if name == f"whistle.{app}.app"
    ]
    assert offenders == []


def test_no_import_cycle_when_modules_load() -> None:
    graph = {
        module: {name for name in _load_time_imports(path) if name in MODULES} - {module}
        for module, path in MODULES.items()
    }
    cycles: list[list[str]] = []
    state: dict[str, str] = {}
    stack: list[str] = []

    def visit(module: str) -> None:
        state[module] = "open"
        stack.append(module)
        for name in sorted(graph[module]):
            if state.get(name) == "open":
                cycles.append([*stack[stack.index(name) :], name])
            elif name not in state:
                visit(name)
        stack.pop()
        state[module] = "done"

    for module in sorted(graph):
        if module not in state:
            visit(module)
    assert cycles == []


def test_the_rules_see_the_modules_they_are_about() -> None:
    """A guard against a rule passing because it looks at nothing."""
    assert "whistle.crypto.envelope" in MODULES
    assert "whistle.submit.views.plain" in MODULES
    assert "whistle.inbox.views.cases" in MODULES
    assert any(_within(name, "nacl") for name in _all_imports(MODULES["whistle.crypto.envelope"]))
    assert "whistle.submit.web" in _load_time_imports(MODULES["whistle.submit.views.common"])
