"""Notifications piece by piece: escalation rules, batch titles, the Slack and Teams
payloads against the fakes' checks, webhook answers, config checks, and two sweepers
sharing one database."""

from __future__ import annotations

import asyncio
import json
import logging
from datetime import timedelta
from types import SimpleNamespace
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from connectors.notify.errors import WebhookUnavailable
from connectors.notify.settings import url_problem
from connectors.notify.slack import SECTION_CHARS, slack_payload
from connectors.notify.teams import adaptive_payload, message_card_payload
from connectors.notify.webhook import WebhookPoster
from hub.config.loader import ConfigError, RoutingConfig
from hub.config.notify import NotificationsConfig
from hub.connector import ConnectorAuthError, PermanentSendError, RetryLater
from hub.messages import Address, Notice, OutboundMessage, TicketAlert
from hub.notify.events import NotifyRules, TicketEvent, record_events
from hub.notify.sweep import NotificationSweeper, TicketFacts, build_notice
from hub.store import Store, utcnow
from hub.store.schema import customers, notification_events, outbox, teams, tickets
from tests.fakes.chat_webhooks import FakeSlackWebhook, FakeTeamsWorkflow, _slack_blocks_ok
from tests.support import base_config, free_port, make_config

RULES = NotifyRules(
    RoutingConfig.model_validate(
        {
            "fallback_team": "support",
            "rules": [
                {"name": "billing", "set": {"team": "billing"}, "notify": ["s", "t"]},
                {
                    "name": "vip",
                    "set": {"team": "support"},
                    "notify": ["s"],
                    "notify_on": ["escalated"],
                },
                {"name": "quiet", "set": {"team": "support"}},
            ],
        }
    ),
    NotificationsConfig(),
)


@pytest.mark.parametrize(
    ("old", "new", "old_tags", "new_tags", "reasons"),
    [
        ("normal", "high", [], [], ["priority high"]),
        ("normal", "urgent", ["x"], ["x"], ["priority urgent"]),
        ("high", "urgent", [], [], ["priority urgent"]),
        ("urgent", "high", [], [], []),  # lowered
        ("low", "normal", [], [], []),  # below the threshold
        ("high", "high", [], ["vip"], ["tag vip"]),
        ("high", "high", ["vip"], ["vip", "other"], []),  # already there
        ("low", "urgent", [], ["vip"], ["priority urgent", "tag vip"]),
    ],
)
def test_what_counts_as_an_escalation(
    old: str, new: str, old_tags: list[str], new_tags: list[str], reasons: list[str]
) -> None:
    assert RULES.escalations(old, new, old_tags, new_tags) == reasons


def test_rules_name_their_targets_per_event_kind() -> None:
    assert RULES.connectors == ["s", "t"]
    assert RULES.targets("billing", "opened") == ("s", "t")
    assert RULES.targets("vip", "opened") == ()
    assert RULES.targets("vip", "escalated") == ("s",)
    assert RULES.targets("quiet", "escalated") == ()
    assert RULES.targets(None, "opened") == ()


def _ev(ticket_id: int, kind: str = "opened", reason: str = "") -> Any:
    return SimpleNamespace(ticket_id=ticket_id, kind=kind, reason=reason)


FACTS = {
    1: TicketFacts("Refund", "Billing", "high"),
    2: TicketFacts(None, "Billing", "normal"),
    3: TicketFacts("x" * 400, "Support", "urgent"),
}


@pytest.mark.parametrize(
    ("events", "title"),
    [
        ([_ev(1)], "1 new ticket in Billing"),
        ([_ev(1), _ev(2)], "2 new tickets in Billing"),
        ([_ev(1, "escalated", "tag vip")], "1 ticket escalated in Billing"),
        (
            [_ev(1), _ev(3, "escalated", "priority urgent")],
            "2 tickets in Billing, Support: 1 new, 1 escalated",
        ),
    ],
)
def test_batch_titles(events: list[Any], title: str) -> None:
    assert build_notice(events, FACTS, "https://hub.example/inbox").title == title


def test_a_ticket_opened_and_escalated_in_one_batch_is_one_line() -> None:
    notice = build_notice(
        [_ev(3), _ev(1), _ev(3, "escalated", "tag vip"), _ev(3, "escalated", "priority urgent")],
        FACTS,
        "https://hub.example/inbox",
    )
    assert [a.ref for a in notice.alerts] == ["T-3", "T-1"]
    first = notice.alerts[0]
    assert (first.event, first.reason) == ("opened", "tag vip, priority urgent")
    assert first.url == "https://hub.example/inbox/tickets/3"
    assert len(first.subject) == 150 and first.subject.endswith("…")
    assert build_notice([_ev(2)], FACTS, "u").alerts[0].subject == "(no subject)"
    assert Notice.from_json(json.loads(json.dumps(notice.to_json()))) == notice


