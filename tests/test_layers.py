"""The layer contracts (pyproject [tool.importlinter]) are live, and modules keep their size."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from tests.support import ROOT

LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")
MAX_MODULE_LINES = 400
# Declarative tables and generated migrations are long by nature.
SIZE_EXEMPT = ("hub/store/schema.py", "hub/store/migrations/")


def _copy_project(dest: Path) -> Path:
    root = dest / "project"
    for name in ("hub", "connectors"):
        shutil.copytree(ROOT / name, root / name, ignore=shutil.ignore_patterns("models"))
    shutil.copy(ROOT / "pyproject.toml", root / "pyproject.toml")
    return root


def _lint_imports(root: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache"],
        cwd=root,
        env={"PYTHONPATH": str(root), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_the_layer_contracts_hold_and_an_upward_import_breaks_them(tmp_path: Path) -> None:
    root = _copy_project(tmp_path)
    kept = _lint_imports(root)
    assert kept.returncode == 0, kept.stdout + kept.stderr

    # The store, a low layer, reaching up into the web layer must fail the contract.
    engine = root / "hub" / "store" / "engine.py"
    engine.write_text(engine.read_text() + "\nimport hub.web.server  # noqa\n")
    broken = _lint_imports(root)
    assert broken.returncode != 0
    assert "hub.store is not allowed to import hub.web" in broken.stdout


def test_a_connector_reaching_past_the_seam_breaks_the_contract(tmp_path: Path) -> None:
    root = _copy_project(tmp_path)
    module = root / "connectors" / "webform" / "__init__.py"
    module.write_text(module.read_text() + "\nimport hub.store  # noqa\n")
    broken = _lint_imports(root)
    assert broken.returncode != 0
    assert "connectors.webform" in broken.stdout and "hub.store" in broken.stdout


def test_no_module_passes_the_size_limit() -> None:
    over = [
        f"{path.relative_to(ROOT)}: {lines} lines"
        for base in ("hub", "connectors")
        for path in sorted((ROOT / base).rglob("*.py"))
        if not str(path.relative_to(ROOT)).startswith(SIZE_EXEMPT)
        and (lines := len(path.read_text(encoding="utf-8").splitlines())) > MAX_MODULE_LINES
    ]
    assert over == []


def test_the_top_of_hub_stays_small() -> None:
    # Domain code lives in the packages; only the entry points and the public seam sit here.
    modules = sorted(p.name for p in (ROOT / "hub").glob("*.py"))
    assert len(modules) <= 15, modules
