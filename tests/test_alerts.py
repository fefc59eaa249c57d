"""Operator alerts through the real hub: an expired Graph token, dead-lettered SMTP sends
and a broken alert connector reach the loopback Slack/Teams receivers once, never in a
loop; two hub processes on one database alert one incident once. SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import aiohttp
import pytest
from sqlalchemy import select

from hub.channels.supervisor import Supervisor
from hub.config.alerts import AlertsConfig
from hub.config.loader import ConfigError
from hub.connector import ConnectorAuthError
from hub.notify.alerts import AlertWatcher
from hub.store import Store, utcnow
from hub.store.schema import alert_events, outbox
from tests.fakes.chat_webhooks import FakeSlackWebhook, FakeTeamsWorkflow
from tests.meta_harness import TOKEN, Rig, connector_config, fake_graph, wa_text
from tests.support import SmtpSink, base_config, hub_running, hub_url, make_config

API = {"Authorization": "Bearer test-token-0123456789"}
FORM = "/channels/contact/"
FAST = {"sweep_seconds": 0.1, "batch_window_seconds": 0.6, "batch_max_wait_seconds": 5}


@pytest.fixture
async def slack() -> AsyncIterator[FakeSlackWebhook]:
    fake = await FakeSlackWebhook().start()
    yield fake
    await fake.stop()


@pytest.fixture
async def teams() -> AsyncIterator[FakeTeamsWorkflow]:
    fake = await FakeTeamsWorkflow().start()
    yield fake
    await fake.stop()


@dataclass
class NoSuchUserSink(SmtpSink):
    """Every RCPT TO gets a permanent 550: each send is dead-lettered at once."""

    rcpts: list[str] = field(default_factory=list)

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: list[str]
    ) -> str:
        self.rcpts.append(address)
        return "550 5.1.1 No such user here"


@contextlib.contextmanager
def refusing_relay() -> Any:
    sink = NoSuchUserSink().start()
    try:
        yield sink
    finally:
        sink.stop()


@pytest.fixture
def relay() -> Iterator[NoSuchUserSink]:
    with refusing_relay() as sink:
        yield sink


def with_alerts(data: dict[str, Any], notify: list[str], **hooks: str) -> dict[str, Any]:
    kinds = {"slack": "slack", "teams": "teams"}
    data["connectors"] = [
        *data["connectors"],
        *(
            {"id": cid, "type": kinds[cid.split("-")[1]], "webhook_url": url}
            for cid, url in hooks.items()
        ),
    ]
    data["alerts"] = {"notify": notify, **FAST}
    return data


async def alert_rows(store: Store) -> list[Any]:
    async with store.read() as conn:
        return list((await conn.execute(select(alert_events).order_by(alert_events.c.id))).all())


async def dead_letter_marker(hub: Any, receiver: Any, who: str) -> str:
    """A send dead-lettered now (the relay refuses every recipient): its alert is the
    marker. Alerts go out in the order they are raised, so once the marker's post has
    arrived, any alert raised before it has arrived too. The marker post's text."""
    seen = len(receiver.posts)
    body = {"name": "Marker", "message": "A marker", "email": f"{who}@example.com"}
    async with aiohttp.ClientSession() as http, http.post(hub_url(hub, FORM), json=body) as r:
        assert r.status == 201
    await receiver.wait_for(lambda: any(f"{who}@example.com" in t for t in receiver.texts()))
    (text,) = receiver.texts()[seen:]  # the marker's post, and nothing else came before it
    assert "1 send dead-lettered" in text and f"{who}@example.com" in text
    return text


async def until(check: Any, what: str, timeout: float = 15.0) -> Any:
    deadline = asyncio.get_running_loop().time() + timeout
    while not (result := await check()):
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)
    return result