def _message(
    alerts: list[TicketAlert], title: str = "40 new tickets in Billing"
) -> OutboundMessage:
    notice = Notice(title, tuple(alerts))
    return OutboundMessage("s", Address("channel", "s"), title, "key-1", notice=notice)


def _alert(i: int, subject: str) -> TicketAlert:
    url = f"https://hub.example/inbox/tickets/{i}"
    return TicketAlert(f"T-{i}", url, subject, "Billing & Co", "urgent", "escalated", "tag vip")


def test_slack_payload_escapes_and_keeps_slacks_limits() -> None:
    hostile = ("<!channel> & <https://evil.example|click> " * 10)[:150]
    payload = slack_payload(_message([_alert(i, hostile) for i in range(40)]))
    assert _slack_blocks_ok(payload["blocks"])
    sections = [b["text"]["text"] for b in payload["blocks"] if b["type"] == "section"]
    assert all(len(s) <= SECTION_CHARS for s in sections)
    joined = "\n".join(sections)
    assert "<!channel>" not in joined and "&lt;!channel&gt; &amp; &lt;https" in joined
    assert joined.count("<https://hub.example/inbox/tickets/") == 40
    assert "Billing &amp; Co" in joined
    plain = slack_payload(OutboundMessage("s", Address("channel", "s"), "a <b>", "k"))
    assert plain == {"text": "a &lt;b&gt;"}


def test_teams_cards_escape_markdown_and_link_the_inbox() -> None:
    msg = _message([_alert(7, "[click](https://evil.example) **bold**")], "1 ticket escalated")
    card = adaptive_payload(msg)
    content = card["attachments"][0]["content"]
    line = content["body"][1]["text"]
    assert "[T-7](https://hub.example/inbox/tickets/7)" in line
    assert "\\[click\\](https://evil.example) \\*\\*bold\\*\\*" in line
    assert content["actions"] == [
        {
            "type": "Action.OpenUrl",
            "title": "Open T-7",
            "url": "https://hub.example/inbox/tickets/7",
        }
    ]
    legacy = message_card_payload(msg)
    assert legacy["@type"] == "MessageCard" and "T-7" in legacy["text"]
    uri = legacy["potentialAction"][0]["targets"][0]["uri"]
    assert uri == "https://hub.example/inbox/tickets/7"


@pytest.mark.parametrize(
    ("url", "ok"),
    [
        ("https://hooks.slack.com/services/T000/B000/XXXX", True),
        ("https://prod-01.westeurope.logic.azure.com:443/workflows/abc/triggers/manual", True),
        ("http://127.0.0.1:8099/services/T/B/x", True),
        ("http://localhost/hook", True),
        ("http://hooks.slack.com/services/T000/B000/XXXX", False),  # the secret in clear
        ("ftp://example.org/x", False),
        ("hooks.slack.com/services/x", False),
        ("https://", False),
    ],
)
def test_webhook_url_must_be_https_except_loopback(url: str, ok: bool) -> None:
    problem = url_problem(url)
    assert (problem is None) == ok
    if problem:
        assert "XXXX" not in problem


def test_config_refuses_notify_to_a_connector_that_does_not_notify() -> None:
    data = base_config("sqlite+aiosqlite:///unused.db")
    data["connectors"].append(
        {"id": "ops", "type": "slack", "webhook_url": "https://hooks.slack.com/services/T/B/sec"}
    )
    data["routing"]["rules"][0]["notify"] = ["ops", "mail", "nope"]
    data["routing"]["rules"].append({"name": "billing", "set": {"team": "support"}})
    data["connectors"][0]["reply_via"] = "ops"
    with pytest.raises(ConfigError) as caught:
        make_config(data)
    text = str(caught.value)
    assert "routing.rules[0].notify[1]: 'mail' is not the id of a notification connector" in text
    assert "routing.rules[0].notify[2]" in text and "routing.rules[0].notify[0]" not in text
    assert "connectors[0].reply_via: 'ops' is not the id of a connector that can send" in text
    assert "routing.rules[0].name: a rule that notifies needs a unique name" in text


