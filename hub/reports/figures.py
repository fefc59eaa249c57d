"""The metrics, defined once: from per-kind sums (the rollup's columns, or the same sums over
the events) and the exact distributions, to the figures every report, export, page and
command shows. Pure: numbers in, numbers out, rounded here once so every output agrees.

- created: tickets opened; solved: solve events (a ticket solved, reopened and solved again
  counts twice), solved_tickets: distinct tickets solved; reopened; backlog: tickets open
  at the end (opened - solved + reopened, over all time before it).
- messages_in / messages_out: every message on a ticket or chat, the hub's own included.
- first response: the first person's reply, since the ticket opened (acknowledgements, the
  bot, integrations and notes never count); next response: each later reply, since the
  customer's oldest unanswered message; resolution: each solve, since the ticket opened or
  was last reopened. Count, mean, median and p90 (linear interpolation between ranks), in
  calendar or business seconds.
- SLA achieved %: achieved / (achieved + breached).
- CSAT %: answers rated 4-5 of all answers (1-5); response rate: answers / surveys sent.
- bot containment %: FAQ answers whose chat never went to a person (1 - the FAQ answers
  chats had before their hand-over / all FAQ answers).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from hub.events.metrics import (
    BOT_HANDOVER,
    FAQ_ANSWERED,
    FIRST_RESPONSE,
    MESSAGE_IN,
    MESSAGE_OUT,
    REPLY,
    SLA_ACHIEVED,
    SLA_BREACHED,
    SURVEY_ANSWERED,
    SURVEY_SENT,
    TICKET_OPENED,
    TICKET_REOPENED,
    TICKET_SOLVED,
)

# The durations a report measures, by the kind of event that carries them.
DURATIONS = {
    "first_response": FIRST_RESPONSE,
    "next_response": REPLY,
    "resolution": TICKET_SOLVED,
}


@dataclass
class Sums:
    """One kind's sums (the rollup's columns)."""

    n: int = 0
    seconds_n: int = 0
    seconds_sum: float = 0.0
    business_n: int = 0
    business_sum: float = 0.0
    value_sum: int = 0
    positive: int = 0

    def add(self, other: Sequence[float]) -> None:
        self.n += int(other[0])
        self.seconds_n += int(other[1])
        self.seconds_sum += float(other[2])
        self.business_n += int(other[3])
        self.business_sum += float(other[4])
        self.value_sum += int(other[5])
        self.positive += int(other[6])


# kind -> sums, for one group.
KindSums = dict[str, Sums]


@dataclass(frozen=True)
class Stats:
    count: int
    mean: float | None
    median: float | None = None
    p90: float | None = None


@dataclass(frozen=True)
class Figures:
    created: int
    solved: int
    reopened: int
    messages_in: int
    messages_out: int
    replies: int
    first_response: Stats
    next_response: Stats
    resolution: Stats
    sla_achieved: int
    sla_breached: int
    sla_achieved_pct: float | None
    surveys_sent: int
    surveys_answered: int
    csat_pct: float | None
    csat_response_rate: float | None
    faq_answered: int
    bot_handovers: int
    bot_containment_pct: float | None
    solved_tickets: int | None = None
    backlog: int | None = None


@dataclass(frozen=True)
class Exact:
    """What only the events give: sorted durations' quantiles and distinct tickets."""

    # duration name -> (median, p90)
    quantiles: Mapping[str, tuple[float | None, float | None]] = field(default_factory=dict)
    solved_tickets: int | None = None


def quantile(sorted_values: Sequence[float], p: float) -> float | None:
    """Linear interpolation between the closest ranks (PostgreSQL's percentile_cont)."""
    if len(sorted_values) == 0:
        return None
    h = (len(sorted_values) - 1) * p
    lo = int(h)
    hi = min(lo + 1, len(sorted_values) - 1)
    return sorted_values[lo] + (h - lo) * (sorted_values[hi] - sorted_values[lo])


def _pct(part: int, whole: int) -> float | None:
    return round(100.0 * part / whole, 1) if whole else None


def _r(v: float | None) -> float | None:
    return None if v is None else round(v, 1)


def _stats(s: Sums, business: bool, q: tuple[float | None, float | None]) -> Stats:
    n, total = (s.business_n, s.business_sum) if business else (s.seconds_n, s.seconds_sum)
    return Stats(n, _r(total / n) if n else None, _r(q[0]), _r(q[1]))


def figures(
    sums: KindSums, business: bool, exact: Exact | None = None, backlog: int | None = None
) -> Figures:
    def k(kind: str) -> Sums:
        return sums.get(kind) or Sums()

    exact = exact or Exact()
    none: tuple[float | None, float | None] = (None, None)
    stats = {
        name: _stats(k(kind), business, exact.quantiles.get(name, none))
        for name, kind in DURATIONS.items()
    }
    achieved, breached = k(SLA_ACHIEVED).n, k(SLA_BREACHED).n
    sent, answered = k(SURVEY_SENT).n, k(SURVEY_ANSWERED)
    faq, handovers = k(FAQ_ANSWERED).n, k(BOT_HANDOVER)
    return Figures(
        created=k(TICKET_OPENED).n,
        solved=k(TICKET_SOLVED).n,
        reopened=k(TICKET_REOPENED).n,
        messages_in=k(MESSAGE_IN).n,
        messages_out=k(MESSAGE_OUT).n,
        replies=k(FIRST_RESPONSE).n + k(REPLY).n,
        first_response=stats["first_response"],
        next_response=stats["next_response"],
        resolution=stats["resolution"],
        sla_achieved=achieved,
        sla_breached=breached,
        sla_achieved_pct=_pct(achieved, achieved + breached),
        surveys_sent=sent,
        surveys_answered=answered.n,
        csat_pct=_pct(answered.positive, answered.n),
        csat_response_rate=_pct(answered.n, sent),
        faq_answered=faq,
        bot_handovers=handovers.n,
        bot_containment_pct=_pct(max(0, faq - handovers.value_sum), faq),
        solved_tickets=exact.solved_tickets,
        backlog=backlog,
    )


def merge(into: KindSums, rows: Iterable[tuple[str, Sequence[float]]]) -> KindSums:
    for kind, values in rows:
        into.setdefault(kind, Sums()).add(values)
    return into