async def test_expired_token_alerts_the_admins_once_and_the_replies_wait(
    storage_url: str, slack: FakeSlackWebhook, relay: NoSuchUserSink
) -> None:
    def config(token: str) -> Any:
        # Mail goes to a relay that refuses it: a dead-letter alert is the test's marker.
        data = base_config(storage_url, relay.port)
        data["connectors"] = [*data["connectors"], connector_config("whatsapp", api, token)]
        data["bot"] = {"faq": None}
        return make_config(with_alerts(data, ["ops-slack"], **{"ops-slack": slack.url}))

    async with fake_graph() as api:
        async with hub_running(config(TOKEN)) as hub:
            rig = Rig(hub, api, "wa")
            await rig.wait_state("running")
            assert (await rig.post(wa_text("wamid.A1", "Is anyone there?")))[0] == 200
            (msg,) = await rig.inbound()
            api.tokens.clear()  # the token expires
            replies = []
            async with aiohttp.ClientSession(headers=API) as s:
                url = hub_url(hub, f"/api/v1/tickets/{msg.ticket_id}/reply")
                for text in ("First answer", "Second answer"):
                    async with s.post(url, json={"text": text}) as r:
                        assert r.status == 202
                        replies.append((await r.json())["outbox_id"])
                    await rig.wait_state("disabled")
            await slack.wait_for(lambda: len(slack.posts) >= 1)
            assert len(slack.posts) == 1
            # No second alert for the same disable came before the marker.
            marker = await dead_letter_marker(hub, slack, "marker1")
            assert "wa disabled" not in marker
        # Restarted with the same expired token: disabled again, still the one incident.
        async with hub_running(config(TOKEN)) as hub:
            await Rig(hub, api, "wa").wait_state("disabled")
            marker = await dead_letter_marker(hub, slack, "marker2")
            assert "wa disabled" not in marker
        assert len(slack.posts) == 3, slack.texts()  # the disable and the two markers
        (text,) = [t for t in slack.texts() if "wa disabled" in t]
        assert "wa" in text and "disabled" in text and "access token" in text
        assert "http://127.0.0.1/healthz" in text
        assert "wait in the outbox" in text
        # New token, restart: the replies go out and the incident is closed.
        api.tokens.add("EAAG-renewed-token-9876543210")
        async with hub_running(config("EAAG-renewed-token-9876543210")) as hub:
            rig = Rig(hub, api, "wa")
            for outbox_id in replies:
                await rig.wait_outbox(outbox_id, "sent")

            async def incidents() -> list[Any]:
                # The markers' dead-letters are events, not incidents: they are not closed.
                return [r for r in await alert_rows(hub.store) if r.kind != "dead"]

            async def closed() -> bool:
                return all(r.resolved_at is not None for r in await incidents())

            await until(closed, "the incident to be closed")
            (event,) = await incidents()
        assert (event.kind, event.connector_id, event.status) == ("disabled", "wa", "batched")
        assert len(slack.posts) == 3


async def test_dead_lettered_smtp_sends_are_alerted_in_one_post(
    storage_url: str, slack: FakeSlackWebhook
) -> None:
    with refusing_relay() as relay:
        data = with_alerts(
            base_config(storage_url, relay.port), ["ops-slack"], **{"ops-slack": slack.url}
        )
        async with hub_running(make_config(data)) as hub, aiohttp.ClientSession() as http:
            for who in ("nobody", "noone"):
                body = {"name": "Ann", "message": "Parcel?", "email": f"{who}@example.com"}
                async with http.post(hub_url(hub, FORM), json=body) as resp:
                    assert resp.status == 201
            await slack.wait_for(lambda: len(slack.posts) >= 1)
            # Nothing more (a second post, a retry of the two) came before the marker.
            await dead_letter_marker(hub, slack, "marker")
            async with hub.store.read() as conn:
                dead = (await conn.execute(select(outbox).where(outbox.c.status == "dead"))).all()
    assert sorted(relay.rcpts[:2]) == ["nobody@example.com", "noone@example.com"]
    assert relay.rcpts[2:] == ["marker@example.com"]
    dead = [row for row in dead if row.recipient != "marker@example.com"]
    assert len(dead) == 2
    text, _marker = slack.texts()
    assert "2 sends dead-lettered" in text
    for row in dead:
        assert f"outbox {row.id} via mail" in text and row.recipient in text
    assert "hub outbox list --dead" in text and "http://127.0.0.1/healthz" in text


async def test_a_broken_alert_connector_is_not_alerted_through_itself(
    storage_url: str,
    slack: FakeSlackWebhook,
    teams: FakeTeamsWorkflow,
    caplog: pytest.LogCaptureFixture,
) -> None:
    with refusing_relay() as relay:
        data = with_alerts(
            base_config(storage_url, relay.port),
            ["ops-slack", "ops-teams"],
            # A Slack hook that was deleted: 404 no_service, which disables the connector.
            **{"ops-slack": slack.url + "-revoked", "ops-teams": teams.url},
        )
        async with hub_running(make_config(data)) as hub, aiohttp.ClientSession() as http:
            body = {"name": "Ann", "message": "Parcel?", "email": "nobody@example.com"}
            async with http.post(hub_url(hub, FORM), json=body) as resp:
                assert resp.status == 201
            await teams.wait_for(lambda: len(teams.posts) >= 2)
            # Nothing more is tried through Slack before the marker's alert reaches Teams.
            await dead_letter_marker(hub, teams, "marker")
            async with http.get(hub_url(hub, "/healthz")) as resp:
                health = await resp.json()
            rows = await alert_rows(hub.store)
            async with hub.store.read() as conn:
                posts = (
                    await conn.execute(
                        select(outbox).where(outbox.c.kind == "alert").order_by(outbox.c.id)
                    )
                ).all()
    assert slack.posts == []
    refusals = [r for r in caplog.records if "send refused connector=ops-slack" in r.getMessage()]
    assert len(refusals) == 1  # tried once, then waits: no retry loop against the dead hook
    assert health["connectors"]["ops-slack"]["state"] == "disabled"
    assert [(a["connector"], a["kind"]) for a in health["alerts_held"]] == [
        ("ops-slack", "disabled")
    ]
    # The dead-letter alerts to Slack (the first's, the marker's) wait in the outbox, the
    # first tried once; Teams told of both, then of the marker.
    waiting = [p for p in posts if p.connector_id == "ops-slack"]
    assert [(p.status, p.attempts) for p in waiting] == [("pending", 0), ("pending", 0)]
    assert "404 no_service" in waiting[0].last_error
    assert waiting[1].last_error is None  # never tried: Slack is disabled
    assert len(teams.posts) == 3
    told = "\n".join(teams.texts()[:2])
    assert "1 send dead-lettered" in told and "ops-slack disabled" in told
    assert sorted((r.target, r.kind, r.status) for r in rows) == [
        ("ops-slack", "dead", "batched"),
        ("ops-slack", "dead", "batched"),  # the marker's
        ("ops-slack", "disabled", "held"),
        ("ops-teams", "dead", "batched"),
        ("ops-teams", "dead", "batched"),  # the marker's
        ("ops-teams", "disabled", "batched"),
    ]
    assert (
        sum(
            "alert not sent: it is about its own alert connector id=ops-slack" in r.getMessage()
            for r in caplog.records
            if r.levelname == "ERROR"
        )
        == 1
    )


