"""Channels that let a business write freely only for a while after the customer's last
message (hub.connector.ReplyWindow): free text outside the window is refused before it is
queued, with the reason and what to send instead."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from hub.connector import ConnectorConfig, ConnectorType
from hub.store.schema import messages


class WindowClosed(ValueError):
    """Free text is not allowed now; the message says why and what to do instead."""


@dataclass(frozen=True)
class BoundWindow:
    """A connector's reply window (hub.connector.ReplyWindow) with its config applied."""

    connector_type: str
    hours: float
    template_for: Callable[[str], str | None] | None


def bind_window(cfg: ConnectorConfig, ctype: ConnectorType) -> BoundWindow:
    """A connector's reply window with its config applied (its type must declare one)."""
    assert ctype.reply_window is not None, ctype.name
    pick = ctype.reply_window.template_for
    return BoundWindow(
        cfg.type,
        ctype.reply_window.hours,
        (lambda locale: pick(cfg, locale)) if pick else None,
    )


@dataclass(frozen=True)
class WindowedReply:
    """A reply to a customer on a connector with a reply window, before it is queued."""

    connector_id: str
    customer_id: int
    locale: str
    at: datetime  # when it would go out
    template: bool  # the approved template was asked for instead of free text


async def window_template(
    conn: AsyncConnection, window: BoundWindow, reply: WindowedReply
) -> str | None:
    """The template to send, None for free text; refuses free text outside the window
    before anything is queued, saying why and what to do instead."""
    available = window.template_for(reply.locale) if window.template_for else None
    if reply.template:
        if window.template_for is None:
            raise WindowClosed(f"{window.connector_type} has no message templates")
        if available is None:
            raise WindowClosed(
                f"{reply.connector_id!r} has no approved template for locale {reply.locale!r}; "
                "configure one, or answer within the reply window"
            )
        return available
    last = (
        await conn.execute(
            select(func.max(messages.c.received_at)).where(
                messages.c.customer_id == reply.customer_id,
                messages.c.connector_id == reply.connector_id,
                messages.c.direction == "in",
            )
        )
    ).scalar()
    if last is not None and reply.at - last <= timedelta(hours=window.hours):
        return None
    since = (
        f"the customer last wrote {(reply.at - last).total_seconds() / 3600:.0f} hours ago"
        if last is not None
        else "the customer has not written here"
    )
    if available:
        instead = f"send the approved template instead ({available!r} for {reply.locale!r})"
    elif window.template_for is None:
        instead = "wait for the customer to write again, or answer on another channel"
    else:
        instead = (
            f"no approved template is configured for locale {reply.locale!r}, so wait for the "
            "customer to write again, or answer on another channel"
        )
    raise WindowClosed(
        f"outside the reply window: {window.connector_type} accepts free text only within "
        f"{window.hours:g} hours of the customer's last message, and {since}; {instead}"
    )
