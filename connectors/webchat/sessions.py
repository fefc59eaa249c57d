"""Who is connected: each visitor's open sockets (tabs), and what was pushed to them lately.

A new socket reads the history, then joins the live feed. An agent reply pushed just
before it joined is in the history, but maybe still as "pending" (the outbox marks it sent
after send() returns), and pending replies are hidden (they may be scheduled for later).
So each push is remembered for a minute, and a pending reply that was pushed is shown.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter, OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from connectors.webchat.protocol import history_frame

RECENT_SECONDS = 60.0
RECENT_PER_VISITOR = 20
MAX_RECENT_VISITORS = 10_000
# Frames waiting for a slow client; beyond this it is dropped and reconnects for history.
QUEUE_FRAMES = 256


@dataclass(eq=False)
class Socket:
    visitor: str
    ip: str
    queue: asyncio.Queue[dict[str, Any] | None] = field(
        default_factory=lambda: asyncio.Queue(QUEUE_FRAMES)
    )
    overflowed: bool = False

    def push(self, frame: dict[str, Any] | None) -> bool:
        try:
            self.queue.put_nowait(frame)
        except asyncio.QueueFull:
            self.overflowed = True
            return False
        return True


@dataclass(frozen=True)
class Pushed:
    text: str
    at: float


class Sessions:
    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self._by_visitor: dict[str, set[Socket]] = {}
        self._by_ip: Counter[str] = Counter()
        self._recent: OrderedDict[str, deque[Pushed]] = OrderedDict()

    @property
    def total(self) -> int:
        return sum(len(s) for s in self._by_visitor.values())

    def count(self, visitor: str) -> int:
        return len(self._by_visitor.get(visitor, ()))

    def count_ip(self, ip: str) -> int:
        return self._by_ip[ip]

    def attach(self, sock: Socket, history: list[Any]) -> list[dict[str, Any]]:
        """Start pushing to `sock`; the history frames to show it first.

        Synchronous on purpose: nothing can be pushed between the look at recent pushes
        and the socket joining the live feed, so every reply is shown once, live or in
        the history.
        """
        frames = visible_history(history, self._recent_texts(sock.visitor))
        self._by_visitor.setdefault(sock.visitor, set()).add(sock)
        self._by_ip[sock.ip] += 1
        return frames

    def detach(self, sock: Socket) -> None:
        socks = self._by_visitor.get(sock.visitor)
        if socks is None or sock not in socks:
            return
        socks.discard(sock)
        if not socks:
            del self._by_visitor[sock.visitor]
        self._by_ip[sock.ip] -= 1
        if self._by_ip[sock.ip] <= 0:
            del self._by_ip[sock.ip]

    def deliver(self, visitor: str, frame: dict[str, Any], skip: Socket | None = None) -> int:
        """Push a frame to every open socket of the visitor but `skip`; how many took it."""
        if frame.get("dir") == "out":
            self._remember(visitor, frame["text"])
        delivered = 0
        for sock in list(self._by_visitor.get(visitor, ())):
            if sock is not skip and sock.push(frame):
                delivered += 1
        return delivered

    def _remember(self, visitor: str, text: str) -> None:
        recent = self._recent.pop(visitor, None) or deque(maxlen=RECENT_PER_VISITOR)
        recent.append(Pushed(text, self.clock()))
        self._recent[visitor] = recent
        while len(self._recent) > MAX_RECENT_VISITORS:
            self._recent.popitem(last=False)

    def _recent_texts(self, visitor: str) -> Counter[str]:
        horizon = self.clock() - RECENT_SECONDS
        recent = self._recent.get(visitor)
        if recent is None:
            return Counter()
        while recent and recent[0].at < horizon:
            recent.popleft()
        if not recent:
            del self._recent[visitor]
        return Counter(p.text for p in recent)


def visible_history(items: list[Any], pushed: Counter[str]) -> list[dict[str, Any]]:
    """The HistoryItems the widget shows, as frames: what the visitor said (but /start),
    replies marked sent, and pending replies that were pushed a moment ago.

    A pending reply is matched to a recent push by its text, since neither knows the
    other's id; two identical replies, one pushed and one scheduled, could swap places,
    which shows the same words.
    """
    out = []
    pushed = Counter(pushed)
    for item in items:
        if item.direction == "out" and item.status != "sent":
            if item.status != "pending" or pushed[item.text] <= 0:
                continue
            pushed[item.text] -= 1
        frame = history_frame(item)
        if frame is not None:
            out.append(frame)
    return out