async def test_two_processes_alert_one_disable_once_and_a_long_retry_once(
    storage_url: str,
) -> None:
    settings = AlertsConfig(notify=["ops-slack"], not_ready_seconds=600)
    stores = [Store(storage_url), Store(storage_url)]
    await stores[0].migrate()
    try:
        # Each process has its own supervisors; both see the same expired token.
        sups = [
            {"wa": Supervisor("wa", None), "mail": Supervisor("mail", None)}  # type: ignore[arg-type]
            for _ in stores
        ]
        watchers = [
            AlertWatcher(s, settings, sup, public_url="https://hub.example.org")
            for s, sup in zip(stores, sups, strict=True)
        ]
        now = utcnow()
        for sup in sups:
            sup["wa"].report(ConnectorAuthError("token expired"))
        await asyncio.gather(*(w.observe(now) for w in watchers))
        await asyncio.gather(*(w.observe(now + timedelta(seconds=1)) for w in watchers))
        # `mail` has been starting for 11 minutes in both processes.
        later = now + timedelta(minutes=11)
        await asyncio.gather(*(w.observe(later) for w in watchers))
        posts = sum(await asyncio.gather(*(w.sweep(later) for w in watchers)))
        rows = await alert_rows(stores[0])
        assert sorted((r.kind, r.connector_id) for r in rows) == [
            ("disabled", "wa"),
            ("not_ready", "mail"),
        ]
        assert posts == 1
        async with stores[0].read() as conn:
            (post,) = (await conn.execute(select(outbox))).all()
        assert "wa disabled: authentication failed: token expired" in post.body_text
        assert "mail not ready for 11 min" in post.body_text
        assert "https://hub.example.org/healthz" in post.body_text
        # `mail` comes up: its incident closes, and a later outage is a new alert.
        for sup in sups:
            sup["mail"].status.state = "running"
        await watchers[0].observe(later)
        sups[0]["mail"].status.state = "retrying"
        await watchers[0].observe(later)
        await watchers[0].observe(later + timedelta(minutes=10))
        rows = await alert_rows(stores[0])
        mail = [(r.kind, r.resolved_at is None) for r in rows if r.connector_id == "mail"]
        assert mail == [("not_ready", False), ("not_ready", True)]
    finally:
        for s in stores:
            await s.close()


@pytest.mark.parametrize("target", ["mail", "nowhere"])
def test_alerts_must_name_a_notification_connector(target: str) -> None:
    data = base_config("sqlite+aiosqlite:///unused.db")
    data["alerts"] = {"notify": [target]}
    with pytest.raises(ConfigError) as info:
        make_config(data)
    assert any(
        "alerts.notify[0]" in str(i) and "not the id of a notification connector" in str(i)
        for i in info.value.issues
    ), [str(i) for i in info.value.issues]


async def test_one_alert_round_observes_then_posts(storage_url: str) -> None:
    """What a scheduler runs: `sweep_once` every `interval_seconds` (`sweep_seconds`)."""
    settings = AlertsConfig(notify=["ops-slack"], sweep_seconds=4)
    store = Store(storage_url)
    await store.migrate()
    sup = Supervisor("wa", None)  # type: ignore[arg-type]
    watcher = AlertWatcher(store, settings, {"wa": sup}, public_url="https://hub.example.org")
    try:
        assert watcher.interval_seconds == 4
        sup.report(ConnectorAuthError("token expired"))
        await watcher.sweep_once()
        async with store.read() as conn:
            (post,) = (await conn.execute(select(outbox))).all()
    finally:
        await store.close()
    assert post.kind == "alert" and "wa disabled" in post.body_text
