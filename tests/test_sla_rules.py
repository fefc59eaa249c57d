"""The `sla:` section and the pure parts of SLA clocks: errors at their file and line,
first matching policy wins, deadlines from a clock's state, notices in business hours."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from hub.config.loader import ConfigError, load_config, parse_config
from hub.config.sla import SlaConfig
from hub.sla.calendar import CALENDAR_TIME
from hub.sla.calendars import build_calendars
from hub.sla.deadline import ClockState, due_at, schedule
from hub.sla.policy import Notifying, SlaRules, TicketFacts
from hub.sla.setup import sla_rules
from tests.support import REGISTRY, ROOT

HEAD = """\
teams:
  - {id: support, name: Support}
  - {id: billing, name: Billing}
routing:
  fallback_team: support
calendars:
  office:
    timezone: UTC
    hours: {mon-fri: ["09:00-17:00"]}
connectors:
  - {id: team-slack, type: slack, webhook_url: "https://hooks.slack.com/services/T0/B0/x"}
  - {id: contact, type: webform}
"""

POLICIES = {
    "policies": [
        {
            "name": "vip",
            "match": {"customer_tags": ["vip"]},
            "business": "office",
            "targets": {"normal": {"first_response": "1h"}, "high": {"first_response": "30m"}},
        },
        {
            "name": "billing-chat",
            "match": {"team": ["billing"], "channel": ["webchat"], "tags": ["refund", "invoice"]},
            "targets": {"normal": {"first_response": "2h", "resolution": "1d"}},
        },
        {"name": "default", "targets": {"normal": {"first_response": "8h"}}},
    ]
}


def facts(**changes: object) -> TicketFacts:
    base = {
        "channel": "webform",
        "connector_id": "contact",
        "team": "support",
        "priority": "normal",
        "tags": frozenset(),
        "customer_tags": frozenset(),
    }
    return TicketFacts(**{**base, **changes})  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("ticket", "policy"),
    [
        (facts(), "default"),
        (facts(customer_tags=frozenset({"vip", "x"})), "vip"),
        # First match wins: a VIP's billing chat is still the VIP's.
        (facts(customer_tags=frozenset({"vip"}), team="billing", channel="webchat"), "vip"),
        (facts(team="billing", channel="webchat", tags=frozenset({"refund"})), "billing-chat"),
        (
            facts(team="billing", connector_id="webchat", tags=frozenset({"invoice"})),
            "billing-chat",
        ),
        (facts(team="billing", channel="webchat"), "default"),  # no tag of the list
        (facts(team="support", channel="webchat", tags=frozenset({"refund"})), "default"),
    ],
)
def test_first_matching_policy_applies(ticket: TicketFacts, policy: str) -> None:
    rules = SlaRules(SlaConfig.model_validate(POLICIES), {})
    applied = rules.apply(ticket)
    assert applied is not None and applied.policy == policy


def test_a_priority_without_targets_has_no_clock() -> None:
    rules = SlaRules(SlaConfig.model_validate(POLICIES), {})
    assert rules.apply(facts(priority="urgent")) is None
    vip = rules.apply(facts(customer_tags=frozenset({"vip"}), priority="high"))
    assert vip is not None and set(vip.targets) == {"first_response"}
    assert vip.targets["first_response"].duration == timedelta(minutes=30)


def test_unknown_calendars_teams_and_connectors_are_errors_at_their_lines() -> None:
    text = HEAD + (
        "sla:\n"
        "  teams:\n"
        "    sales: {notify: [contact]}\n"
        "  policies:\n"
        "    - name: a\n"
        "      business: nowhere\n"
        "      targets: {normal: {first_response: 1h}}\n"
        "    - name: a\n"
        "      targets: {normal: {first_response: 1 hour}}\n"
    )
    with pytest.raises(ConfigError) as caught:
        parse_config(text, "hub.yaml", REGISTRY)
    found = str(caught.value)
    assert "hub.yaml:21: sla.policies[1].targets.normal.first_response: not a duration" in found
    with pytest.raises(ConfigError) as caught:
        parse_config(text.replace("1 hour", "1h"), "hub.yaml", REGISTRY)
    assert "hub.yaml:16: sla.policies: policy names must be unique (repeated: a)" in str(
        caught.value
    )
    fixed = text.replace("1 hour", "1h").replace(
        "- name: a\n      targets", "- name: b\n      targets"
    )
    with pytest.raises(ConfigError) as caught:
        parse_config(fixed, "hub.yaml", REGISTRY)
    errors = str(caught.value).splitlines()
    assert (
        "hub.yaml:18: sla.policies[0].business: no calendar 'nowhere' (calendars: office)" in errors
    )
    assert "hub.yaml:15: sla.teams.sales: no team 'sales'" in errors
    assert any(
        e.startswith("hub.yaml:15: sla.teams.sales.notify[0]: 'contact' is not") for e in errors
    )


def test_the_demo_config_has_a_policy_on_the_dhaka_calendar() -> None:
    config = load_config(ROOT / "config" / "hub.yaml", REGISTRY)
    rules = sla_rules(config)
    applied = rules.apply(facts())
    assert applied is not None
    assert applied.targets["first_response"].calendar.name == "dhaka-office"


def test_default_section_has_no_policies() -> None:
    config = parse_config(HEAD, "hub.yaml", REGISTRY)
    assert not sla_rules(config).enabled
    assert config.sla.warn_before == timedelta(minutes=15)
    assert config.sla.pause_statuses == ["pending"]


OFFICE = build_calendars(
    {
        "office": parse_config(HEAD, "hub.yaml", REGISTRY).calendars["office"],
    }
)["office"]
MON_16 = datetime(2027, 1, 4, 16, 0, tzinfo=UTC)  # a Monday


def test_deadline_counts_what_is_left_from_the_running_segment() -> None:
    cases = [
        # target, consumed, running since, calendar -> due
        (timedelta(hours=2), timedelta(0), MON_16, CALENDAR_TIME, MON_16 + timedelta(hours=2)),
        (
            timedelta(hours=2),
            timedelta(hours=1),
            MON_16,
            CALENDAR_TIME,
            MON_16 + timedelta(hours=1),
        ),
        # Business time: one hour on Monday, the other at Tuesday 10:00.
        (timedelta(hours=2), timedelta(0), MON_16, OFFICE, datetime(2027, 1, 5, 10, tzinfo=UTC)),
        # Spent already (a target lowered below what was used): due at once.
        (timedelta(hours=1), timedelta(hours=3), MON_16, OFFICE, MON_16),
        (timedelta(hours=1), timedelta(0), None, OFFICE, None),  # paused
    ]
    for target, consumed, since, calendar, due in cases:
        assert due_at(ClockState(target, consumed, since, calendar)) == due


def test_notices_limited_to_business_hours_wait_for_the_opening() -> None:
    friday_late = datetime(2027, 1, 8, 16, 50, tzinfo=UTC)
    state = ClockState(timedelta(minutes=30), timedelta(0), friday_late, CALENDAR_TIME)
    anytime = schedule(state, Notifying((), False, OFFICE), timedelta(minutes=15), warned=False)
    office = schedule(state, Notifying((), True, OFFICE), timedelta(minutes=15), warned=False)
    monday_9 = datetime(2027, 1, 11, 9, tzinfo=UTC)
    assert anytime == {
        "due_at": friday_late + timedelta(minutes=30),
        "warn_at": friday_late + timedelta(minutes=15),
        "breach_notify_at": friday_late + timedelta(minutes=30),
    }
    assert office == {
        "due_at": friday_late + timedelta(minutes=30),
        "warn_at": monday_9,
        "breach_notify_at": monday_9,
    }
    # A target no longer than the warning gets no warning; one already warned none again.
    short = ClockState(timedelta(minutes=10), timedelta(0), friday_late, CALENDAR_TIME)
    assert (
        schedule(short, Notifying((), False, OFFICE), timedelta(minutes=15), False)["warn_at"]
        is None
    )
    assert (
        schedule(state, Notifying((), False, OFFICE), timedelta(minutes=15), True)["warn_at"]
        is None
    )
