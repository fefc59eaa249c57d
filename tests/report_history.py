"""A small hand-made history with known answers, written through the real pipeline and
actions at chosen instants (their clocks are injected), for the report tests.

Reporting zone America/New_York; clocks go forward on 2026-03-08 at 02:00 (07:00 UTC).
A business calendar: Monday to Friday, 09:00-17:00 New York time.

- A (web form, support, Mon 2 March 14:00 UTC = 09:00 EST): acknowledged; sam answers at
  14:30 (first response 1800 s, business 1800); Ann writes at 15:00, sam answers at 16:00
  (next response 3600 s); sam solves at 17:00 (resolution 10800 s); reopened Tue 3 March
  14:00, solved again at 15:00 (resolution 3600 s, since the reopening).
- B (web form, "invoice": billing, high, tag billing; Fri 6 March 21:00 UTC = 16:00 EST):
  acknowledged; bill answers Mon 9 March 13:30 UTC = 09:30 EDT (first response 232200 s;
  business: 16:00-17:00 Friday and 09:00-09:30 Monday = 5400 s). Open at the end.
- C (web chat, Sun 8 March 06:30 UTC = 01:30 EST): the bot hands over (its message is no
  response); ada answers at 07:30 UTC = 03:30 EDT (first response 3600 s; business 0: a
  Sunday). Open at the end.
- D (web form, Mon 9 March 04:30 UTC = 00:30 EDT, 23:30 the day before at EST's offset):
  opened on 9 March in New York; never answered.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from hub.actions.measure import Measure
from hub.actions.reply import AgentReply, reply
from hub.actions.solved import AfterChange
from hub.actions.ticket_update import TicketChange, update_ticket
from hub.agents.accounts import Actor
from hub.app import Hub
from hub.ingest.batch import ingest_batch
from hub.messages import Address, InboundMessage, SubmitResult
from tests.support import base_config

NY = ZoneInfo("America/New_York")


def at(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 3, day, hour, minute, tzinfo=UTC)


class WeekdayHours:
    """Monday to Friday, 09:00-17:00 New York time."""

    name = "weekdays"

    def _open_intervals(self, a: datetime, b: datetime) -> list[tuple[datetime, datetime]]:
        out = []
        day: date = a.astimezone(NY).date()
        while datetime.combine(day, datetime.min.time(), NY) < b:
            if day.weekday() < 5:
                lo = datetime(day.year, day.month, day.day, 9, tzinfo=NY)
                hi = datetime(day.year, day.month, day.day, 17, tzinfo=NY)
                out.append((max(lo, a), min(hi, b)))
            day += timedelta(days=1)
        return [(lo, hi) for lo, hi in out if lo < hi]

    def elapsed(self, a: datetime, b: datetime) -> timedelta:
        return sum((hi - lo for lo, hi in self._open_intervals(a, b)), timedelta())

    def is_open(self, t: datetime) -> bool:
        return bool(self._open_intervals(t, t + timedelta(microseconds=1)))

    def next_open(self, t: datetime) -> datetime:
        return self._open_intervals(t, t + timedelta(days=7))[0][0]

    def add(self, start: datetime, duration: timedelta) -> datetime:
        left = duration
        for lo, hi in self._open_intervals(start, start + timedelta(days=7 + duration.days * 2)):
            if hi - lo >= left:
                return lo + left
            left -= hi - lo
        raise ValueError("too long")


CALENDAR = WeekdayHours()


def history_config(storage_url: str) -> dict[str, object]:
    data = base_config(storage_url, reports={"timezone": "America/New_York"}, bot={"faq": None})
    data["connectors"] = [
        *data["connectors"],  # type: ignore[list-item]
        {"id": "chat", "type": "webchat", "allowed_origins": ["https://shop.example"]},
    ]
    return data


def _form(n: str, email: str, text: str) -> InboundMessage:
    sender = Address("email", email)
    return InboundMessage(
        channel="webform",
        connector_id="contact",
        external_id=f"form-{n}",
        sender=sender,
        identities=(sender,),
        subject="Question",
        text=text,
        language="en",
        reply_to=sender,
        meta={"form": "contact"},
    )


def _chat(n: str, visitor: str, text: str, command: str | None = None) -> InboundMessage:
    sender = Address("webchat", visitor)
    return InboundMessage(
        channel="webchat",
        connector_id="chat",
        external_id=f"chat-{n}",
        sender=sender,
        identities=(sender,),
        subject=None,
        text=text,
        language="en",
        reply_to=sender,
        meta={"command": command} if command else {},
    )


SAM = Actor("agent", "sam", "Sam Support", "agent", frozenset({"support"}))
BILL = Actor("agent", "bill", "Bill Billing", "agent", frozenset({"billing"}))
ADA = Actor("agent", "ada", "Ada Admin", "admin", frozenset())


async def write_history(hub: Hub) -> dict[str, int]:
    """The history above; the ids of tickets A-D."""

    async def ingest(msg: InboundMessage, now: datetime) -> int:
        async with hub.store.write() as conn:
            (result,) = await ingest_batch(hub.pipeline.setup, conn, [msg], now)
        assert isinstance(result, SubmitResult) and result.ticket_id is not None
        return result.ticket_id

    def measure(now: datetime) -> Measure:
        return Measure(NY, lambda team: CALENDAR, clock=lambda: now)

    async def answer(actor: Actor, ticket: int, now: datetime, status: str | None = None) -> None:
        draft = AgentReply(ticket, "Thanks, on it.", status=status)
        await reply(hub.store, actor, draft, hub.channels, after=AfterChange(measure(now)))

    async def change(actor: Actor, ticket: int, status: str, now: datetime) -> None:
        await update_ticket(
            hub.store,
            actor,
            ticket,
            TicketChange(status=status),
            notify=hub.pipeline.notify,
            after=AfterChange(measure(now)),
        )

    ids = {}
    ids["A"] = await ingest(_form("a1", "ann@example.com", "My parcel is late"), at(2, 14))
    await answer(SAM, ids["A"], at(2, 14, 30))
    assert await ingest(_form("a2", "ann@example.com", "Any news?"), at(2, 15)) == ids["A"]
    await answer(SAM, ids["A"], at(2, 16))
    await change(SAM, ids["A"], "solved", at(2, 17))
    await change(SAM, ids["A"], "open", at(3, 14))
    await change(SAM, ids["A"], "solved", at(3, 15))
    ids["B"] = await ingest(_form("b1", "bob@example.com", "Where is my invoice?"), at(6, 21))
    ids["C"] = await ingest(_chat("c1", "visitor-1", "/human", "human"), at(8, 6, 30))
    await answer(ADA, ids["C"], at(8, 7, 30))
    await answer(BILL, ids["B"], at(9, 13, 30))
    ids["D"] = await ingest(_form("d1", "dan@example.com", "Hello"), at(9, 4, 30))
    return ids
