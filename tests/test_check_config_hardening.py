"""check-config on hostile or broken files: a file that is not UTF-8 is named, every schema
and cross-reference error is reported in one run, an alias bomb is refused at once."""

from __future__ import annotations

import resource
import subprocess
import sys
from pathlib import Path

import pytest

from hub.config.loader import ConfigError, parse_config
from tests.support import REGISTRY, ROOT
from tests.test_config import GOOD, _line_of, _replace


def _check_config(
    target: Path, memory_limit: int | None = None
) -> subprocess.CompletedProcess[str]:
    def limit() -> None:
        if memory_limit is not None:
            resource.setrlimit(resource.RLIMIT_AS, (memory_limit, memory_limit))

    return subprocess.run(
        [sys.executable, "-m", "hub", "check-config", str(target)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
        preexec_fn=limit,
    )


def test_a_latin1_file_is_an_error_naming_the_file(tmp_path: Path) -> None:
    target = tmp_path / "hub.yaml"
    text = _replace("signature: The test team", "signature: Ça va, l'équipe")
    target.write_bytes(text.encode("latin-1"))
    proc = _check_config(target)
    assert proc.returncode == 2, proc.stderr
    line = _line_of(text, "signature:")
    assert f"{target}:{line}: (top level): not UTF-8 text (byte 0xc7" in proc.stderr
    assert "save the file as UTF-8" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_schema_and_cross_reference_errors_in_one_run() -> None:
    text = _replace("  port: 0\n", "  port: 99999\n")  # schema: out of range
    text = text.replace("fallback_team: support", "fallback_team: nobody", 1)  # cross-reference
    text = text.replace("  timezone: Asia/Dhaka\n", "  timezone: Mars/Base\n", 1)  # schema
    text = text.replace("  reply_via: mail\n", "  reply_via: fax\n", 1)  # cross-reference
    with pytest.raises(ConfigError) as info:
        parse_config(text, "hub.yaml", REGISTRY, env={})
    rendered = [str(i) for i in info.value.issues]
    expected = [
        (_line_of(text, "port: 99999"), "web.port", "less than or equal to 65535"),
        (_line_of(text, "timezone: Mars"), "hub.timezone", "unknown IANA time zone"),
        (_line_of(text, "fallback_team:"), "routing.fallback_team", "no team 'nobody'"),
        (_line_of(text, "reply_via: fax"), "connectors[0].reply_via", "'fax' is not the id"),
    ]
    for line, path, words in expected:
        assert any(r.startswith(f"hub.yaml:{line}: {path}: ") and words in r for r in rendered), (
            path,
            rendered,
        )
    # A check that reads an invalid section is not run: no false "no team" for a rule.
    assert len(rendered) == len(expected), rendered


def test_cross_checks_on_an_invalid_section_are_skipped() -> None:
    # teams is invalid: whether the routing's teams exist cannot be told, so nothing is said
    # about them, while the web section's error is still reported.
    text = _replace("- id: billing\n", "- id: Billing!\n")
    text = text.replace("  port: 0\n", "  port: -1\n", 1)
    with pytest.raises(ConfigError) as info:
        parse_config(text, "hub.yaml", REGISTRY, env={})
    paths = sorted(str(i).split(": ")[1] for i in info.value.issues)
    assert paths == ["teams[1].id", "web.port"], paths


def _alias_bomb(levels: int = 6, width: int = 10) -> str:
    lines = ["a0: &a0 [" + ", ".join(["x"] * width) + "]"]
    for level in range(1, levels):
        lines.append(f"a{level}: &a{level} [" + ", ".join([f"*a{level - 1}"] * width) + "]")
    return "\n".join(lines) + "\n"


def test_an_alias_bomb_is_refused_at_once(tmp_path: Path) -> None:
    target = tmp_path / "hub.yaml"
    target.write_text(GOOD + _alias_bomb())  # 10**6 values once its aliases are followed
    # The whole check-config process in 512 MiB of address space: following the aliases
    # took 2.5 GB (and 23 s) before it was refused.
    proc = _check_config(target, memory_limit=512 * 1024 * 1024)
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr and "MemoryError" not in proc.stderr
    assert f"{target}:1: (top level): the file expands to more than 100000 values" in proc.stderr


def test_an_alias_to_its_own_container_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        parse_config(GOOD + "loop: &loop [1, *loop]\n", "hub.yaml", REGISTRY, env={})
    assert "a YAML alias refers to a node that contains it" in str(info.value)
