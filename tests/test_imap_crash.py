"""Crash safety of IMAP import: 2,000 mails in a Dovecot mailbox, the hub (`python -m hub
serve`, a child process) SIGKILLed at three random points of the import and restarted;
afterwards every mail is exactly one message and every acknowledgement went out once.

The kill points are seeded (reproducible): once the import has committed at least the
drawn number of messages, the next acknowledgement the hub hands to the SMTP peer triggers
the SIGKILL, before the peer takes it. So the kill lands wherever the import happens to be
(fetching, parsing, committing, moving the checkpoint) but never inside the outbox's one
honest window (relay accepted, hub not yet told), which tests/test_crash_safety.py covers;
here a second copy of an acknowledgement would be a bug.
"""

from __future__ import annotations

import asyncio
import random
import signal
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import yaml
from sqlalchemy import func, select

from hub.store import Store
from hub.store.schema import connector_state, messages, outbox
from tests.dovecot import Dovecot
from tests.hub_processes import HubProcess
from tests.imap_support import imap_config_data, mail
from tests.support import SmtpSink, free_port
from tests.test_crash_safety import Stopwatch

pytestmark = pytest.mark.slow

N_MAILS = 2000
SEED = 20261123
KILLS = 3
MARKER = "marker@example.com"


@dataclass
class TrippingSink(SmtpSink):
    """An SMTP peer that, once armed, SIGKILLs the hub on its next message and refuses it
    (451), so that message was never delivered and the hub never heard of it."""

    victim: HubProcess | None = None
    refused: int = 0

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        victim = self.victim
        if victim is not None:
            self.victim = None
            victim.kill()
            self.refused += 1
            return "451 4.3.0 try again later"
        return await super().handle_DATA(server, session, envelope)


async def inbound(store: Store) -> int:
    async with store.read() as conn:
        return int(
            (
                await conn.execute(
                    select(func.count()).select_from(messages).where(messages.c.direction == "in")
                )
            ).scalar_one()
        )


async def post_marker(port: int) -> None:
    body = {"name": "Marker", "email": MARKER, "message": "A marker"}
    async with (
        aiohttp.ClientSession() as http,
        http.post(f"http://127.0.0.1:{port}/channels/contact/", json=body) as resp,
    ):
        assert resp.status == 201, await resp.text()


@pytest.mark.heavy
async def test_sigkill_three_times_during_import_of_2000_mails(
    tmp_path: Path, dovecot: Dovecot
) -> None:
    rng = random.Random(SEED)
    targets = []
    for _ in range(KILLS):
        targets.append((targets[-1] if targets else 0) + rng.randrange(100, 600))
    user = dovecot.new_user()
    raws = [mail(n, sender=f"c{n}@example.com") for n in range(N_MAILS)]
    await asyncio.to_thread(dovecot.deliver, user, raws)

    smtp = TrippingSink().start()
    url = f"sqlite+aiosqlite:///{tmp_path / 'hub.db'}"
    port = free_port()
    data = imap_config_data(
        url, smtp, dovecot, user,
        # A SIGKILLed reader cannot let go of the mailbox: the next waits out its lease.
        lease_seconds=3,
        hub={
            "web": {"host": "127.0.0.1", "port": port, "public_url": f"http://127.0.0.1:{port}"},
            "outbox": {"max_attempts": 10, "base_delay_seconds": 0.1, "max_delay_seconds": 0.5,
                       "lease_seconds": 2, "poll_seconds": 0.05},
        },
    )  # fmt: skip
    config_file = tmp_path / "hub.yaml"
    config_file.write_text(yaml.safe_dump(data), encoding="utf-8")
    hubs = [HubProcess(config_file, tmp_path / f"hub-{n}.log", port) for n in range(KILLS + 1)]
    store = Store(url)
    clock = Stopwatch()
    at_kill: list[int] = []
    try:
        for hub, target in zip(hubs, targets, strict=False):
            await hub.start()
            while await inbound(store) < target:
                assert hub.proc is not None and hub.proc.returncode is None, hub.log()
                await asyncio.sleep(0.01)
            smtp.victim = hub
            assert hub.proc is not None
            await asyncio.wait_for(hub.proc.wait(), timeout=30)
            assert hub.proc.returncode == -signal.SIGKILL
            at_kill.append(await inbound(store))
            clock.lap(f"killed at {at_kill[-1]} messages (target {target})")
        last = hubs[-1]
        await last.start()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 90
        while True:
            # Counts only: this process also runs the SMTP peer, and reading every row each
            # round would hold the GIL against it.
            async with store.read() as conn:
                states = dict(
                    (await conn.execute(
                        select(outbox.c.status, func.count()).group_by(outbox.c.status))).all()
                )  # fmt: skip
            n_in = await inbound(store)
            if n_in >= N_MAILS and sum(states.values()) >= N_MAILS and set(states) == {"sent"}:
                break
            assert loop.time() < deadline, f"{n_in} in, outbox {states}"
            await asyncio.sleep(0.25)
        async with store.read() as conn:
            ids = [r.external_id for r in await conn.execute(
                select(messages.c.external_id).where(messages.c.direction == "in"))]  # fmt: skip
            acks = list(await conn.execute(select(outbox)))
            checkpoint = (
                await conn.execute(
                    select(connector_state.c.value).where(connector_state.c.key == "sync:INBOX")
                )
            ).scalar()
        clock.lap("imported and acknowledged everything")
        # A marker: an acknowledgement queued now. The outbox sends what is due in order,
        # so when the marker arrives, anything sent twice has arrived before it.
        await post_marker(port)
        await smtp.wait_for(N_MAILS + 1)
        last_to = smtp.messages[-1]["To"].addresses[0].addr_spec
        assert last_to == MARKER, f"a mail arrived after the {N_MAILS} acknowledgements: {last_to}"
        await last.stop()
        assert last.proc is not None and last.proc.returncode == 0, last.log()
    finally:
        for hub in hubs:
            hub.kill()
            await hub.stop()
        await store.close()
        smtp.stop()

    print(f"\nkill targets {targets}, messages committed at each kill {at_kill}")
    print("\n".join(clock.laps))
    # Each kill came in the middle of the import.
    assert all(t <= n < N_MAILS for t, n in zip(targets, at_kill, strict=True))
    assert smtp.refused == KILLS
    # Every mail exactly once.
    assert len(ids) == N_MAILS
    assert set(ids) == {f"<order-{n}@example.com>" for n in range(N_MAILS)}
    assert checkpoint["last_uid"] == N_MAILS
    # One acknowledgement per ticket, delivered exactly once, to its customer.
    assert len(acks) == N_MAILS and len({a.ticket_id for a in acks}) == N_MAILS
    acknowledged = [m for m in smtp.messages if m["To"].addresses[0].addr_spec != MARKER]
    assert len(acknowledged) == len(smtp.messages) - 1
    received = Counter(str(m["Message-ID"]) for m in acknowledged)
    assert set(received) == {a.remote_id for a in acks}
    assert max(received.values()) == 1, [mid for mid, n in received.items() if n > 1]
    recipient = {a.remote_id: a.recipient for a in acks}
    for m in acknowledged:
        assert m["To"].addresses[0].addr_spec == recipient[str(m["Message-ID"])]
