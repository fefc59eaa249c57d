"""The core knows no connector; connectors use only the core's seams."""

from __future__ import annotations

import ast
from pathlib import Path

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
