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

from babel import Locale, UnknownLocaleError
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from hub.connector import ConnectorRegistry
from hub.messages import TemplateMessage
from hub.proactive.reach import Key, choose_channel
from hub.store.schema import messages

# Free text is sent only while this much of the window is left: the outbox sends within
# seconds, but a retry after a network error must not meet a window closed meanwhile.
MARGIN = timedelta(hours=1)

GREETING_PARAMS = ("customer_name", "years", "offer", "signature")
CAMPAIGN_PARAMS = ("customer_name", "signature")  # and "param:<key>" of the campaign's params


class ApprovedTemplate(BaseModel):
    """A template approved in the channel's business manager (WhatsApp Manager)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=r"^[a-z0-9_]{1,512}$")
    # The language code the template was approved in ("en_US", "bn").
    language: str = Field(pattern=r"^[a-z]{2,3}(_[A-Z]{2})?$")
    # What fills the body's {{1}}, {{2}}, ... in order.
    params: list[str] = Field(default_factory=list, max_length=10)


# Locale -> template.
LocaleTemplates = dict[str, ApprovedTemplate]


def check_locales(by_locale: Mapping[str, Any]) -> None:
    """Raises ValueError for a key that is not a locale babel knows."""
    for loc in by_locale:
        try:
            Locale.parse(loc)
        except (UnknownLocaleError, ValueError):
            raise ValueError(f"unknown locale {loc!r}") from None


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


def how_to_send(
    windows: Windows,
    customer_id: int,
    channel: str,
    connector_id: str,
    templates: Mapping[str, ApprovedTemplate] | None,
    locale: str,
    values: Mapping[str, Any],
) -> tuple[TemplateMessage | None, str | None]:
    """(template or None for free text, None), or (None, why the channel cannot carry it)."""
    open_ = windows.open_for(customer_id, connector_id)
    if open_ is None or open_:
        return None, None
    tpl = pick(templates, locale)
    if tpl is None:
        return None, (
            f"outside the {channel} reply window and no approved {channel} template "
            f"for locale {locale!r}"
        )
    filled = fill(tpl, values)
    if isinstance(filled, str):
        return None, f"outside the {channel} reply window and {filled}"
    return filled, None


def choose_delivery(
    customer_id: int,
    channel_order: Sequence[str],
    senders: dict[str, str],
    consent: dict[Key, str],
    reachable: dict[Key, str],
    windows: Windows,
    templates_for: Callable[[str], Mapping[str, ApprovedTemplate] | None],
    locale: str,
    values: Callable[[], Mapping[str, Any]],
) -> tuple[str | None, str | None, str | None, TemplateMessage | None]:
    """`choose_channel` for a proactive message: (channel, address, skip reason, and the
    approved template that goes instead of text outside that channel's reply window)."""
    templates: dict[str, TemplateMessage | None] = {}

    def usable(channel: str) -> str | None:
        tpl, why = how_to_send(
            windows,
            customer_id,
            channel,
            senders[channel],
            templates_for(channel),
            locale,
            values(),
        )
        templates[channel] = tpl
        return why

    channel, address, reason = choose_channel(
        customer_id, channel_order, senders, consent, reachable, usable
    )
    return channel, address, reason, templates.get(channel) if channel else None


def template_text(t: TemplateMessage) -> str:
    """What the conversation records for a template send (Meta holds the wording)."""
    shown = ", ".join(t.params)
    return f"[approved template {t.name} ({t.language})]" + (f" {shown}" if shown else "")


def cross_checks(
    path: tuple[str | int, ...],
    approved: Mapping[str, Any],
    channel_order: Sequence[str],
    allowed: Sequence[str],
    config: Any,
    registry: ConnectorRegistry,
    param_keys: Sequence[str] = (),
) -> list[tuple[tuple[str | int, ...], str]]:
    """Problems with an `approved_templates` section: each channel must be in
    `channel_order` and sent by a connector that takes templates; parameters known."""
    issues: list[tuple[tuple[str | int, ...], str]] = []
    sender_type: dict[str, Any] = {}
    for cfg in config.connectors:
        ctype = registry.get(cfg.type)
        for kind in ctype.sends_to if ctype else ():
            sender_type.setdefault(kind, ctype)
    for channel, inner in approved.items():
        where = (*path, channel)
        ctype = sender_type.get(channel)
        if channel not in channel_order:
            issues.append((where, f"{channel!r} is not in channel_order"))
        if ctype is None:
            issues.append((where, f"no connector sends {channel}"))
        elif ctype.reply_window is None:
            issues.append(
                (where, f"{channel} has no reply window: it takes free text, no template needed")
            )
        elif ctype.reply_window.template_for is None:
            issues.append((where, f"{channel} has no message templates"))
        # Greetings nest occasion -> locale -> template; campaigns locale -> template.
        leaves: list[tuple[tuple[str | int, ...], ApprovedTemplate]] = []
        for key, val in inner.items():
            if isinstance(val, ApprovedTemplate):
                leaves.append(((*where, key), val))
            else:
                leaves += [((*where, key, loc), t) for loc, t in val.items()]
        for at, tpl in leaves:
            for i, p in enumerate(tpl.params):
                if p in allowed:
                    continue
                if p.startswith("param:") and p.removeprefix("param:") in param_keys:
                    continue
                known = ", ".join([*allowed, *(f"param:{k}" for k in param_keys)])
                issues.append(((*at, "params", i), f"unknown parameter {p!r} (known: {known})"))
    return issues


def proactive_cross_checks(
    config: Any, registry: ConnectorRegistry
) -> list[tuple[tuple[str | int, ...], str]]:
    """check-config's problems with the greetings' and campaigns' approved templates."""
    g = config.greetings
    issues = cross_checks(
        ("greetings", "approved_templates"),
        g.approved_templates,
        g.channel_order,
        GREETING_PARAMS,
        config,
        registry,
    )
    for i, c in enumerate(config.campaigns):
        issues += cross_checks(
            ("campaigns", i, "approved_templates"),
            c.approved_templates,
            c.channel_order,
            CAMPAIGN_PARAMS,
            config,
            registry,
            tuple(c.params),
        )
    return issues
