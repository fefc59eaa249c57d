"""Erasure end to end: a customer who wrote on three channels, shared a group chat, sent an
attachment, bought something and has webhooks queued is erased, and a dump of the database
holds nothing of them; restoring an older copy and reapplying the ledger erases them again.
Export: a shared conversation gives away nothing of the other customer."""

from __future__ import annotations

import asyncio
import shutil
import sqlite3
import subprocess
from datetime import UTC
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from sqlalchemy import select
from sqlalchemy.engine import make_url

from hub.events.outgoing import CUSTOMER_UPDATED, OutgoingEvent, emit
from hub.privacy.erase import Eraser
from hub.privacy.reapply import reapply_erasures
from hub.store import Store, utcnow
from hub.store.schema import customers, identities, messages, survey_responses, tickets
from hub.surveys.answers import Answer, AnswerRules, record_answer, surveys_of_ticket
from tests.inbox_support import post_form
from tests.support import hub_url
from tests.telegram_harness import corpus, telegram_hub
from tests.webchat_support import ORIGIN, open_tab

pytestmark = [pytest.mark.filterwarnings("ignore:Please use 'Bot.getUpdates':UserWarning")]

AUTH = {"Authorization": "Bearer test-token-0123456789"}
ANN_TG, BOB_TG = 987654321, 876543219
ANN_NAME, ANN_EMAIL, ANN_PHONE = (
    "Annabel Rahmatullah",
    "annabel.rahmatullah@example.com",
    "+8801712345679",
)
WEBCHAT = {"id": "chat", "type": "webchat", "allowed_origins": [ORIGIN]}


def _tg(
    update_id: int, user: int, first: str, text: str, chat: int | None = None
) -> dict[str, Any]:
    chat_obj = (
        {"id": chat, "type": "supergroup", "title": "Shop customers"}
        if chat
        else {"id": user, "type": "private", "first_name": first}
    )
    return {
        "update_id": update_id,
        "message": {
            "message_id": update_id,
            "date": 1700000000 + update_id,
            "from": {
                "id": user,
                "is_bot": False,
                "first_name": first,
                "last_name": "Rahmatullah" if user == ANN_TG else "Karimov",
            },
            "chat": chat_obj,
            "text": text,
        },
    }


def _document(update_id: int) -> dict[str, Any]:
    update = corpus("private/document.json")
    update["update_id"] = update_id
    update["message"]["message_id"] = update_id
    who = {
        "id": ANN_TG,
        "first_name": "Annabel",
        "last_name": "Rahmatullah",
        "username": "annabelr",
    }
    update["message"]["from"] = who
    update["message"]["chat"] = {**who, "type": "private"}
    return update


async def _customer_of(hub: Any, kind: str, value: str) -> int:
    async with hub.store.read() as conn:
        return int(
            (
                await conn.execute(
                    select(identities.c.customer_id).where(
                        identities.c.kind == kind, identities.c.value == value
                    )
                )
            ).scalar_one()
        )


async def _seed(rig: Any, http: aiohttp.ClientSession) -> tuple[int, int, str]:
    """Ann on the web form, Telegram (private, with a document, and a group shared with
    Bob) and the web chat, merged into one record; a purchase; a webhook event queued."""
    hub = rig.hub
    await post_form(
        http, hub, name=ANN_NAME, email=ANN_EMAIL, phone=ANN_PHONE, message="Where is my parcel 77?"
    )
    await rig.deliver(_tg(1, ANN_TG, "Annabel", "/human About my refund, Annabel here"))
    await rig.deliver(_document(2))
    await rig.deliver(_tg(3, BOB_TG, "Bobur", "/human Our orders 17 and 18 are late", chat=-100777))
    await rig.deliver(_tg(4, ANN_TG, "Annabel", "Same for me, order 19", chat=-100777))
    async with open_tab(hub) as tab:
        ack = await tab.say("Annabel again: the parcel?")
        assert ack["type"] == "ack", ack
        visitor = tab.visitor
    ann = await _customer_of(hub, "email", ANN_EMAIL)
    for kind, value in (("telegram", str(ANN_TG)), ("webchat", visitor)):
        other = await _customer_of(hub, kind, value)
        async with http.post(
            hub_url(hub, f"/api/v1/customers/{ann}/merge"), json={"other_customer_id": other}
        ) as resp:
            assert resp.status == 200, await resp.text()
    async with http.post(
        hub_url(hub, f"/api/v1/customers/{ann}/purchases"),
        json={
            "order_ref": "ORD-ANN-1",
            "amount": "250.00",
            "currency": "BDT",
            "purchased_at": "2026-11-01T10:00:00+00:00",
            "items": "Annabel's red shoes",
        },
    ) as resp:
        assert resp.status == 201, await resp.text()
    await _answer_survey(hub, http, ann)
    async with hub.store.write() as conn:
        await emit(
            conn,
            [OutgoingEvent(CUSTOMER_UPDATED, {"email": ANN_EMAIL, "name": ANN_NAME}, ann)],
            utcnow(),
        )
    bob = await _customer_of(hub, "telegram", str(BOB_TG))
    return ann, bob, visitor


