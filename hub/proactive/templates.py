"""Proactive messages (greetings, campaigns) on channels with a reply window (WhatsApp).

Such a channel takes free text only within a while of the customer's last message there
(hub.connector.ReplyWindow). Outside it a greeting or campaign goes as an operator-approved
template named in the greetings or campaign config, its body parameters filled from the
customer's data; with no template for the channel and locale, or a parameter without a
value, that channel cannot carry it and the next channel in `channel_order` is tried
(hub.proactive.reach.choose_channel), else the customer is skipped with the reason.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from hub.config.templates import ApprovedTemplate
from hub.messages import TemplateMessage
from hub.proactive.reach import Key, choose_channel
from hub.store.schema import messages

# Free text is sent only while this much of the window is left: the outbox sends within
# seconds, but a retry after a network error must not meet a window closed meanwhile.
MARGIN = timedelta(hours=1)


def pick(by_locale: Mapping[str, ApprovedTemplate] | None, locale: str) -> ApprovedTemplate | None:
    """The template for `locale` ("bn_BD" falls back to "bn"), else None."""
    if not by_locale:
        return None
    for key in (locale, locale.replace("-", "_").split("_")[0]):
        if key in by_locale:
            return by_locale[key]
    return None


def fill(tpl: ApprovedTemplate, values: Mapping[str, Any]) -> TemplateMessage | str:
    """The template with its parameters, or why it cannot be sent (a parameter has no
    value: WhatsApp refuses an empty parameter)."""
    params = []
    for p in tpl.params:
        v = values.get(p)
        if v is None or str(v).strip() == "":
            return f"template {tpl.name!r} needs {p}, which this customer has none of"
        params.append(str(v))
    return TemplateMessage(tpl.name, tpl.language, tuple(params))


@dataclass(frozen=True)
class Windows:
    """Which customers may get free text now on which windowed connector."""

    hours: Mapping[str, float]  # connector id -> window
    last_in: Mapping[tuple[int, str], datetime]  # (customer, connector) -> last message in
    now: datetime

    def open_for(self, customer_id: int, connector_id: str) -> bool | None:
        """True: free text may go; False: only a template; None: the channel has no window."""
        hours = self.hours.get(connector_id)
        if hours is None:
            return None
        last = self.last_in.get((customer_id, connector_id))
        if last is None:
            return False
        return self.now - last < timedelta(hours=hours) - MARGIN


async def windows_of(
    conn: AsyncConnection,
    ids: Sequence[int],
    hours: Mapping[str, float],
    senders: Mapping[str, str],
    channels: Sequence[str],
    now: datetime,
) -> Windows:
    """The window state of `ids` on the windowed connectors that carry `channels`."""
    windowed = sorted({senders[c] for c in channels if c in senders and senders[c] in hours})
    last_in: dict[tuple[int, str], datetime] = {}
    if windowed and ids:
        rows = await conn.execute(
            select(
                messages.c.customer_id, messages.c.connector_id, func.max(messages.c.received_at)
            )
            .where(
                messages.c.customer_id.in_(list(ids)),
                messages.c.connector_id.in_(windowed),
                messages.c.direction == "in",
            )
            .group_by(messages.c.customer_id, messages.c.connector_id)
        )
        last_in = {(r[0], r[1]): r[2] for r in rows if r[2] is not None}
    return Windows(hours, last_in, now)


@dataclass(frozen=True)
class Reach:
    """What a page of customers can be sent on: consents, reachable identities, reply
    windows, and the connector that sends each channel (identity kind)."""

    senders: Mapping[str, str]
    consent: Mapping[Key, str]
    reachable: Mapping[Key, str]
    windows: Windows


@dataclass(frozen=True)
class Recipient:
    """One customer's proactive message, as far as the channel choice needs it."""

    customer_id: int
    locale: str
    channel_order: Sequence[str]
    # channel -> the approved templates by locale for this message, if any
    templates_for: Callable[[str], Mapping[str, ApprovedTemplate] | None]
    # What the template's parameters may name; called only when a template is needed.
    values: Callable[[], Mapping[str, Any]]


def how_to_send(
    reach: Reach, who: Recipient, channel: str
) -> tuple[TemplateMessage | None, str | None]:
    """(template or None for free text, None), or (None, why the channel cannot carry it)."""
    open_ = reach.windows.open_for(who.customer_id, reach.senders[channel])
    if open_ is None or open_:
        return None, None
    locale = who.locale
    tpl = pick(who.templates_for(channel), locale)
    if tpl is None:
        return None, (
            f"outside the {channel} reply window and no approved {channel} template "
            f"for locale {locale!r}"
        )
    filled = fill(tpl, who.values())
    if isinstance(filled, str):
        return None, f"outside the {channel} reply window and {filled}"
    return filled, None


def choose_delivery(
    reach: Reach, who: Recipient
) -> tuple[str | None, str | None, str | None, TemplateMessage | None]:
    """`choose_channel` for a proactive message: (channel, address, skip reason, and the
    approved template that goes instead of text outside that channel's reply window)."""
    templates: dict[str, TemplateMessage | None] = {}

    def usable(channel: str) -> str | None:
        tpl, why = how_to_send(reach, who, channel)
        templates[channel] = tpl
        return why

    channel, address, reason = choose_channel(
        who.customer_id, who.channel_order, reach.senders, reach.consent, reach.reachable, usable
    )
    return channel, address, reason, templates.get(channel) if channel else None


def template_text(t: TemplateMessage) -> str:
    """What the conversation records for a template send (Meta holds the wording)."""
    shown = ", ".join(t.params)
    return f"[approved template {t.name} ({t.language})]" + (f" {shown}" if shown else "")
