"""Every signed webhook (Telegram's secret-token header, Meta's X-Hub-Signature-256) with a
VALID signature over hostile bodies: real updates with a part replaced, dropped or wrapped,
and bodies that are not updates at all. Each is stored whole, quarantined or refused with a
4xx: never a 5xx, never a logged exception, never a row of it half-stored."""

from __future__ import annotations

import asyncio
import copy
import itertools
import json
import sqlite3
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hypothesis import example, given
from hypothesis import strategies as st

from tests.fakes.graph_api import FakeGraphApi
from tests.fuzz_inputs import (
    BYTES,
    EXAMPLES,
    FUZZ,
    RAW_JSON,
    json_value,
    scalar,
)
from tests.fuzz_support import (
    Answer,
    Case,
    Findings,
    RawClient,
    fuzz_hub,
    watching_errors,
)
from tests.meta_harness import APP_SECRET, IG_ID, PAGE_ID, wa_text
from tests.support import SmtpSink
from tests.telegram_harness import SECRET, corpus, corpus_names

# Replaced in each body by a number of its own: every case is a new update, not a duplicate.
FRESH = 777000000
_fresh = itertools.count(1)


def _messaging(obj: str, account: str) -> dict[str, Any]:
    now = int(time.time() * 1000)
    event = {"mid": f"m_{FRESH}", "text": "Hi, my order is late"}
    return {
        "object": obj,
        "entry": [
            {
                "id": account,
                "time": now,
                "messaging": [
                    {
                        "sender": {"id": "6011234567890123"},
                        "recipient": {"id": account},
                        "timestamp": now,
                        "message": event,
                    }
                ],
            }
        ],
    }


# Real deliveries to start from: the corpus' Telegram updates, Meta's documented shapes.
BASES = {
    "tg": [{**corpus(n), "update_id": FRESH} for n in corpus_names()],
    "wa": [wa_text(f"wamid.{FRESH}", "Hello, where is my parcel?")],
    "me": [_messaging("page", PAGE_ID)],
    "in": [_messaging("instagram", IG_ID)],
}


