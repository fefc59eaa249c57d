"""The webhook dispatcher: one round fans new events out to the endpoints that want them,
claims due deliveries, POSTs them signed (all of a batch at once), and records what
happened. A periodic job (hub.assembly.workers.Workers.jobs) runs a round every second or so.

At least once: a delivery is marked delivered in the transaction after its 2xx, so a
process killed in between sends it again after the lease (on SQLite, at the next start),
with the same webhook-id, which receivers use to drop the repeat.
"""

from __future__ import annotations

import asyncio
import email.utils
import logging
import random
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from urllib.parse import urlsplit

import aiohttp

from hub.config.webhooks import WebhookEndpointConfig
from hub.core.sealed import SealBroken, Sealer
from hub.store import Store, utcnow
from hub.webhooks import deliveries
from hub.webhooks.destinations import DestinationRefused, GuardedResolver, literal_problem
from hub.webhooks.endpoints import (
    ACTIVE,
    Endpoint,
    api_secrets,
    list_endpoints,
    seal_stored_secrets,
    sync_config_endpoints,
)
from hub.webhooks.fanout import fan_out, pending_fanout
from hub.webhooks.outcomes import Attempt, Recorder, RetryPolicy
from hub.webhooks.signing import event_body, signed_headers, signing_keys

log = logging.getLogger("hub.webhooks")
USER_AGENT = "hub-webhooks/1"
# What is read of a receiver's answer: its body is not needed, only the status.
MAX_ANSWER = 64 * 1024


@dataclass(frozen=True)
class DispatchSettings:
    batch_size: int = 64
    # A claim's lease: the longest timeout of the endpoints twice over plus this margin (a
    # batch's posts run side by side), so a dead process's claims come free soon after.
    lease_margin_seconds: float = 5.0
    # One round stops claiming after this long: under the job's 1 s interval, so a backlog
    # is worked off round after round without the scheduler skipping a tick.
    round_seconds: float = 0.8
    # Events one fan-out marks at most; a round fans out again only after a full one.
    fanout_limit: int = 1000
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    # The retries' jitter (a seeded one in tests).
    rng: random.Random = field(default_factory=random.Random)


@dataclass
class RoundResult:
    fanned_out: int = 0
    attempted: int = 0
    delivered: int = 0
    disabled: list[str] = field(default_factory=list)


