"""Who gets which ticket (hub.assignment.policy): table tests of the pure planner."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from hub.assignment.policy import Candidate, Waiting, by_urgency, plan
from hub.config.assignment import language_of

T0 = datetime(2027, 3, 1, 9, 0, tzinfo=UTC)


def _t(i: int, *, lang: str = "en", channel: str = "email", due: int | None = None,
       age: int = 0, assignee: str | None = None) -> Waiting:  # fmt: skip
    return Waiting(
        i,
        lang,
        channel,
        T0 - timedelta(minutes=age),
        None if due is None else T0 + timedelta(minutes=due),
        assignee,
    )


def _a(name: str, load: int = 0, capacity: int = 10, available: bool = True,
       languages: set[str] | None = None, channels: set[str] | None = None) -> Candidate:  # fmt: skip
    return Candidate(
        name,
        load,
        capacity,
        available,
        None if languages is None else frozenset(languages),
        None if channels is None else frozenset(channels),
    )


def _who(result_plan: object) -> list[str]:
    return [u for _t, u in result_plan.assignments]  # type: ignore[attr-defined]


# (name, mode, tickets, agents, pointer, expected assignees in decision order, new pointer)
CASES = [
    (
        "round robin takes turns by username",
        "round_robin",
        [_t(i) for i in range(1, 6)],
        [_a("carol"), _a("alice"), _a("bob")],
        None,
        ["alice", "bob", "carol", "alice", "bob"],
        "bob",
    ),
    (
        "round robin goes on after the stored pointer",
        "round_robin",
        [_t(1), _t(2)],
        [_a("alice"), _a("bob"), _a("carol")],
        "bob",
        ["carol", "alice"],
        "alice",
    ),
    (
        "a pointer naming an agent who left continues after their name",
        "round_robin",
        [_t(1)],
        [_a("alice"), _a("carol")],
        "bob",
        ["carol"],
        "carol",
    ),
    (
        "capacity: an agent at capacity is skipped; none over it",
        "round_robin",
        [_t(i) for i in range(1, 6)],
        [_a("alice", load=1, capacity=2), _a("bob", load=0, capacity=1)],
        None,
        ["alice", "bob"],
        "bob",
    ),
    (
        "capacity zero takes nothing",
        "round_robin",
        [_t(1)],
        [_a("alice", capacity=0)],
        None,
        [],
        None,
    ),
    (
        "availability: away or off agents get nothing",
        "round_robin",
        [_t(1), _t(2), _t(3)],
        [_a("alice", available=False), _a("bob"), _a("carol", available=False)],
        None,
        ["bob", "bob", "bob"],
        "bob",
    ),
    (
        "nobody available: every ticket waits",
        "least_loaded",
        [_t(1), _t(2)],
        [_a("alice", available=False)],
        None,
        [],
        None,
    ),
    (
        "skills: the language of the ticket picks the agent",
        "round_robin",
        [_t(1, lang="bn"), _t(2, lang="en"), _t(3, lang="bn")],
        [_a("alice", languages={"en"}), _a("bob", languages={"bn"})],
        None,
        ["bob", "alice", "bob"],
        "bob",
    ),
    (
        "skills: a channel skill; an agent without skills takes every channel",
        "round_robin",
        [_t(1, channel="whatsapp"), _t(2, channel="whatsapp")],
        [_a("alice", channels={"email"}), _a("bob", channels={"whatsapp"}), _a("carol")],
        None,
        ["bob", "carol"],
        "carol",
    ),
    (
        "skills: a ticket no one can take stays unassigned",
        "round_robin",
        [_t(1, lang="fr")],
        [_a("alice", languages={"en"}), _a("bob", languages=set())],
        None,
        [],
        None,
    ),
    (
        "least loaded picks the fewest open tickets",
        "least_loaded",
        [_t(1), _t(2), _t(3)],
        [_a("alice", load=3), _a("bob", load=1), _a("carol", load=2)],
        None,
        # bob 1 -> 2 ties with carol: carol comes after bob in the rotation; then bob again.
        ["bob", "carol", "bob"],
        "bob",
    ),
    (
        "least loaded: ties go round robin after the pointer",
        "least_loaded",
        [_t(1), _t(2), _t(3), _t(4)],
        [_a("alice", load=2), _a("bob", load=2), _a("carol", load=2)],
        "alice",
        ["bob", "carol", "alice", "bob"],
        "bob",
    ),
    (
        "reassignment never hands a ticket back to its holder",
        "round_robin",
        [_t(1, assignee="alice")],
        [_a("alice"), _a("bob")],
        "bob",
        ["bob"],
        "bob",
    ),
    (
        "manual teams assign nothing",
        "manual",
        [_t(1)],
        [_a("alice")],
        None,
        [],
        None,
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_plan(case: tuple) -> None:
    _name, mode, waiting, agents, pointer, expected, new_pointer = case
    result = plan(mode, waiting, agents, pointer)
    assert _who(result) == expected
    assert result.pointer == new_pointer


def test_nearest_deadline_goes_first_then_oldest() -> None:
    waiting = [
        _t(1, age=100),  # no deadline, oldest of those
        _t(2, due=90),
        _t(3, age=5),  # no deadline, newer
        _t(4, due=15),
        _t(5, due=-10),  # already past due
    ]
    assert [t.id for t in by_urgency(waiting)] == [5, 4, 2, 1, 3]
    # With room for two, the two nearest deadlines get the agents.
    result = plan("round_robin", waiting, [_a("alice", capacity=1), _a("bob", capacity=1)], None)
    assert result.assignments == [(5, "alice"), (4, "bob")]


def test_the_decided_order_keeps_capacity_across_the_round() -> None:
    result = plan("least_loaded", [_t(i) for i in range(100)],
                  [_a("alice", load=7, capacity=10), _a("bob", load=0, capacity=4)], None)  # fmt: skip
    who = _who(result)
    assert who.count("alice") == 3 and who.count("bob") == 4
    assert len(result.assignments) == 7


@pytest.mark.parametrize(
    ("locale", "language"), [("bn_BD", "bn"), ("bn-BD", "bn"), ("EN", "en"), ("pt_BR@x", "pt")]
)
def test_language_of_locale(locale: str, language: str) -> None:
    assert language_of(locale) == language
