"""Bad configs are refused with file:line, the key path and what was expected (exit 2)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from hub.config.loader import ConfigError, load_config, parse_config
from tests.support import REGISTRY, ROOT, base_config

GOOD = yaml.safe_dump(base_config("sqlite+aiosqlite:///data/x.db", 2525), sort_keys=False)


def _replace(old: str, new: str) -> str:
    assert old in GOOD, old
    return GOOD.replace(old, new, 1)


def _line_of(text: str, needle: str) -> int:
    for i, line in enumerate(text.splitlines(), 1):
        if needle in line:
            return i
    raise AssertionError(needle)


# (name, config text, text on the line the error must point at, key path, words in the message)
BAD = [
    ("unknown top-level key", GOOD + "colour: blue\n", "colour:", "colour", "unknown key"),
    (
        "unknown connector key",
        _replace("  security: none\n", "  security: none\n  hostname: x\n"),
        "hostname: x",
        "connectors[1].hostname",
        "unknown key",
    ),
    (
        "port not a number",
        _replace("port: 2525", "port: twenty"),
        "port: twenty",
        "connectors[1].port",
        "integer",
    ),
    (
        "unknown connector type",
        _replace("type: smtp", "type: pigeon"),
        "type: pigeon",
        "connectors[1].type",
        "unknown connector type 'pigeon'",
    ),
    (
        "bad time zone",
        _replace("timezone: Asia/Dhaka", "timezone: Mars/Olympus"),
        "timezone: Mars/Olympus",
        "hub.timezone",
        "IANA",
    ),
    (
        "bad phone region",
        _replace("phone_region: BD", "phone_region: XX"),
        "phone_region: XX",
        "hub.phone_region",
        "phone region",
    ),
    (
        "routing to a team that does not exist",
        _replace("team: billing", "team: accounts"),
        "team: accounts",
        "routing.rules[0].set.team",
        "no team 'accounts'",
    ),
    (
        "fallback team missing",
        _replace("fallback_team: support", "fallback_team: nobody"),
        "fallback_team: nobody",
        "routing.fallback_team",
        "no team 'nobody'",
    ),
    (
        "broken regex",
        _replace("body: (?i)", "body: (unclosed"),
        "(unclosed",
        "routing.rules[0].match.body",
        "regular expression",
    ),
    (
        "missing environment variable",
        _replace("test-token-0123456789", "${HUB_TEST_NO_SUCH_VAR}"),
        "HUB_TEST_NO_SUCH_VAR",
        "api.tokens[0].token",
        "HUB_TEST_NO_SUCH_VAR is not set",
    ),
    (
        "reply_via an unknown connector",
        _replace("reply_via: mail", "reply_via: fax"),
        "reply_via: fax",
        "connectors[0].reply_via",
        "'fax' is not the id of a connector that can send",
    ),
    (
        "YAML syntax error",
        _replace("teams:\n", "teams:\n  - id: [unclosed\n"),
        "- id: support",
        "(top level)",
        "while parsing a flow sequence at line 19",
    ),
    (
        "duplicate key",
        _replace("  timezone: Asia/Dhaka\n", "  timezone: Asia/Dhaka\n  timezone: UTC\n"),
        "timezone: UTC",
        "hub.timezone",
        "duplicate key",
    ),
    (
        "short API token",
        _replace("test-token-0123456789", "short"),
        "token: short",
        "api.tokens[0].token",
        "at least 16",
    ),
    (
        "invalid connector id",
        _replace("id: contact", "id: Contact Form"),
        "id: Contact Form",
        "connectors[0].id",
        "pattern",
    ),
    (
        "missing required key",
        _replace("  from_address: support@example.org\n", ""),
        "- id: mail",
        "connectors[1].from_address",
        "required key is missing",
    ),
    (
        "trusted proxy not an address",
        _replace(
            "  public_url: http://127.0.0.1\n",
            "  public_url: http://127.0.0.1\n  trusted_proxies: [10.0.0.0/8, nginx]\n",
        ),
        "trusted_proxies:",
        "web.trusted_proxies",
        "'nginx'",
    ),
]


def test_good_config_loads() -> None:
    config = parse_config(GOOD, "good.yaml", REGISTRY)
    assert [c.id for c in config.connectors] == ["contact", "mail"]


@pytest.mark.parametrize(
    ("name", "text", "line_text", "path", "words"), BAD, ids=[b[0] for b in BAD]
)
def test_bad_config_names_file_line_and_path(
    name: str, text: str, line_text: str, path: str, words: str
) -> None:
    with pytest.raises(ConfigError) as info:
        parse_config(text, "hub.yaml", REGISTRY, env={})
    rendered = [str(i) for i in info.value.issues]
    expected_line = _line_of(text, line_text)
    matching = [r for r in rendered if f"hub.yaml:{expected_line}: {path}: " in r and words in r]
    assert matching, f"{name}: wanted line {expected_line} {path} '{words}', got {rendered}"


def test_secret_values_never_appear_in_errors() -> None:
    text = _replace("test-token-0123456789", "hunter2")
    with pytest.raises(ConfigError) as info:
        parse_config(text, "hub.yaml", REGISTRY)
    assert "hunter2" not in str(info.value)


@pytest.mark.parametrize("case", [BAD[0], BAD[3], BAD[11]], ids=lambda c: c[0])
def test_check_config_cli_exits_2_with_location(tmp_path: Path, case: tuple) -> None:
    _name, text, line_text, path, words = case
    target = tmp_path / "hub.yaml"
    target.write_text(text)
    proc = subprocess.run(
        [sys.executable, "-m", "hub", "check-config", str(target)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
    )
    assert proc.returncode == 2, proc.stderr
    assert f"{target}:{_line_of(text, line_text)}: {path}: " in proc.stderr
    assert words in proc.stderr


def test_check_config_cli_accepts_the_demo_config() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "hub", "check-config", "config/hub.yaml"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    assert "ok" in proc.stdout


def test_check_config_reports_broken_template(tmp_path: Path) -> None:
    templates = tmp_path / "templates" / "en"
    templates.mkdir(parents=True)
    (templates / "acknowledgement.subject.j2").write_text("Hi {{ ticket.ref }")
    (templates / "acknowledgement.txt.j2").write_text("ok")
    data = base_config("sqlite+aiosqlite:///x.db")
    data["replies"]["templates_dir"] = str(tmp_path / "templates")
    target = tmp_path / "hub.yaml"
    target.write_text(yaml.safe_dump(data))
    proc = subprocess.run(
        [sys.executable, "-m", "hub", "check-config", str(target)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
    )
    assert proc.returncode == 2
    assert "acknowledgement.subject.j2:1:" in proc.stderr


def test_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "hub", "check-config", str(tmp_path / "nope.yaml")],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
    )
    assert proc.returncode == 2
    assert "cannot read" in proc.stderr


@pytest.mark.parametrize(
    "path",
    sorted([*(ROOT / "config" / "examples").glob("*.yaml"), ROOT / "config" / "hub.yaml"]),
    ids=lambda p: p.name,
)
def test_shipped_configs_are_valid(path: Path) -> None:
    env = {"HUB_DB_PASSWORD": "x", "HUB_API_TOKEN": "t" * 32, "SMTP_PASSWORD": "x"}
    env["SLACK_BILLING_WEBHOOK_URL"] = "https://hooks.slack.com/services/T0/B0/x"
    env["TEAMS_ESCALATIONS_WEBHOOK_URL"] = "https://example.logic.azure.com/workflows/x"
    env["SLACK_OPS_WEBHOOK_URL"] = "https://hooks.slack.com/services/T0/B1/y"
    env["TEAMS_OPS_WEBHOOK_URL"] = "https://example.logic.azure.com/workflows/y"
    config = load_config(path, REGISTRY, env=env)
    assert config.connectors
