"""What each configured connector receives, sends and allows, worked out once at start.

The config names connectors by id and type; the registry says what each type can do.
Every part of the hub that asks "where does a reply to this go", "who delivers email",
"does this channel have a reply window" reads it here, built once per hub (or CLI run)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from hub.channels.reply_window import BoundWindow, bind_window
from hub.connector import ConnectorConfig, ConnectorRegistry, ConnectorType


@dataclass(frozen=True)
class ReplyRoute:
    """The connector that carries replies to messages received on another one."""

    connector_id: str


@dataclass(frozen=True)
class Channel:
    """One configured connector with its type's capabilities."""

    id: str
    type: ConnectorType
    config: ConnectorConfig


@dataclass(frozen=True)
class ChannelDirectory:
    channels: Mapping[str, Channel] = field(default_factory=dict)

    @classmethod
    def build(
        cls, connectors: Sequence[ConnectorConfig], registry: ConnectorRegistry
    ) -> ChannelDirectory:
        """Connectors whose type is not registered are left out: config checks refuse them
        before a hub is built, so only hand-made test configs meet this."""
        found = {}
        for cfg in connectors:
            ctype = registry.get(cfg.type)
            if ctype is not None:
                found[cfg.id] = Channel(cfg.id, ctype, cfg)
        return cls(found)

    def reply_routes(self) -> dict[str, ReplyRoute]:
        """Connector id -> where replies to its messages go: `reply_via`, else itself when
        it both receives and sends; connectors with neither get no replies."""
        routes = {}
        for ch in self.channels.values():
            if ch.config.reply_via:
                routes[ch.id] = ReplyRoute(ch.config.reply_via)
            elif ch.type.can_send and ch.type.can_receive:
                routes[ch.id] = ReplyRoute(ch.id)
        return routes

    def senders(self) -> dict[str, str]:
        """Identity kind -> the first configured connector that delivers to it."""
        out: dict[str, str] = {}
        for ch in self.channels.values():
            for kind in ch.type.sends_to:
                out.setdefault(kind, ch.id)
        return out

    def address_kinds(self) -> dict[str, tuple[str, ...]]:
        """Connector id -> the identity kinds it delivers to (ConnectorType.sends_to)."""
        return {ch.id: tuple(ch.type.sends_to) for ch in self.channels.values()}

    def reply_windows(self) -> dict[str, BoundWindow]:
        """Connector id -> its reply window, for the connectors whose type declares one."""
        return {
            ch.id: bind_window(ch.config, ch.type)
            for ch in self.channels.values()
            if ch.type.reply_window is not None
        }

    def window_hours(self) -> dict[str, float]:
        return {cid: w.hours for cid, w in self.reply_windows().items()}

    def can_send(self) -> frozenset[str]:
        return frozenset(ch.id for ch in self.channels.values() if ch.type.can_send)

    def threading_by_reference(self) -> frozenset[str]:
        return frozenset(
            ch.id for ch in self.channels.values() if ch.type.threads_by == "reference"
        )

    def choice_senders(self) -> frozenset[str]:
        """Connectors that show `OutboundMessage.choices` as buttons (ConnectorType.choices)."""
        return frozenset(ch.id for ch in self.channels.values() if ch.type.choices)

    def chats(self) -> frozenset[str]:
        return frozenset(ch.id for ch in self.channels.values() if ch.type.chat)
