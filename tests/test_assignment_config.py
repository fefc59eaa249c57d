"""The assignment keys of the YAML: defaults keep old configs as they were; mistakes are
refused with the file, the line and the key."""

from __future__ import annotations

from datetime import timedelta

import pytest
import yaml

from hub.assignment.assigner import agent_terms, team_rules
from hub.config.loader import ConfigError, parse_config
from tests.support import REGISTRY, base_config


def _text(teams: list[dict], accounts: list[dict] | None = None) -> str:
    data = base_config("sqlite+aiosqlite:///data/x.db")
    data["teams"] = teams
    if accounts is not None:
        data["agents"] = {"accounts": accounts}
    return yaml.safe_dump(data, sort_keys=False)


def test_defaults_are_manual_with_ten_tickets_and_every_skill() -> None:
    config = parse_config(_text([{"id": "support", "name": "S"}, {"id": "billing", "name": "B"}],
                                [{"username": "sam", "name": "Sam", "teams": ["support"]}]),
                          "hub.yaml", REGISTRY)  # fmt: skip
    assert team_rules(config.teams, {}) == {}  # manual: nothing to assign
    assert config.teams[0].reassign_after == timedelta(minutes=30)
    terms = agent_terms(config.agents)["sam"]
    assert (terms.capacity, terms.languages, terms.channels) == (10, None, None)


def test_automatic_team_and_agent_terms_load() -> None:
    config = parse_config(
        _text(
            [
                {"id": "support", "name": "S", "assign": "least_loaded", "reassign_after": "2h"},
                {"id": "billing", "name": "B", "assign": "round_robin", "reassign_after": "15m"},
            ],
            [
                {
                    "username": "sam",
                    "name": "Sam",
                    "teams": ["support"],
                    "capacity": 4,
                    "skills": {"languages": ["bn_BD", "EN"], "channels": ["whatsapp"]},
                }
            ],
        ),
        "hub.yaml",
        REGISTRY,
    )
    rules = team_rules(config.teams, {})
    assert (rules["support"].mode, rules["support"].reassign_after) == (
        "least_loaded",
        timedelta(hours=2),
    )
    assert rules["billing"].reassign_after == timedelta(minutes=15)
    terms = agent_terms(config.agents)["sam"]
    assert (terms.capacity, terms.languages, terms.channels) == (
        4,
        frozenset({"bn", "en"}),
        frozenset({"whatsapp"}),
    )


BAD = [
    ({"assign": "random"}, "assign: random", "teams[0].assign", "round_robin"),
    ({"reassign_after": "soon"}, "reassign_after: soon", "teams[0].reassign_after", "duration"),
    ({"reassign_after": "0m"}, "reassign_after: 0m", "teams[0].reassign_after", "between"),
    ({"reassign_after": 15}, "reassign_after: 15", "teams[0].reassign_after", "no unit"),
    ({"calendar": "dhaka-office"}, "calendar: dhaka-office", "teams[0].calendar", "no calendar"),
]


@pytest.mark.parametrize("extra,line_text,path,words", BAD, ids=[b[2] + " " + b[3] for b in BAD])
def test_bad_team_keys_name_file_and_line(
    extra: dict, line_text: str, path: str, words: str
) -> None:
    text = _text([{"id": "support", "name": "S", **extra}, {"id": "billing", "name": "B"}])
    with pytest.raises(ConfigError) as info:
        parse_config(text, "hub.yaml", REGISTRY)
    [issue] = info.value.issues
    line = next(i for i, t in enumerate(text.splitlines(), 1) if line_text in t)
    assert (issue.filename, issue.line) == ("hub.yaml", line)
    assert path in str(issue) and words in str(issue)


@pytest.mark.parametrize(
    "account,words",
    [
        ({"capacity": -1}, "greater than or equal to 0"),
        ({"skills": {"languages": ["en"], "moods": ["calm"]}}, "unknown key 'moods'"),
    ],
)
def test_bad_agent_keys_are_refused(account: dict, words: str) -> None:
    text = _text(
        [{"id": "support", "name": "S"}, {"id": "billing", "name": "B"}],
        [{"username": "sam", "name": "Sam", **account}],
    )
    with pytest.raises(ConfigError, match=words) as info:
        parse_config(text, "hub.yaml", REGISTRY)
    assert "agents.accounts[0]" in str(info.value)


def test_channel_names_no_connector_carries_are_refused_with_file_and_line() -> None:
    """A misspelt channel in a skill, a routing rule or an SLA policy would never match;
    the known names are the registered connector types' channels."""
    data = yaml.safe_load(
        _text(
            [{"id": "support", "name": "S"}],
            [{"username": "sam", "name": "Sam", "teams": ["support"],
              "skills": {"channels": ["whatsapp", "whatsap"]}}],
        )
    )  # fmt: skip
    data["routing"] = {
        "fallback_team": "support",
        "rules": [{"name": "chat", "match": {"channel": "web-chat"}, "set": {"team": "support"}}],
    }
    data["sla"] = {
        "policies": [
            {"name": "mail", "match": {"channel": ["email", "e-mail"]},
             "targets": {"normal": {"first_response": "1h"}}}
        ]
    }  # fmt: skip
    text = yaml.safe_dump(data, sort_keys=False)
    with pytest.raises(ConfigError) as info:
        parse_config(text, "hub.yaml", REGISTRY)
    lines = text.splitlines()
    found = {(i.line, str(i).split(": ", 2)[-1]) for i in info.value.issues}
    expected = {
        (
            next(
                n for n, t in enumerate(lines, 1) if t.strip() in (f"- {name}", f"channel: {name}")
            ),
            f"no channel {name!r}",
        )
        for name in ("whatsap", "web-chat", "e-mail")
    }
    assert {(line, why.split(" (")[0]) for line, why in found} == expected
    assert all("(channels: email, instagram, messenger, telegram, webchat, webform, whatsapp)"
               in str(i) for i in info.value.issues)  # fmt: skip
    # Every channel the registry's types carry is accepted.
    data["agents"]["accounts"][0]["skills"]["channels"] = sorted(REGISTRY.channels())
    data["routing"]["rules"][0]["match"]["channel"] = "webchat"
    data["sla"]["policies"][0]["match"]["channel"] = ["email"]
    parse_config(yaml.safe_dump(data, sort_keys=False), "hub.yaml", REGISTRY)


def test_every_receiving_connector_type_declares_its_channels() -> None:
    receiving = [
        t for name in REGISTRY.names()
        if (t := REGISTRY.get(name)) is not None and t.can_receive and not t.notifies and t.crm is None
    ]  # fmt: skip
    assert receiving and all(t.channels for t in receiving), [t.name for t in receiving]