def _paths(doc: Any, here: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    """Every place in the document a value sits, the root aside."""
    children = (
        doc.items() if isinstance(doc, dict) else enumerate(doc) if isinstance(doc, list) else ()
    )
    for key, value in children:
        yield (*here, key)
        yield from _paths(value, (*here, key))


@st.composite
def mutated(draw: st.DrawFn, bases: list[dict[str, Any]]) -> bytes:
    """A real delivery with one to three of its parts replaced, dropped or wrapped in a list."""
    doc = copy.deepcopy(draw(st.sampled_from(bases)))
    for _ in range(draw(st.integers(1, 3))):
        paths = list(_paths(doc))
        if not paths:
            break
        *parent_path, key = draw(st.sampled_from(paths))
        parent = doc
        for step in parent_path:
            parent = parent[step]
        action = draw(st.sampled_from(["replace", "replace", "scalar", "drop", "wrap"]))
        if action == "drop":
            del parent[key]
        elif action == "wrap":
            parent[key] = [parent[key]]
        else:
            # A copy: the pools are shared, and a later step may change what it put here.
            parent[key] = copy.deepcopy(draw(json_value if action == "replace" else scalar))
    return json.dumps(doc, ensure_ascii=False).encode("utf-8", "surrogatepass")


def hostile_update(bases: list[dict[str, Any]]) -> st.SearchStrategy[bytes]:
    return st.one_of(
        mutated(bases),
        mutated(bases),
        mutated(bases),
        st.sampled_from(RAW_JSON),
        json_value.map(lambda v: json.dumps(v).encode("utf-8", "surrogatepass")),
        st.sampled_from(BYTES),
    )


def signed(connector_id: str, body: bytes) -> Case:
    body = body.replace(str(FRESH).encode(), str(FRESH + next(_fresh)).encode())
    if connector_id == "tg":
        headers = {"X-Telegram-Bot-Api-Secret-Token": SECRET.encode()}
    else:
        headers = {"X-Hub-Signature-256": FakeGraphApi.sign(APP_SECRET, body).encode()}
    headers["Content-Type"] = b"application/json"
    return Case("POST", f"/channels/{connector_id}/webhook", headers, body)


@dataclass
class Tables:
    """Row counts read straight from the hub's SQLite file, and whether any row is half there."""

    path: Path

    def counts(self) -> dict[str, int]:
        with sqlite3.connect(f"file:{self.path}?mode=ro", uri=True) as db:
            counts = {
                t: db.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
                for t in ("messages", "customers", "tickets", "identities", "quarantine")
            }
            # Half-stored: an inbound message without its customer, a ticket without a message,
            # a customer without an identity (a message the bot answered has no ticket: right).
            counts["orphans"] = db.execute(
                "SELECT (SELECT count(*) FROM messages WHERE direction = 'in' AND customer_id"
                "   NOT IN (SELECT id FROM customers))"
                " + (SELECT count(*) FROM tickets WHERE id NOT IN"
                "   (SELECT ticket_id FROM messages WHERE ticket_id IS NOT NULL))"
                " + (SELECT count(*) FROM customers WHERE id NOT IN"
                "   (SELECT customer_id FROM identities))"
            ).fetchone()[0]
        return counts


def stored_something(answer: Answer) -> bool:
    """Whether the hub said it stored a message of this delivery."""
    try:
        status = str(json.loads(answer.body).get("status", ""))
    except (ValueError, AttributeError):
        return False
    return status == "stored" or (
        status.startswith("stored ") and not status.startswith("stored 0")
    )


def quarantined(answer: Answer) -> bool:
    return b"quarantined" in answer.body and b"0 quarantined" not in answer.body


TEXTS = ("Hello, I need your Help", "Hello, where is my parcel?", "Hi, my order is late")


def known_faults(connector_id: str) -> list[bytes]:
    """The faults #13 names, sent signed on every run (hypothesis' explicit examples, as the
    draws may miss them): 500s until the guarded reader at the edge is merged."""
    real = json.dumps(BASES[connector_id][-1])
    for text in TEXTS:
        real = real.replace(json.dumps(text), json.dumps("hi \ud800"))  # a lone surrogate
    return [
        b"[" * 50_000 + b"]" * 50_000,  # nested 50,000 deep
        b'{"update_id": ' + b"1" * 10_000 + b', "object": "page"}',  # a 10,000-digit number
        real.encode(),
    ]


def fuzz_webhook(client: RawClient, connector_id: str, tables: Tables, out: Findings) -> None:
    route = f"signed POST /channels/{connector_id}/webhook"

    @FUZZ
    @given(body=hostile_update(BASES[connector_id]))
    def one(body: bytes) -> None:
        case = signed(connector_id, body)
        before = tables.counts()
        answer = client.send(case)
        out.check(route, case, answer)
        after = tables.counts()
        grew = {t for t in ("messages", "customers", "tickets") if after[t] != before[t]}
        if after["orphans"]:
            out.add(f"{route}: half-stored rows", f"{after} for {case.short()}")
        elif grew and not stored_something(answer):
            out.add(
                f"{route}: {sorted(grew)} grew, not stored", f"{answer.body[:100]!r} {case.short()}"
            )
        if quarantined(answer) and after["quarantine"] == before["quarantine"]:
            out.add(f"{route}: said quarantined, nothing in quarantine", case.short())

    for body in known_faults(connector_id):
        one = example(body=body)(one)
    one()


async def test_signed_webhooks_store_whole_quarantine_or_refuse_hostile_bodies(
    tmp_path: Path, smtp: SmtpSink
) -> None:
    async with fuzz_hub(tmp_path, smtp) as hub:
        tables = Tables(tmp_path / "h.db")
        client = RawClient(hub.port)
        with watching_errors() as errors:
            findings = Findings(errors)
            for connector_id in BASES:
                await asyncio.to_thread(fuzz_webhook, client, connector_id, tables, findings)
            client.close()
            # Still taking deliveries: a plain update is stored.
            update = {**corpus("private/text.json"), "update_id": FRESH + 10**6}
            answer = await asyncio.to_thread(
                RawClient(hub.port).send, signed("tg", json.dumps(update).encode())
            )
            assert json.loads(answer.body)["status"] == "stored", answer
    assert not findings.found, findings.report()
    assert len(findings.per_route) == len(BASES)
    assert min(findings.per_route.values()) >= EXAMPLES
    statuses = {s for seen in findings.statuses.values() for s in seen}
    assert 200 in statuses