async def test_webhook_answers_become_outbox_outcomes() -> None:
    fake = await FakeSlackWebhook().start()
    log = logging.getLogger("test")
    poster = WebhookPoster("Slack", fake.url, 5, log)
    await poster.start()
    try:
        assert (await poster.post({"text": "hello"}))[1] == "ok"
        with pytest.raises(PermanentSendError, match="400 no_text"):
            await poster.post({"blocks": []})
        with pytest.raises(PermanentSendError, match="invalid_blocks"):
            await poster.post({"text": "x", "blocks": [{"type": "section", "text": "raw"}]})
        fake.fail_next(429, "rate_limited", retry_after=7)
        with pytest.raises(RetryLater) as retry:
            await poster.post({"text": "x"})
        assert retry.value.seconds == 7
        fake.fail_next(500, "internal_error")
        with pytest.raises(WebhookUnavailable, match="500"):
            await poster.post({"text": "x"})
        fake.fail_next(410, "channel_is_archived")
        with pytest.raises(ConnectorAuthError, match="channel_is_archived"):
            await poster.post({"text": "x"})
        wrong = WebhookPoster("Slack", fake.url + "nope", 5, log)
        await wrong.start()
        with pytest.raises(ConnectorAuthError, match="404 no_service"):
            await wrong.post({"text": "x"})
        await wrong.stop()
        down = WebhookPoster("Slack", f"http://127.0.0.1:{free_port()}/services/T/B/s3cret", 5, log)
        await down.start()
        with pytest.raises(WebhookUnavailable) as gone:
            await down.post({"text": "x"})
        assert "s3cret" not in str(gone.value)
        await down.stop()
    finally:
        await poster.stop()
        await fake.stop()
    assert [p["text"] for p in fake.posts] == ["hello"]


async def test_teams_fake_accepts_our_card_and_refuses_a_bare_one() -> None:
    fake = await FakeTeamsWorkflow().start()
    poster = WebhookPoster("Teams", fake.url, 5, logging.getLogger("test"))
    await poster.start()
    try:
        status, _, run_id = await poster.post(adaptive_payload(_message([_alert(1, "Hi")])))
        assert status == 202 and run_id
        with pytest.raises(PermanentSendError, match="400"):
            await poster.post({"type": "AdaptiveCard", "body": []})
    finally:
        await poster.stop()
        await fake.stop()
    assert len(fake.posts) == 1


async def _tickets_with_events(url: str, n: int, *, record: bool = True) -> list[int]:
    store = Store(url)
    try:
        await store.migrate()
        now = utcnow()
        async with store.write() as conn:
            await conn.execute(teams.insert().values(id="billing", name="Billing"))
            customer = (
                await conn.execute(
                    customers.insert()
                    .values(locale="en", timezone="UTC", created_at=now, updated_at=now)
                    .returning(customers.c.id)
                )
            ).scalar_one()
            ids = [
                (
                    await conn.execute(
                        tickets.insert()
                        .values(
                            customer_id=customer,
                            channel="webform",
                            connector_id="contact",
                            team_id="billing",
                            status="new",
                            priority="normal",
                            subject=f"Case {i}",
                            route_rule="billing",
                            created_at=now,
                            updated_at=now,
                            last_message_at=now,
                        )
                        .returning(tickets.c.id)
                    )
                ).scalar_one()
                for i in range(n)
            ]
            if record:
                events = [TicketEvent(i, "billing", "opened") for i in ids]
                assert await record_events(store, conn, RULES, events, now) == 2 * n
                # A repeat of the same event is dropped by the database.
                assert await record_events(store, conn, RULES, events[:3], now) == 0
    finally:
        await store.close()
    return ids


async def test_two_hub_processes_batch_every_event_exactly_once(storage_url: str) -> None:
    await _tickets_with_events(storage_url, 60)
    settings = NotificationsConfig(batch_window_seconds=0, max_tickets_per_post=7)
    stores = [Store(storage_url), Store(storage_url)]
    try:
        sweepers = [
            NotificationSweeper(s, settings, ["s", "t"], {}, public_url="https://hub.example")
            for s in stores
        ]
        posts = await asyncio.gather(*(sw.sweep() for sw in sweepers), sweepers[0].sweep())
        async with stores[0].read() as conn:
            rows = (await conn.execute(select(outbox.c.connector_id, outbox.c.payload))).all()
            events = (await conn.execute(select(notification_events))).all()
    finally:
        for s in stores:
            await s.close()
    assert sum(posts) == len(rows)
    for connector in ("s", "t"):
        told = [a["ref"] for r in rows if r.connector_id == connector for a in r.payload["alerts"]]
        assert sorted(told) == sorted(
            f"T-{e.ticket_id}" for e in events if e.connector_id == connector
        )
        assert len(told) == len(set(told)) == 60
    assert all(e.status == "batched" and e.outbox_id is not None for e in events)


