"""The core knows no connector; connectors use only the core's seams."""

from __future__ import annotations

import ast
import importlib
import tomllib
from pathlib import Path

from hub.connector import ConnectorType
from tests.support import ROOT

ALLOWED_CORE_FOR_CONNECTORS = {"hub.connector", "hub.messages"}


def _imports(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    names: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.extend(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.append(node.module)
    return names


def test_nothing_under_hub_imports_connectors() -> None:
    offenders = [
        f"{p.relative_to(ROOT)} imports {name}"
        for p in sorted((ROOT / "hub").rglob("*.py"))
        for name in _imports(p)
        if name == "connectors" or name.startswith("connectors.")
    ]
    assert offenders == []


def test_connectors_import_only_the_core_seams() -> None:
    offenders = [
        f"{p.relative_to(ROOT)} imports {name}"
        for p in sorted((ROOT / "connectors").rglob("*.py"))
        for name in _imports(p)
        if (name == "hub" or name.startswith("hub.")) and name not in ALLOWED_CORE_FOR_CONNECTORS
    ]
    assert offenders == []


def test_the_check_sees_imports() -> None:
    # Guards the guard: the walker must find a real import in a known file.
    assert "hub.connector" in _imports(ROOT / "connectors" / "webform" / "connector.py")


# Every connector package has the same file roles: __init__.py names its types (each in
# capitals, all in CONNECTOR_TYPES), settings.py holds their config models, and errors.py
# maps the channel library's exceptions onto the outcomes the core understands.
ROLE_FILES = ("__init__.py", "settings.py", "errors.py")


def _connector_packages() -> list[Path]:
    return sorted(p.parent for p in (ROOT / "connectors").glob("*/__init__.py"))


def _role_problems(package: Path) -> list[str]:
    problems = [f"{package.name}: no {f}" for f in ROLE_FILES if not (package / f).is_file()]
    init = package / "__init__.py"
    if init.is_file():
        tree = ast.parse(init.read_text(encoding="utf-8"), str(init))
        assigned = {
            t.id
            for node in tree.body
            if isinstance(node, ast.Assign)
            for t in node.targets
            if isinstance(t, ast.Name)
        }
        if "CONNECTOR_TYPES" not in assigned:
            problems.append(f"{package.name}: __init__.py defines no CONNECTOR_TYPES")
    return problems


def test_every_connector_package_has_the_file_roles() -> None:
    packages = _connector_packages()
    assert {p.name for p in packages} >= {"email", "meta", "notify", "telegram", "webchat"}
    assert [problem for p in packages for problem in _role_problems(p)] == []


def test_the_role_check_sees_a_missing_role(tmp_path: Path) -> None:
    # Guards the guard: a package without errors.py, and one without CONNECTOR_TYPES.
    lacking = tmp_path / "lacking"
    lacking.mkdir()
    (lacking / "__init__.py").write_text("CONNECTOR_TYPES = ()\n")
    (lacking / "settings.py").write_text("")
    assert _role_problems(lacking) == ["lacking: no errors.py"]
    (lacking / "__init__.py").write_text("CONNECTOR_TYPE = None\n")
    (lacking / "errors.py").write_text("")
    assert _role_problems(lacking) == ["lacking: __init__.py defines no CONNECTOR_TYPES"]


def test_connector_types_are_exported_by_one_convention() -> None:
    declared = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    entry_points = declared["project"]["entry-points"]["hub.connectors"]
    expected: dict[str, str] = {}
    for package in _connector_packages():
        module = importlib.import_module(f"connectors.{package.name}")
        types = module.CONNECTOR_TYPES
        assert isinstance(types, tuple) and types, package.name
        for ctype in types:
            assert isinstance(ctype, ConnectorType)
            constant = ctype.name.upper()
            assert getattr(module, constant) is ctype, f"{package.name}.{constant}"
            assert ctype.config_model.__module__ == f"connectors.{package.name}.settings"
            expected[ctype.name] = f"connectors.{package.name}:{constant}"
    assert entry_points == expected
