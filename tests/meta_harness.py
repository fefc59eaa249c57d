"""A real hub with a Meta connector talking to the loopback fake Graph API."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from hub.app import Hub
from hub.store.schema import message_events, messages, outbox
from tests.fakes.graph_api import FakeGraphApi
from tests.inbox_support import inbox_config
from tests.support import base_config, hub_running, hub_url, make_config

TOKEN = "EAAG-test-access-token-0123456789"
APP_SECRET = "test-app-secret-0123456789abcdef"
VERIFY = "test-verify-token-0123"
PHONE_NUMBER_ID = "1122334455667"
PAGE_ID = "5550001112223"
IG_ID = "17841400000000001"
ACCOUNTS = {"whatsapp": PHONE_NUMBER_ID, "messenger": PAGE_ID, "instagram": IG_ID}
ID_FIELD = {"whatsapp": "phone_number_id", "messenger": "page_id", "instagram": "account_id"}
TEMPLATES = {
    "en": {"name": "support_followup", "language": "en_US", "params": ["customer_name", "text"]},
    "bn": {"name": "support_followup", "language": "bn", "params": ["text"]},
}


def connector_config(product: str, api: FakeGraphApi, token: str = TOKEN) -> dict[str, Any]:
    cfg: dict[str, Any] = {
        "id": product[:2] if product != "whatsapp" else "wa",
        "type": product,
        "app_secret": APP_SECRET,
        "verify_token": VERIFY,
        "access_token": token,
        "graph_url": api.url,
        "max_media_bytes": 64 * 1024,
        ID_FIELD[product]: ACCOUNTS[product],
    }
    if product == "whatsapp":
        cfg["templates"] = TEMPLATES
    return cfg


@dataclass
class Rig:
    hub: Hub
    api: FakeGraphApi
    connector_id: str

    @property
    def webhook(self) -> str:
        return hub_url(self.hub, f"/channels/{self.connector_id}/webhook")

    async def post(
        self, body: bytes | dict[str, Any], signature: str | None = "sign"
    ) -> tuple[int, dict[str, Any]]:
        raw = body if isinstance(body, bytes) else json.dumps(body).encode()
        sig = FakeGraphApi.sign(APP_SECRET, raw) if signature == "sign" else signature
        return await FakeGraphApi.post_webhook(self.webhook, raw, sig)

    async def inbound(self) -> list[Any]:
        async with self.hub.store.read() as conn:
            return list(
                (
                    await conn.execute(
                        select(messages).where(messages.c.direction == "in").order_by(messages.c.id)
                    )
                ).all()
            )

    async def events(self) -> list[Any]:
        async with self.hub.store.read() as conn:
            return list((await conn.execute(select(message_events))).all())

    async def outbox_rows(self) -> list[Any]:
        async with self.hub.store.read() as conn:
            return list((await conn.execute(select(outbox).order_by(outbox.c.id))).all())

    async def wait_outbox(self, outbox_id: int, status: str, timeout: float = 10.0) -> Any:
        for _ in range(int(timeout / 0.05)):
            rows = {r.id: r for r in await self.outbox_rows()}
            if outbox_id in rows and rows[outbox_id].status == status:
                return rows[outbox_id]
            await asyncio.sleep(0.05)
        raise AssertionError(f"outbox {outbox_id} never became {status}: {rows.get(outbox_id)}")

    async def wait_state(self, state: str, timeout: float = 10.0) -> None:
        for _ in range(int(timeout / 0.05)):
            if self.hub.supervisors[self.connector_id].status.state == state:
                return
            await asyncio.sleep(0.05)
        raise AssertionError(
            f"connector never {state}: {self.hub.supervisors[self.connector_id].status}"
        )


@contextlib.asynccontextmanager
async def fake_graph(products: tuple[str, ...] = ("whatsapp",)) -> AsyncIterator[FakeGraphApi]:
    api = await FakeGraphApi(TOKEN, tuple(ACCOUNTS[p] for p in products)).start()
    try:
        yield api
    finally:
        await api.stop()


@contextlib.asynccontextmanager
async def meta_hub(
    storage_url: str,
    api: FakeGraphApi,
    product: str = "whatsapp",
    token: str = TOKEN,
    agents: bool = False,
    sections: dict[str, Any] | None = None,
) -> AsyncIterator[Rig]:
    cfg = connector_config(product, api, token)
    # With agents (sam, bill, ada) who can log in to the inbox.
    data = inbox_config(storage_url) if agents else base_config(storage_url)
    data["connectors"] = [*data["connectors"], cfg]
    # Every message becomes a ticket message: the FAQ bot is tested elsewhere.
    data["bot"] = {"faq": None}
    # Other config sections as given (surveys, ...).
    data.update(sections or {})
    async with hub_running(make_config(data)) as hub:
        rig = Rig(hub, api, cfg["id"])
        if token in api.tokens:
            await rig.wait_state("running")
        yield rig


# The customer the corpus's contacts name, and the one its marketing preferences name.
SEEDED_WA_IDS = ("972987654321", "16505551234")


async def seed_customers(rig: Rig) -> None:
    """A store that already holds data: a customer for each of SEEDED_WA_IDS with a ticket,
    their message and the bot's sent hand-over, so that a body which should change nothing
    would show an update of an existing row (a renamed customer, a marked message) as well
    as an extra one."""
    for n, wa_id in enumerate(SEEDED_WA_IDS):
        status, answer = await rig.post(wa_text(f"wamid.SEED{n}", "Where is my parcel?", wa_id))
        assert status == 200, answer


def wa_text(wamid: str, text: str, wa_id: str = "8801712345678", ts: int | None = None) -> dict:
    """A WhatsApp delivery of one text message, shaped as Meta documents it."""
    import time

    return {
        "object": "whatsapp_business_account",
        "entry": [
            {
                "id": "102290129340398",
                "changes": [
                    {
                        "field": "messages",
                        "value": {
                            "messaging_product": "whatsapp",
                            "metadata": {
                                "display_phone_number": "15550783881",
                                "phone_number_id": PHONE_NUMBER_ID,
                            },
                            "contacts": [{"profile": {"name": "Rahim Uddin"}, "wa_id": wa_id}],
                            "messages": [
                                {
                                    "from": wa_id,
                                    "id": wamid,
                                    "timestamp": str(ts if ts is not None else int(time.time())),
                                    "type": "text",
                                    "text": {"body": text},
                                }
                            ],
                        },
                    }
                ],
            }
        ],
    }
