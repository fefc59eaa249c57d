"""Every webhook body in ../shared/corpora/whatsapp/updates, signed with the app secret and
posted to the real hub: the outcome ../shared/corpora/whatsapp/EXPECTED.md describes, in
our terms. A customer's message is a ticket message of the right kind, with its media
fetched through the Graph API fake; a status marks the message of ours it names; an edit
or deletion marks the original; business-platform events change nothing.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from hub.store.schema import attachments, identities, messages, quarantine, tickets
from tests.meta_harness import APP_SECRET, Rig, fake_graph, meta_hub, seed_customers, wa_text
from tests.migrated import copy_sqlite
from tests.snapshot import settled_snapshot
from tests.support import ROOT

CORPUS = ROOT.parent / "shared" / "corpora" / "whatsapp" / "updates"


@dataclass(frozen=True)
class Msg:
    """A customer's message: stored, on a ticket."""

    kind: str
    text: str = ""  # found in the body
    files: int = 0  # attachments fetched
    meta: dict[str, Any] = field(default_factory=dict)
    auto: bool = False
    filename: str | None = None


@dataclass(frozen=True)
class Ev:
    """An event on a message already on record: `ours` a message we sent, else the
    customer's (the test stores that first)."""

    kind: str
    value: str | None = None
    ours: bool = False


NOTHING = None
FWD = {"forwarded": True}
CASES: dict[str, Msg | Ev | None] = {
    "message/text": Msg("text", "Body Text"),
    "message/image": Msg("image", files=1),
    "message/media_with_url": Msg("image", files=1),
    "message/video": Msg("video", "caption", 1, FWD),
    "message/document": Msg("document", "caption", 1, FWD, filename="filename.pdf"),
    "message/audio": Msg("audio", files=1, meta=FWD),
    "message/voice": Msg("audio", files=1, meta={"voice": True}),
    "message/static_sticker": Msg("sticker", files=1, meta={"animated": False}),
    "message/animated_sticker": Msg("sticker", files=1, meta={"animated": True}),
    "message/reaction": Ev("reaction", "\U0001f62e"),
    "message/unreaction_empty": Ev("reaction", ""),
    "message/unreaction_no_emoji": Ev("reaction", ""),
    "message/current_location": Msg("location", "12.25089, 43.90539", meta=FWD),
    "message/chosen_location": Msg("location", "Facebook HQ, 1 Hacker Way", meta=FWD),
    "message/contacts": Msg("contacts", "Contact: Chandler Bing (+1 555-555-5555)"),
    "message/order": Msg("order", "3 x HAMBURGER @ 30 ILS"),
    "message/unsupported": Msg("unsupported", "does not support"),
    "message/unsupported_with_type": Msg("unsupported", "pool"),
    "message/reply": Msg("text", "replied text", meta={"reply_to_message": "wamid.xyzxyz=="}),
    "message/forwarded": Msg("text", "forwarded text", meta=FWD),
    "message/forwarded_many_times": Msg("text", "many", meta={"frequently_forwarded": True}),
    "message/interactive_message_with_err": Msg("interactive", "Something went wrong"),
    "message/referral": Msg("text", "BODY"),
    "callback_button/button": Msg(
        "interactive",
        "title",
        meta={"reply_id": "callback_data", "reply_to_message": "wamid.xyzxyz"},
    ),
    "callback_button/quick_reply": Msg(
        "button", "title", meta={"payload": "callback_data", "reply_to_message": "wamid.xyzxyz=="}
    ),
    "callback_button/quick_reply_without_context": Msg(
        "button", "title", meta={"payload": "callback_data"}
    ),
    "callback_selection/callback": Msg("interactive", "title", meta={"reply_id": "callback_data"}),
    "callback_selection/description": Msg("interactive", "title — description"),
    "call_permission_update/accept": Msg("interactive", "Call permission: accept"),
    "call_permission_update/reject": Msg("interactive", "Call permission: reject"),
    "flow_completion/completion": Msg("interactive", "Sent"),
    "flow_completion/without_flow_token": Msg("interactive", "Sent"),
    "system/phone_number_change": Msg("system", "changed from", auto=True),
    "system/identity_change": Msg("system", "User identity changed", auto=True),
    "message_status/sent": Ev("status", "sent", ours=True),
    "message_status/delivered": Ev("status", "delivered", ours=True),
    "message_status/read": Ev("status", "read", ours=True),
    "message_status/played": Ev("status", "played", ours=True),
    "message_status/failed": Ev("status", "failed", ours=True),
    "message_status/with_tracker": Ev("status", "sent", ours=True),
    "message_status/group": Ev("status", "read", ours=True),
    "edited_message/image": Ev("edit", "Updated image caption"),
    "deleted_message/revoke": Ev("delete"),
    "outgoing_message/text": NOTHING,
    "outgoing_message/delete": NOTHING,
    "outgoing_message/edit": NOTHING,
}
# Business-platform events: they parse without error and change nothing.
for _platform in (
    "account_update",
    "call_connect",
    "call_status",
    "call_terminate",
    "template_category_update",
    "template_components_update",
    "template_quality_update",
    "template_status_update",
    "user_marketing_preferences",
):
    for _case in json.loads((CORPUS / f"{_platform}.json").read_text()):
        CASES[f"{_platform}/{_case}"] = NOTHING