class WebhookDispatcher:
    def __init__(
        self,
        store: Store,
        configured: Sequence[WebhookEndpointConfig],
        *,
        sealer: Sealer,
        alert_targets: Sequence[str] = (),
        clock: Callable[[], datetime] = utcnow,
        settings: DispatchSettings | None = None,
    ) -> None:
        self.store = store
        self.configured = list(configured)
        self.sealer = sealer
        self.clock = clock
        self.settings = settings or DispatchSettings()
        self.worker_id = uuid.uuid4().hex
        self.recorder = Recorder(
            store, self.settings.retry, self.settings.rng, tuple(alert_targets)
        )
        self._config_keys = {
            c.id: signing_keys(
                c.secret.get_secret_value(),
                c.previous_secret.get_secret_value() if c.previous_secret else None,
            )
            for c in configured
        }
        self._api_keys: dict[str, tuple[bytes, ...]] = {}
        # Stored secret -> its signing keys (None: the sealer does not open it).
        self._by_secret: dict[str, tuple[bytes, ...] | None] = {}
        self._sessions: dict[bool, aiohttp.ClientSession] = {}
        self._started = False

    async def start(self) -> None:
        """The config's endpoints into the store, API ones' secrets stored before sealing
        sealed; on SQLite, leases of a dead run freed."""
        await sync_config_endpoints(self.store, self.configured, self.clock())
        async with self.store.write() as conn:
            sealed = await seal_stored_secrets(conn, self.sealer)
        if sealed:
            log.info("webhook secrets sealed count=%d", sealed)
        if self.store.single_process:
            await deliveries.release_stale(self.store, self.worker_id)
        self._started = True

    async def close(self) -> None:
        for session in self._sessions.values():
            await session.close()
        self._sessions.clear()

    async def run_round(self) -> RoundResult:
        """Rounds of fan-out and delivery until nothing is due, or for `round_seconds`."""
        total = RoundResult()
        deadline = time.monotonic() + self.settings.round_seconds
        while True:
            r = await self.run_once()
            total.fanned_out += r.fanned_out
            total.attempted += r.attempted
            total.delivered += r.delivered
            total.disabled += r.disabled
            # Only the earliest pending event of a customer is claimable, so a customer's
            # next one becomes due when this batch is recorded: go again while busy. Events
            # no endpoint takes are not chased: while messages pour in, every pass would
            # mark a few more, a write taken from ingest each time; the next round has them.
            backlog = r.fanned_out >= self.settings.fanout_limit
            if not (backlog or r.attempted) or time.monotonic() >= deadline:
                return total

    async def run_once(self) -> RoundResult:
        """One fan-out, then one batch of deliveries for each active endpoint, side by side:
        each claims its own (one endpoint's backlog never takes another's turn) and records
        its own (one's slow receiver does not hold the others' results)."""
        if not self._started:
            await self.start()
        result = RoundResult()
        endpoints = await self._endpoints()
        now = self.clock()
        if await pending_fanout(self.store):
            result.fanned_out = await fan_out(
                self.store, list(endpoints.values()), now, self.settings.fanout_limit
            )
        # An endpoint this process has no secret for (another process runs a newer config
        # file) is left to the processes that have it.
        active = [e for e in endpoints.values() if e.status == ACTIVE and self._keys(e) is not None]
        for r in await asyncio.gather(*(self._batch(e, now) for e in active)):
            result.attempted += r.attempted
            result.delivered += r.delivered
            result.disabled += r.disabled
        return result

    async def _batch(self, endpoint: Endpoint, now: datetime) -> RoundResult:
        result = RoundResult()
        if not await deliveries.any_due(self.store, [endpoint.id], now):
            return result
        s = self.settings
        lease = (2 * endpoint.timeout_seconds + s.lease_margin_seconds, s.batch_size)
        claimed = await deliveries.claim(self.store, [endpoint.id], self.worker_id, now, lease)
        if not claimed:
            return result
        attempts = await asyncio.gather(*(self._attempt(c, endpoint) for c in claimed))
        result.attempted = len(attempts)
        result.delivered = sum(1 for a in attempts if a.ok)
        result.disabled = await self.recorder.record(attempts, self.clock())
        return result

    async def _endpoints(self) -> dict[str, Endpoint]:
        async with self.store.read() as conn:
            found = await list_endpoints(conn)
            if any(e.source == "api" for e in found):
                # Read each round: an endpoint deleted and made again has a new secret.
                stored = await api_secrets(conn)
                self._api_keys = {
                    eid: keys
                    for eid, secret in stored.items()
                    if (keys := self._derived(eid, secret)) is not None
                }
        return {e.id: e for e in found}

    def _derived(self, endpoint_id: str, stored: str) -> tuple[bytes, ...] | None:
        """The signing keys of a stored secret, opened once per stored value (a round runs
        every second). One the key does not open is logged once and left out: its
        endpoint is not delivered to (its deliveries wait) until it is made again."""
        if stored in self._by_secret:
            return self._by_secret[stored]
        keys: tuple[bytes, ...] | None = None
        try:
            keys = signing_keys(self.sealer.open(stored), None)
        except SealBroken as exc:
            log.error(
                "webhook endpoint %s: its secret is %s; delete it and create it again",
                endpoint_id,
                exc,
            )
        self._by_secret[stored] = keys
        return keys

    def _keys(self, endpoint: Endpoint) -> tuple[bytes, ...] | None:
        if endpoint.source == "config":
            return self._config_keys.get(endpoint.id)
        return self._api_keys.get(endpoint.id)

    async def _attempt(self, c: deliveries.Claimed, endpoint: Endpoint) -> Attempt:
        at = self.clock()
        if c.event_key is None or c.type is None or c.created_at is None:
            return Attempt(c, endpoint, at, None, "the event was erased", 0, moot=True)
        keys = self._keys(endpoint)
        assert keys is not None  # only endpoints with keys are claimed
        body = event_body(c.type, c.created_at, c.data or {})
        headers = signed_headers(keys, c.event_key, int(at.timestamp()), body)
        headers["user-agent"] = USER_AGENT
        started = time.monotonic()
        code, error, retry_after = await self._post(endpoint, body, headers, at)
        took = round((time.monotonic() - started) * 1000)
        if code is not None and not 200 <= code < 300:
            error = error or f"HTTP {code}"
        log.info(
            "webhook attempt delivery=%s endpoint=%s type=%s status=%s ms=%s",
            c.id,
            endpoint.id,
            c.type,
            code if code is not None else error,
            took,
        )
        return Attempt(c, endpoint, at, code, error, took, retry_after)

    async def _post(
        self, endpoint: Endpoint, body: bytes, headers: dict[str, str], at: datetime
    ) -> tuple[int | None, str | None, float | None]:
        if not endpoint.allow_private:
            host = urlsplit(endpoint.url).hostname or ""
            if (problem := literal_problem(host)) is not None:
                return None, f"destination refused: {problem}", None
        timeout = aiohttp.ClientTimeout(total=endpoint.timeout_seconds)
        try:
            async with self._session(endpoint.allow_private).post(
                endpoint.url, data=body, headers=headers, timeout=timeout, allow_redirects=False
            ) as resp:
                await resp.content.read(MAX_ANSWER)
                return resp.status, None, retry_after(resp.headers.get("Retry-After"), at)
        except aiohttp.ClientConnectorError as exc:
            if isinstance(exc.os_error, DestinationRefused):
                return None, f"destination refused: {exc.os_error}", None
            return None, f"cannot connect: {exc.os_error.__class__.__name__}", None
        except TimeoutError:
            return None, f"timed out after {endpoint.timeout_seconds:g}s", None
        except (aiohttp.ClientError, OSError) as exc:
            return None, f"{exc.__class__.__name__}: {exc}"[:300], None

    def _session(self, allow_private: bool) -> aiohttp.ClientSession:
        session = self._sessions.get(allow_private)
        if session is None or session.closed:
            connector = aiohttp.TCPConnector(
                limit=self.settings.batch_size,
                resolver=None if allow_private else GuardedResolver(),
            )
            session = aiohttp.ClientSession(connector=connector, trust_env=False)
            self._sessions[allow_private] = session
        return session


def retry_after(value: str | None, now: datetime) -> float | None:
    """Seconds from a Retry-After header (delay-seconds or an HTTP date); None if absent."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - now).total_seconds())