async def _answer_survey(hub: Any, http: aiohttp.ClientSession, ann: int) -> None:
    """Ann's web form ticket solved; she rates it with a comment that names her order."""
    async with hub.store.read() as conn:
        ticket = (
            await conn.execute(
                select(tickets.c.id).where(
                    tickets.c.customer_id == ann, tickets.c.channel == "webform"
                )
            )
        ).scalar_one()
    async with http.patch(
        hub_url(hub, f"/api/v1/tickets/{ticket}"), json={"status": "solved"}
    ) as resp:
        assert resp.status == 200, await resp.text()
    async with hub.store.write() as conn:
        (survey,) = await surveys_of_ticket(conn, ticket)
        rules = AnswerRules(14, UTC)
        answer = Answer(2, "Annabel's parcel 77 came late", "link")
        await record_answer(hub.store, conn, survey, answer, now=utcnow(), rules=rules)


def _ann_strings(visitor: str) -> list[str]:
    return [
        ANN_NAME,
        "Rahmatullah",
        ANN_EMAIL,
        ANN_PHONE,
        str(ANN_TG),
        visitor,
        "annabelr",
        "Annabel",
        "parcel 77",
        "Annabel's red shoes",
        "ORD-ANN-1",
        "a small document",
    ]


async def _dump(url: str, path: Path) -> str:
    if url.startswith("sqlite"):
        with sqlite3.connect(make_url(url).database) as db:
            return "\n".join(db.iterdump())
    u = make_url(url)
    proc = await asyncio.create_subprocess_exec(
        "pg_dump",
        "-h",
        u.host or "127.0.0.1",
        "-U",
        u.username or "postgres",
        "-d",
        u.database,
        stdout=subprocess.PIPE,
    )
    out, _ = await proc.communicate()
    assert proc.returncode == 0
    return out.decode()


def _backup(url: str, path: Path, dumped: str) -> None:
    if url.startswith("sqlite"):
        with sqlite3.connect(make_url(url).database) as db, sqlite3.connect(path) as copy:
            db.backup(copy)
        return
    path.write_text(dumped)


def _restore(url: str, path: Path) -> None:
    if url.startswith("sqlite"):
        # A new file put in place, as an operator restoring a backup would.
        target = make_url(url).database
        shutil.copy(path, target + ".restoring")
        for suffix in ("-wal", "-shm"):
            Path(target + suffix).unlink(missing_ok=True)
        Path(target + ".restoring").replace(target)
        return
    u = make_url(url)
    common = ["-h", u.host or "127.0.0.1", "-U", u.username or "postgres", "-d", u.database, "-q"]
    subprocess.run(
        ["psql", *common, "-c", "DROP SCHEMA public CASCADE; CREATE SCHEMA public;"],
        check=True,
        capture_output=True,
    )
    subprocess.run(
        ["psql", *common, "-v", "ON_ERROR_STOP=1", "-f", str(path)], check=True, capture_output=True
    )


async def test_erasure_leaves_nothing_and_survives_a_restore(
    storage_url: str, tmp_path: Path
) -> None:
    ledger = tmp_path / "ledger.jsonl"
    extra = {"privacy": {"ledger_file": str(ledger)}, "surveys": {"enabled": True}}
    async with (
        telegram_hub(
            storage_url, "webhook", extra_connectors=(WEBCHAT,), extra_config=extra
        ) as rig,
        aiohttp.ClientSession(headers=AUTH) as http,
    ):
        ann, bob, visitor = await _seed(rig, http)
        before = await _dump(storage_url, tmp_path)
        assert ANN_EMAIL in before and str(ANN_TG) in before and "Annabel" in before
        _backup(storage_url, tmp_path / "backup", before)
        async with http.post(
            hub_url(rig.hub, f"/api/v1/customers/{ann}/erase"), json={"mode": "delete"}
        ) as resp:
            assert resp.status == 200, await resp.text()
            report = await resp.json()
        assert report["counts"]["customers"] == 3  # Ann and the two records merged into her
        # Erasing again finds nothing left: idempotent.
        async with http.post(
            hub_url(rig.hub, f"/api/v1/customers/{ann}/erase"), json={"mode": "delete"}
        ) as resp:
            assert resp.status == 404
        async with rig.hub.store.read() as conn:
            bob_said = (
                (
                    await conn.execute(
                        select(messages.c.body_text).where(messages.c.customer_id == bob)
                    )
                )
                .scalars()
                .all()
            )
            group = (await conn.execute(select(tickets).where(tickets.c.customer_id == bob))).all()
            assert (
                await conn.execute(select(customers.c.id).where(customers.c.id == bob))
            ).scalar() == bob
            # Her rating and its comment went with her ticket.
            assert (await conn.execute(select(survey_responses))).all() == []
        secret = rig.hub.secret
    assert "/human Our orders 17 and 18 are late" in bob_said
    assert len(group) == 1
    after = await _dump(storage_url, tmp_path)
    for s in _ann_strings(visitor):
        assert s not in after, f"{s!r} is still in the dump"
    # Bob is intact.
    assert "Our orders 17 and 18 are late" in after and str(BOB_TG) in after

    _restore(storage_url, tmp_path / "backup")
    assert ANN_EMAIL in await _dump(storage_url, tmp_path)
    store = Store(storage_url)
    try:
        await store.migrate()
        from hub.store.secret import hub_secret

        key = await hub_secret(store, None)
        assert key == secret
        reports = await reapply_erasures(store, Eraser("test", key, utcnow(), ledger))
    finally:
        await store.close()
    assert [r.customer_id for r in reports] == [ann]
    again = await _dump(storage_url, tmp_path)
    for s in _ann_strings(visitor):
        assert s not in again, f"{s!r} is back after the restore"
    assert "Our orders 17 and 18 are late" in again