# What the fake Graph API serves for the media ids the corpus names.
MEDIA = {
    "65463453": ("image/jpeg", b"\xff\xd8\xff a photo"),
    "765756756": ("video/mp4", b"\x00\x00\x00\x18ftypmp42 a video"),
    "1234567890987654321": ("application/octet-stream", b"%PDF-1.4 or a voice note"),
}


def corpus_cases() -> dict[str, bytes]:
    out = {}
    for path in sorted(CORPUS.glob("*.json")):
        for case, body in json.loads(path.read_text()).items():
            out[f"{path.stem}/{case}"] = json.dumps(body).encode()
    return out


BODIES = corpus_cases()


def test_the_table_covers_every_corpus_case() -> None:
    assert set(CASES) == set(BODIES)


@pytest.mark.parametrize("case", sorted(c for c, e in CASES.items() if e is not None))
async def test_corpus_body_gives_expected_outcome(case: str, tmp_path: Path) -> None:
    await copy_sqlite(tmp_path / "hub.db")
    await check_case(f"sqlite+aiosqlite:///{tmp_path / 'hub.db'}", case)


async def test_platform_events_and_echoes_parse_and_change_nothing(storage_url: str) -> None:
    """Business-platform events (templates, account, calls, marketing preferences) and
    echoes of what the business app sent: each answered 200, nothing stored, and nothing
    already stored changed (the customers they name are on record)."""
    cases = sorted(c for c, e in CASES.items() if e is None)
    async with fake_graph() as api, meta_hub(storage_url, api) as rig:
        await seed_customers(rig)
        before = await settled_snapshot(rig.hub.store)
        for case in cases:
            status, answer = await rig.post(BODIES[case])
            assert status == 200, (case, answer)
            assert await settled_snapshot(rig.hub.store) == before, case


async def test_every_corpus_body_unsigned_missigned_or_altered_gets_401_and_stores_nothing(
    tmp_path: Path,
) -> None:
    """The signature is checked over the raw bytes before anything is parsed: each corpus
    body with no signature, a signature under another secret, one byte changed, or the
    signature empty, cut short or too long is refused, and the store is exactly as it was."""
    await copy_sqlite(tmp_path / "hub.db")
    async with (
        fake_graph() as api,
        meta_hub(f"sqlite+aiosqlite:///{tmp_path / 'hub.db'}", api) as rig,
    ):
        await seed_customers(rig)
        before = await settled_snapshot(rig.hub.store)
        async with rig.hub.store.read() as conn:
            seeded = (await conn.execute(select(identities.c.id))).all()
        calls_at_start = len(api.calls)  # the token check at start-up, the seeds' hand-overs
        for case, raw in BODIES.items():
            good = api.sign(APP_SECRET, raw)
            middle = len(raw) // 2
            altered = raw[:middle] + bytes([raw[middle] ^ 1]) + raw[middle + 1 :]
            for body, signature in [
                (raw, None),
                (raw, api.sign("not-the-app-secret", raw)),
                (altered, good),
                (raw, "sha256="),  # the digest left out
                (raw, good[:-1]),  # one hex digit short
                (raw, good + "0"),  # one too many
            ]:
                status, answer = await rig.post(body, signature)
                assert status == 401, (case, answer)
        assert await settled_snapshot(rig.hub.store) == before
        async with rig.hub.store.read() as conn:
            assert (await conn.execute(select(identities.c.id))).all() == seeded
        assert api.calls[calls_at_start:] == []  # no media fetched, nothing sent


@pytest.mark.parametrize("case", ["message/image", "message_status/failed", "edited_message/image"])
async def test_corpus_outcomes_on_both_stores(storage_url: str, case: str) -> None:
    """One of each kind of outcome, on SQLite and PostgreSQL alike."""
    await check_case(storage_url, case)


