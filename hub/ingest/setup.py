"""What the pipeline works with: the hub's parts and the channel facts it acts on, handed
to every step of a batch."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime

from hub.actions.measure import Measure
from hub.assignment.assigner import Assigner
from hub.assignment.setup import build_assigner
from hub.channels.directory import ReplyRoute
from hub.config.loader import Config
from hub.core.metrics import Metrics
from hub.core.replies import Replies
from hub.faq.bot import FaqBot
from hub.notify.events import NotifyRules
from hub.sla.clocks import SlaClocks
from hub.sla.setup import sla_rules
from hub.store import Store, utcnow
from hub.tickets.routing import Router


def _nothing() -> None:
    return None


@dataclass
class IngestSetup:
    store: Store
    config: Config
    replies: Replies
    metrics: Metrics
    reply_routes: dict[str, ReplyRoute]
    # Wakes the outbox worker after a group queued replies.
    on_outbox: Callable[[], None] = _nothing
    # Connectors (email) whose messages open a new ticket unless they name one.
    explicit_threading: frozenset[str] = frozenset()
    # The hub's signing key, for thread markers.
    secret: bytes = b""
    # Live chats, answered by the bot first (hub.faq.chatbot), with the FAQ if one is set.
    chat_connectors: frozenset[str] = frozenset()
    # Swapped for a tuned one while the hub runs (Pipeline.faq).
    faq: FaqBot | None = None
    # The time a batch is ingested at; tests move it to run SLA clocks without waiting.
    clock: Callable[[], datetime] = utcnow
    router: Router = field(init=False)
    notify: NotifyRules = field(init=False)
    team_names: dict[str, str] = field(init=False)
    # How the batch's metric events are measured (the reporting day's zone).
    measure: Measure = field(init=False)
    # Places tickets opened for teams with automatic assignment, in the batch's transaction.
    assigner: Assigner = field(init=False)
    sla: SlaClocks = field(init=False)

    def __post_init__(self) -> None:
        # One clock for the batch, its metric events and its SLA clocks: `clock`.
        self.measure = replace(Measure.of_zone(self.config.report_zone), clock=self._now)
        self.router = Router(self.config.routing)
        self.notify = NotifyRules(self.config.routing, self.config.notifications)
        self.team_names = {t.id: t.name for t in self.config.teams}
        self.assigner = build_assigner(self.store, self.config)
        self.sla = SlaClocks(sla_rules(self.config), clock=self._now)

    def _now(self) -> datetime:
        return self.clock()
