"""Consent per customer and channel, and the signed links that withdraw it."""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from hub.store import Store, utcnow
from hub.store.schema import consents

OPT_IN, OPT_OUT = "opt_in", "opt_out"


@dataclass(frozen=True)
class OptOutToken:
    customer_id: int
    channel: str


def make_opt_out_token(customer_id: int, channel: str, secret: bytes) -> str:
    payload = f"{customer_id}:{channel}".encode()
    mac = hmac.new(secret, b"opt-out:" + payload, hashlib.sha256).digest()[:16]
    return base64.urlsafe_b64encode(payload + b"." + mac).decode().rstrip("=")


def read_opt_out_token(token: str, secret: bytes) -> OptOutToken | None:
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    except (ValueError, TypeError):
        return None
    # The MAC is 16 raw bytes, which may themselves contain b".": split by length.
    if len(raw) < 18 or raw[-17:-16] != b".":
        return None
    payload, mac = raw[:-17], raw[-16:]
    expected = hmac.new(secret, b"opt-out:" + payload, hashlib.sha256).digest()[:16]
    if not hmac.compare_digest(mac, expected):
        return None
    customer, _, channel = payload.decode("ascii", "replace").partition(":")
    if not customer.isdigit() or not channel:
        return None
    return OptOutToken(int(customer), channel)


async def record_consent(
    store: Store, conn: AsyncConnection, customer_id: int, channel: str, status: str, source: str
) -> None:
    """Record a consent decision; the newest decision per channel is the one that counts."""
    if status not in (OPT_IN, OPT_OUT):
        raise ValueError(f"consent status must be {OPT_IN} or {OPT_OUT}")
    now = utcnow()
    stmt = store.insert(consents).values(
        customer_id=customer_id,
        channel=channel,
        status=status,
        source=source[:200],
        recorded_at=now,
    )
    await conn.execute(
        stmt.on_conflict_do_update(
            index_elements=["customer_id", "channel"],
            set_={"status": status, "source": source[:200], "recorded_at": now},
        )
    )


async def consent_status(conn: AsyncConnection, customer_id: int, channel: str) -> str | None:
    return (
        await conn.execute(
            select(consents.c.status).where(
                consents.c.customer_id == customer_id, consents.c.channel == channel
            )
        )
    ).scalar()
