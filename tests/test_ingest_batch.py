"""Group commits: a batch of messages stored together ends exactly as one at a time would.

The same history and the same messages go through three paths on fresh databases: all
in one group commit, one group per message, and the fallback that retries each message
in a transaction of its own (`Pipeline.commit_alone`). The stored customers, identities, tickets, messages, outbox rows,
duplicate suggestions and each sender's answer must be the same.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import select, update

import hub.ingest.customer_match as customer_match
from hub.app import Hub, open_hub
from hub.customers.resolve import IdentityRace
from hub.ingest.pipeline import Pending
from hub.messages import Address, InboundMessage, SubmitResult
from hub.store.schema import (
    customers,
    duplicate_suggestions,
    identities,
    messages,
    outbox,
    tickets,
)
from tests.support import REGISTRY, base_config, make_config, pg_database

Outcome = SubmitResult | BaseException


def _msg(
    external_id: str,
    sender: Address,
    *others: Address,
    text: str = "Where is my order? It has not arrived yet.",
    channel: str = "webform",
    language: str | None = "en",
    reply: bool = True,
    auto: bool = False,
    subject: str | None = "Question",
) -> InboundMessage:
    email = next((a for a in (sender, *others) if a.kind == "email"), None)
    return InboundMessage(
        channel=channel,
        connector_id="contact",
        external_id=external_id,
        sender=sender,
        identities=(sender, *others),
        subject=subject,
        text=text,
        language=language,
        reply_to=email if reply else None,
        auto_submitted=auto,
        meta={"form": "contact"},
    )


def _email(value: str, name: str | None = None) -> Address:
    return Address("email", value, name)


def _phone(value: str) -> Address:
    return Address("phone", value, None)


HISTORY = [
    _msg("h-ann", _email("ann@example.com", "Ann"), _phone("+8801712345678")),
    _msg("h-bob", _email("bob@example.com", "Bob")),
    _msg("h-old", _email("old@example.com", "Old Bob")),
]

BATCH = [
    _msg("b-new1", _email("new1@example.com", "New One")),
    # The same person, written differently: one customer, threaded onto the new ticket.
    _msg("b-new1-again", _email(" New1@Example.COM ", "New One")),
    _msg("b-ann", _email("ann@example.com", "Ann")),
    # A known phone with an unknown email: the email joins Ann...
    _msg("b-ann2", _email("ann2@example.com", "Ann"), _phone("01712-345678")),
    # ...so a later message from that email alone is Ann's too.
    _msg("b-ann2-alone", _email("ann2@example.com")),
    # An identity of a customer merged into Bob: Bob.
    _msg("b-old", _email("old@example.com")),
    # Bob's email with Ann's phone: Bob's, and flagged as a likely duplicate.
    _msg("b-bob-ann", _email("bob@example.com", "Bob"), _phone("+880 1712 345 678")),
    # Redeliveries: of a message earlier in this batch, and of one stored before.
    _msg("b-new1", _email("new1@example.com", "New One")),
    _msg("h-bob", _email("bob@example.com", "Bob")),
    # No usable identity at all.
    _msg("b-invalid", _email("not an email")),
    _msg("b-phone-only", _phone("+8801812345678"), reply=False),
    _msg("b-auto", _email("auto@example.com"), auto=True),
    _msg(
        "b-bengali",
        _email("rahim@example.com", "রহিম"),
        text="আমার অর্ডার এখনো আসেনি, দয়া করে সাহায্য করুন",
        language=None,
    ),
    _msg("b-english-detected", _email("eve@example.com"), language=None),
    # Another channel: a second open ticket for Ann.
    _msg("b-ann-chat", _email("ann@example.com", "Ann"), channel="chat"),
    _msg("b-refund", _email("carl@example.com"), text="Please refund my last invoice."),
    # Two new customers, then one message naming both: the first wins, the pair is flagged.
    _msg("b-new3", _email("new3@example.com")),
    _msg("b-new4", _email("new4@example.com")),
    _msg("b-new3-new4", _email("new3@example.com"), _email("new4@example.com")),
    _msg("b-new5", _email("new5@example.com"), subject=None),
    _msg("b-new5-dup", _email("new5@example.com")),
    _msg("b-new5-dup", _email("new5@example.com")),
]


def _opened_hub(storage_url: str) -> contextlib.AbstractAsyncContextManager[Hub]:
    """A hub opened (store migrated, teams synced) but not serving: the tests drive it."""
    return open_hub(make_config(base_config(storage_url)), REGISTRY)


@pytest.fixture
async def hub(storage_url: str) -> AsyncIterator[Hub]:
    async with _opened_hub(storage_url) as hub:
        yield hub


async def _with_history(hub: Hub) -> None:
    for msg in HISTORY:
        await _alone(hub, msg)
    async with hub.store.write() as conn:
        ids = {
            r.value: r.customer_id
            for r in await conn.execute(select(identities.c.value, identities.c.customer_id))
        }
        await conn.execute(
            update(customers)
            .where(customers.c.id == ids["old@example.com"])
            .values(merged_into=ids["bob@example.com"])
        )


async def _alone(hub: Hub, msg: InboundMessage) -> Outcome:
    future: asyncio.Future[SubmitResult] = asyncio.get_running_loop().create_future()
    await hub.pipeline.commit_alone(Pending(msg, future))
    try:
        return future.result()
    except Exception as exc:
        return exc


def _no_fallback(hub: Hub) -> None:
    """The group path must do the work itself: falling back to one message at a time
    would store the right thing too, and hide a mistake in the group path."""

    async def fallback(p: Pending) -> None:
        p.future.set_exception(AssertionError(f"fell back for {p.msg.external_id}"))

    hub.pipeline.commit_alone = fallback  # type: ignore[method-assign]


async def _one_group(
    hub: Hub, msgs: list[InboundMessage], *, fallback: bool = False
) -> list[Outcome]:
    if not fallback:
        _no_fallback(hub)
    submits = [asyncio.create_task(hub.pipeline.submit(m)) for m in msgs]
    await asyncio.sleep(0)  # every submit is queued before the writer starts
    assert hub.pipeline.queued == len(msgs)
    writer = asyncio.create_task(hub.pipeline.run())
    try:
        return list(await asyncio.gather(*submits, return_exceptions=True))
    finally:
        writer.cancel()


async def _groups_of_one(hub: Hub, msgs: list[InboundMessage]) -> list[Outcome]:
    _no_fallback(hub)
    writer = asyncio.create_task(hub.pipeline.run())
    out: list[Outcome] = []
    try:
        for m in msgs:
            try:
                out.append(await hub.pipeline.submit(m))
            except Exception as exc:
                out.append(exc)
    finally:
        writer.cancel()
    return out


async def _sequential(hub: Hub, msgs: list[InboundMessage]) -> list[Outcome]:
    return [await _alone(hub, m) for m in msgs]


async def _state(hub: Hub, outcomes: list[Outcome]) -> dict[str, Any]:
    """Everything stored, with ids replaced by their rank so two databases compare."""
    async with hub.store.read() as conn:

        async def rows(query: Any) -> list[Any]:
            return list((await conn.execute(query)).all())

        cust = await rows(select(customers).order_by(customers.c.id))
        tick = await rows(select(tickets).order_by(tickets.c.id))
        msgs = await rows(select(messages).order_by(messages.c.id))
        idents = await rows(select(identities).order_by(identities.c.kind, identities.c.value))
        out = await rows(select(outbox).order_by(outbox.c.id))
        sugg = await rows(select(duplicate_suggestions))
    c = {r.id: i for i, r in enumerate(cust)}
    t = {r.id: i for i, r in enumerate(tick)}
    by_ext = {(r.channel, r.external_id): r for r in msgs}
    m = {r.id: (r.channel, r.external_id) for r in msgs if r.direction == "in"}

    def refs(text: str | None) -> str | None:
        # Ticket numbers in rendered text become ranks, like every other id.
        return None if text is None else re.sub(r"T-(\d+)", lambda x: f"T#{t[int(x[1])]}", text)

    answers = []
    for o in outcomes:
        if isinstance(o, SubmitResult):
            answers.append((m[o.message_id], t[o.ticket_id], c[o.customer_id], o.duplicate))
        else:
            answers.append(type(o).__name__)
    return {
        "answers": answers,
        "customers": [
            (r.display_name, r.locale, r.timezone, r.tags, c.get(r.merged_into)) for r in cust
        ],
        "identities": [(r.kind, r.value, r.display_name, c[r.customer_id]) for r in idents],
        "tickets": [
            (c[r.customer_id], r.channel, r.team_id, r.status, r.priority, r.subject, r.tags)
            for r in tick
            if r.open_key == f"{r.customer_id}:{r.channel}"
        ],
        "inbound": sorted(
            (k, r.sender, r.subject, r.body_text, r.language, t[r.ticket_id], c[r.customer_id])
            for k, r in by_ext.items()
            if r.direction == "in"
        ),
        "outbox": [
            (
                r.connector_id,
                t[r.ticket_id],
                r.kind,
                r.recipient,
                r.recipient_name,
                refs(r.subject),
                refs(r.body_text),
                refs(r.body_html),
                r.status,
            )
            for r in out
        ],
        "outbound_messages": sorted(
            (t[r.ticket_id], c[r.customer_id], refs(r.subject), r.language, r.meta["kind"])
            for r in msgs
            if r.direction == "out"
        ),
        "suggestions": sorted((c[r.customer_id], c[r.other_customer_id]) for r in sugg),
    }


@contextlib.asynccontextmanager
async def _fresh_database(storage_url: str, name: str) -> AsyncIterator[str]:
    if storage_url.startswith("sqlite"):
        yield storage_url.replace("hub.db", f"{name}.db")
    else:
        async with pg_database() as url:
            yield url


async def test_one_group_commit_stores_what_one_at_a_time_would(storage_url: str) -> None:
    states = []
    for path in (_sequential, _groups_of_one, _one_group):
        async with _fresh_database(storage_url, path.__name__) as url:
            async with _opened_hub(url) as hub:
                await _with_history(hub)
                outcomes = await path(hub, BATCH)
                states.append(await _state(hub, outcomes))
    sequential, groups_of_one, one_group = states
    assert groups_of_one == sequential
    assert one_group == sequential
    # And the reference itself is what the rules say.
    s = sequential
    assert s["answers"][9] == "InvalidMessage"
    assert s["answers"][0][1] == s["answers"][1][1] == s["answers"][7][1]  # one ticket
    assert s["answers"][7][3] and s["answers"][8][3]  # both redeliveries spotted
    assert s["suggestions"] == [(0, 1), (9, 10)]
    assert len(s["outbox"]) == 11
    assert len(s["tickets"]) == 13  # each one open, under its own open_key


async def test_a_race_in_a_group_falls_back_to_one_at_a_time(
    hub: Hub, monkeypatch: pytest.MonkeyPatch
) -> None:
    raced = 0
    real = customer_match.resolve_customers

    async def lose_the_race(*args: Any, **kwargs: Any) -> Any:
        # Another process wins the first race only; the retries see its commit.
        nonlocal raced
        raced += 1
        if raced == 1:
            raise IdentityRace("another process took an identity")
        return await real(*args, **kwargs)

    monkeypatch.setattr("hub.ingest.customer_match.resolve_customers", lose_the_race)
    msgs = [
        _msg("r-1", _email("r1@example.com")),
        _msg("r-2", _email("r2@example.com")),
        _msg("r-1", _email("r1@example.com")),
    ]
    outcomes = await _one_group(hub, msgs, fallback=True)
    assert raced == 1 + 2  # the group, then each new message in a transaction of its own
    assert all(isinstance(o, SubmitResult) for o in outcomes)
    assert [o.duplicate for o in outcomes] == [False, False, True]  # type: ignore[union-attr]
    async with hub.store.read() as conn:
        n_out = len((await conn.execute(select(outbox.c.id))).all())
    assert n_out == 2
