"""Channels that let a business write freely only for a while after the customer's last
message (hub.connector.ReplyWindow): free text outside the window is refused before it is
queued, with the reason and what to send instead."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from hub.connector import ConnectorRegistry
from hub.store.schema import messages

if TYPE_CHECKING:
    # Annotations only: hub.config imports the campaign and greeting configs, which
    # import hub.proactive_templates, which reads the windows from here.
    from hub.config import Config


class WindowClosed(ValueError):
    """Free text is not allowed now; the message says why and what to do instead."""


@dataclass(frozen=True)
class BoundWindow:
    """A connector's reply window (hub.connector.ReplyWindow) with its config applied."""

    connector_type: str
    hours: float
    template_for: Callable[[str], str | None] | None


def reply_windows(config: Config, registry: ConnectorRegistry) -> dict[str, BoundWindow]:
    """Connector id -> its reply window, for the connectors whose type declares one."""
    out = {}
    for cfg in config.connectors:
        ctype = registry.get(cfg.type)
        if ctype is None or ctype.reply_window is None:
            continue
        pick = ctype.reply_window.template_for
        out[cfg.id] = BoundWindow(
            cfg.type,
            ctype.reply_window.hours,
            (lambda locale, cfg=cfg, pick=pick: pick(cfg, locale)) if pick else None,
        )
    return out


async def window_template(
    conn: AsyncConnection,
    window: BoundWindow,
    connector_id: str,
    customer_id: int,
    locale: str,
    at: datetime,
    template: bool,
) -> str | None:
    """The template to send, None for free text; refuses free text outside the window
    before anything is queued, saying why and what to do instead."""
    available = window.template_for(locale) if window.template_for else None
    if template:
        if window.template_for is None:
            raise WindowClosed(f"{window.connector_type} has no message templates")
        if available is None:
            raise WindowClosed(
                f"{connector_id!r} has no approved template for locale {locale!r}; "
                "configure one, or answer within the reply window"
            )
        return available
    last = (
        await conn.execute(
            select(func.max(messages.c.received_at)).where(
                messages.c.customer_id == customer_id,
                messages.c.connector_id == connector_id,
                messages.c.direction == "in",
            )
        )
    ).scalar()
    if last is not None and at - last <= timedelta(hours=window.hours):
        return None
    since = (
        f"the customer last wrote {(at - last).total_seconds() / 3600:.0f} hours ago"
        if last is not None
        else "the customer has not written here"
    )
    if available:
        instead = f"send the approved template instead ({available!r} for {locale!r})"
    elif window.template_for is None:
        instead = "wait for the customer to write again, or answer on another channel"
    else:
        instead = (
            f"no approved template is configured for locale {locale!r}, so wait for the "
            "customer to write again, or answer on another channel"
        )
    raise WindowClosed(
        f"outside the reply window: {window.connector_type} accepts free text only within "
        f"{window.hours:g} hours of the customer's last message, and {since}; {instead}"
    )