async def test_a_failed_batch_leaves_its_events_pending(storage_url: str) -> None:
    """The outbox row and the events' `batched` mark commit together or not at all."""
    await _tickets_with_events(storage_url, 3)
    store = Store(storage_url)
    settings = NotificationsConfig(batch_window_seconds=0)
    sweeper = NotificationSweeper(store, settings, ["s"], {}, public_url="https://hub.example")
    try:
        async with store.read() as conn:
            first = (
                (
                    await conn.execute(
                        select(notification_events.c.id)
                        .where(notification_events.c.connector_id == "s")
                        .order_by(notification_events.c.id)
                    )
                )
                .scalars()
                .first()
            )
        # A row already holding the batch's key makes its insert fail, as a crash would
        # part-way through the transaction.
        now = utcnow()
        clash = {
            "connector_id": "s",
            "idempotency_key": f"notify-s-{first}",
            "kind": "other",
            "recipient_kind": "channel",
            "recipient": "s",
            "body_text": "",
            "status": "sent",
            "next_attempt_at": now,
            "created_at": now,
        }
        async with store.write() as conn:
            await conn.execute(outbox.insert().values(clash))
        with pytest.raises(IntegrityError):
            await sweeper.sweep()
        async with store.read() as conn:
            pending = (
                await conn.execute(
                    select(notification_events.c.id).where(
                        notification_events.c.connector_id == "s",
                        notification_events.c.status == "pending",
                    )
                )
            ).all()
            queued = (
                await conn.execute(select(outbox.c.id).where(outbox.c.kind == "notification"))
            ).all()
        assert len(pending) == 3 and queued == []
        async with store.write() as conn:
            await conn.execute(outbox.delete().where(outbox.c.kind == "other"))
        assert await sweeper.sweep() == 1
    finally:
        await store.close()


async def test_a_partial_batch_waits_for_a_quiet_spell_or_its_longest_wait(
    storage_url: str,
) -> None:
    ids = await _tickets_with_events(storage_url, 9, record=False)
    store = Store(storage_url)
    settings = NotificationsConfig(
        batch_window_seconds=1, batch_max_wait_seconds=3, max_tickets_per_post=25
    )
    only_slack = NotifyRules(
        RoutingConfig.model_validate(
            {
                "fallback_team": "support",
                "rules": [{"name": "billing", "set": {"team": "billing"}, "notify": ["s"]}],
            }
        ),
        settings,
    )
    sweeper = NotificationSweeper(store, settings, ["s"], {}, public_url="https://hub.example")
    t0 = utcnow()

    async def opened(at: float, *tickets: int) -> None:
        async with store.write() as conn:
            events = [TicketEvent(t, "billing", "opened") for t in tickets]
            await record_events(store, conn, only_slack, events, t0 + timedelta(seconds=at))

    async def sweep(at: float) -> int:
        return await sweeper.sweep(t0 + timedelta(seconds=at))

    try:
        # A burst: tickets keep coming, so the batch waits; once quiet for 1 s it goes.
        await opened(0, *ids[:3])
        assert await sweep(0.5) == 0
        await opened(0.9, ids[3])
        assert await sweep(1.5) == 0
        assert await sweep(2.0) == 1
        # A steady trickle, each within a second of the last: its longest wait (3 s) ends it.
        for k, at in enumerate((10, 10.8, 11.6, 12.4)):
            await opened(at, ids[4 + k])
            assert await sweep(at + 0.1) == 0
        await opened(12.9, ids[8])
        assert await sweep(13.05) == 1  # not quiet, but the first has waited 3 s
        async with store.read() as conn:
            payloads = (
                (await conn.execute(select(outbox.c.payload).order_by(outbox.c.id))).scalars().all()
            )
    finally:
        await store.close()
    assert [len(p["alerts"]) for p in payloads] == [4, 5]


async def test_a_round_with_nothing_pending_does_not_wait_for_the_writer(
    storage_url: str,
) -> None:
    """Most rounds find nothing: they must not queue behind ingest's writes (on SQLite the
    one writer) only to learn that."""
    await _tickets_with_events(storage_url, 2)
    store = Store(storage_url)
    settings = NotificationsConfig(batch_window_seconds=0)
    sweeper = NotificationSweeper(store, settings, ["s", "t"], {}, public_url="https://hub.example")
    try:
        assert await sweeper.sweep() == 2  # one post each for "s" and "t"
        async with store.write():  # a long ingest transaction holds the writer
            assert await asyncio.wait_for(sweeper.sweep(), 2) == 0
    finally:
        await store.close()


async def test_one_round_is_public_and_paced_by_the_config(storage_url: str) -> None:
    """What a scheduler runs: `sweep_once` every `interval_seconds` (`sweep_seconds`)."""
    await _tickets_with_events(storage_url, 2)
    store = Store(storage_url)
    settings = NotificationsConfig(batch_window_seconds=0, sweep_seconds=7)
    woken: list[bool] = []
    sweeper = NotificationSweeper(
        store,
        settings,
        ["s", "t"],
        {},
        public_url="https://hub.example",
        on_queued=lambda: woken.append(True),
    )
    try:
        assert sweeper.interval_seconds == 7
        await sweeper.sweep_once()
        async with store.read() as conn:
            kinds = (await conn.execute(select(outbox.c.kind))).scalars().all()
    finally:
        await store.close()
    assert kinds == ["notification", "notification"]
    assert woken == [True]