async def check_case(storage_url: str, case: str) -> None:
    expect = CASES[case]
    raw = BODIES[case]
    body = json.loads(raw)
    async with fake_graph() as api, meta_hub(storage_url, api) as rig:
        api.media.update(MEDIA)
        before = await _snapshot(rig)
        target = await _prepare(rig, expect, body)
        status, answer = await rig.post(raw)
        assert status == 200, answer
        # A redelivery of the same body changes nothing more: no row added, none changed.
        after_first = await _snapshot(rig)
        whole_after_first = await settled_snapshot(rig.hub.store)
        assert (await rig.post(raw))[0] == 200
        assert await _snapshot(rig) == after_first
        assert await settled_snapshot(rig.hub.store) == whole_after_first
        if expect is None:
            assert after_first == before
            return
        if isinstance(expect, Msg):
            await _check_message(rig, expect, body)
        else:
            await _check_event(rig, expect, target)


async def _snapshot(rig: Rig) -> tuple[int, ...]:
    async with rig.hub.store.read() as conn:
        counts = []
        for table in (messages, tickets, attachments, quarantine):
            counts.append(len((await conn.execute(select(table.c.id))).all()))
    return (*counts, len(await rig.events()), len(await rig.outbox_rows()))


async def _prepare(rig: Rig, expect: Msg | Ev | None, body: dict[str, Any]) -> int | None:
    """The message an event concerns, stored before the event arrives; its id."""
    if not isinstance(expect, Ev):
        return None
    value = body["entry"][0]["changes"][0]["value"]
    if expect.ours:
        ref = value["statuses"][0]["id"]
        # The bot's hand-over answering this customer is the message of ours the status
        # is about: the fake gives it the corpus's id.
        rig.api.next_ids.append(ref)
        assert (await rig.post(wa_text("wamid.CUSTOMER1", "Hello", "972987654321")))[0] == 200
        for _ in range(200):
            rows = await rig.outbox_rows()
            if rows and rows[0].status == "sent":
                assert rows[0].remote_id == ref
                return int(rows[0].message_id)
            await asyncio.sleep(0.05)
        raise AssertionError("the hand-over was not sent")
    m = value["messages"][0]
    ref = m.get("reaction") or m.get("edit") or m.get("revoke")
    ref = ref.get("message_id") or ref.get("original_message_id")
    assert (await rig.post(wa_text(ref, "The original words", "972987654321")))[0] == 200
    (original,) = await rig.inbound()
    return int(original.id)


async def _check_message(rig: Rig, expect: Msg, body: dict[str, Any]) -> None:
    m = body["entry"][0]["changes"][0]["value"]["messages"][0]
    (stored,) = await rig.inbound()
    assert stored.external_id == m["id"]
    assert stored.channel == "whatsapp" and stored.connector_id == rig.connector_id
    assert stored.meta["kind"] == expect.kind
    assert expect.text in stored.body_text
    for key, value in expect.meta.items():
        assert stored.meta.get(key) == value, key
    # A reply names the message it answers; one without context names none.
    assert stored.meta.get("reply_to_message") == m.get("context", {}).get("id")
    assert stored.auto_submitted is expect.auto
    assert stored.ticket_id is not None
    async with rig.hub.store.read() as conn:
        files = (
            await conn.execute(select(attachments).where(attachments.c.message_id == stored.id))
        ).all()
        ids = {
            (r.kind, r.value)
            for r in await conn.execute(
                select(identities.c.kind, identities.c.value).where(
                    identities.c.customer_id == stored.customer_id
                )
            )
        }
    assert len(files) == expect.files
    for f in files:
        media_id = next(i for i in MEDIA if m.get(m["type"], {}).get("id") == i)
        assert (f.content_type, f.content) == MEDIA[media_id]
        assert f.dropped_reason is None
        if expect.filename:
            assert f.filename == expect.filename
    assert ("whatsapp", m["from"]) in ids
    if m.get("system", {}).get("wa_id"):
        # The customer's new number joins their record.
        assert ("whatsapp", m["system"]["wa_id"]) in ids


async def _check_event(rig: Rig, expect: Ev, target: int | None) -> None:
    events = await rig.events()
    assert [(e.kind, e.value, e.message_id) for e in events] == [
        (expect.kind, expect.value, target)
    ]
    async with rig.hub.store.read() as conn:
        row = (await conn.execute(select(messages).where(messages.c.id == target))).one()
    if expect.kind == "status":
        assert row.direction == "out"
        assert row.delivery_status == expect.value
        if expect.value == "failed":
            assert events[0].detail["errors"][0]["code"] == 130472
    elif expect.kind == "edit":
        assert row.edited_at is not None and row.body_text == expect.value
        assert events[0].detail["previous_text"] == "The original words"
    elif expect.kind == "delete":
        assert row.deleted_at is not None and row.edited_at is None
    else:
        assert (row.delivery_status, row.edited_at, row.deleted_at) == (None, None, None)
