"""Greetings and campaigns on WhatsApp: free text inside the 24-hour window, the approved
template outside it, else the next channel or a skip with its reason. The real hub, the
loopback Graph API fake and an SMTP sink; the sweeps run for a given time."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from hub.config.loader import ConfigError
from hub.config.templates import ApprovedTemplate
from hub.customers.consent import OPT_IN, record_consent
from hub.customers.occasions import md_columns
from hub.messages import TemplateMessage
from hub.proactive.templates import Windows, fill, pick
from hub.store.schema import customers, identities
from tests.fakes.graph_api import FakeGraphApi
from tests.meta_harness import Rig, connector_config, fake_graph, wa_text
from tests.support import SmtpSink, base_config, hub_running, make_config

# Yesterday 09:00 UTC: a greeting due then is long past its catch-up window now, so the
# hub's own scheduled sweeps (at the real time) never queue it; only ours does.
_Y = datetime.now(UTC).date() - timedelta(days=1)
SWEEP_AT = datetime(_Y.year, _Y.month, _Y.day, 9, 0, tzinfo=UTC)
BIRTHDAY = date(1992, _Y.month, _Y.day)  # 1992 is a leap year: any day exists

GREETINGS = {
    "send_hour": 9,
    "channel_order": ["whatsapp", "email"],
    "offer": {"en": "Take 10% off this week."},
    "approved_templates": {
        "whatsapp": {
            "birthday": {
                "en": {
                    "name": "birthday_wish",
                    "language": "en_US",
                    "params": ["customer_name", "years", "offer"],
                }
            }
        }
    },
}
CAMPAIGN = {
    "name": "eid",
    "template": "seasonal_offer",
    "send_date": _Y.isoformat(),
    "send_hour": 9,
    "channel_order": ["whatsapp", "email"],
    "params": {"code": "EID25"},
    "approved_templates": {
        "whatsapp": {"en": {"name": "eid_offer", "language": "en", "params": ["param:code"]}}
    },
}


def _config(storage_url: str, api: FakeGraphApi, smtp: SmtpSink, **extra: Any) -> Any:
    data = base_config(storage_url, smtp.port, greetings=GREETINGS, **extra)
    data["connectors"] = [*data["connectors"], connector_config("whatsapp", api)]
    data["bot"] = {"faq": None}
    return make_config(data)


async def _wa_customer(
    rig: Rig, wa_id: str, hours_ago: float, name: str, locale: str, email: str | None = None
) -> int:
    """A customer who last wrote on WhatsApp `hours_ago` before the sweep, with consent."""
    ts = int((SWEEP_AT - timedelta(hours=hours_ago)).timestamp())
    status, answer = await rig.post(wa_text(f"wamid.{wa_id}", "Hello", wa_id=wa_id, ts=ts))
    assert status == 200, answer
    (cid,) = {m.customer_id for m in await rig.inbound() if m.external_id == f"wamid.{wa_id}"}
    store = rig.hub.store
    async with store.write() as conn:
        await conn.execute(
            customers.update()
            .where(customers.c.id == cid)
            .values(
                md_columns(
                    {
                        "display_name": name,
                        "locale": locale,
                        "timezone": "UTC",
                        "birthday": BIRTHDAY,
                    }
                )
            )
        )
        await record_consent(store, conn, cid, "whatsapp", OPT_IN, "test")
        if email:
            await conn.execute(
                identities.insert().values(
                    customer_id=cid,
                    kind="email",
                    value=email,
                    unreachable=False,
                    created_at=SWEEP_AT,
                )
            )
            await record_consent(store, conn, cid, "email", OPT_IN, "test")
    return int(cid)


async def _settled(rig: Rig) -> list[Any]:
    """Every outbox row, once none is pending."""
    for _ in range(200):
        rows = await rig.outbox_rows()
        if all(r.status != "pending" for r in rows):
            return rows
        await asyncio.sleep(0.05)
    raise AssertionError(f"outbox never settled: {[(r.id, r.status) for r in rows]}")


def _to(api: FakeGraphApi, wa_id: str) -> list[dict[str, Any]]:
    return [c.json for c in api.sent() if c.json and c.json.get("to") == wa_id]


async def test_birthday_goes_as_template_outside_the_window_and_text_inside(
    storage_url: str, smtp: SmtpSink
) -> None:
    async with fake_graph() as api, hub_running(_config(storage_url, api, smtp)) as hub:
        rig = Rig(hub, api, "wa")
        await rig.wait_state("running")
        late = await _wa_customer(rig, "8801700000001", 25, "Asha Rahman", "en")
        await _wa_customer(rig, "8801700000002", 2, "Babul Mia", "en")
        # 'bn' has no approved template: email carries it, or nothing does.
        await _wa_customer(rig, "8801700000003", 25, "Chandra Das", "bn", "chandra@example.com")
        await _wa_customer(rig, "8801700000004", 30, "Dipa Sen", "bn")
        await _settled(rig)  # the chat bot's handoffs to the first messages
        before = {
            wa: len(_to(api, wa)) for wa in ("8801700000001", "8801700000003", "8801700000004")
        }
        # Meta refuses free text to whoever wrote more than 24 hours ago.
        api.window_closed.update(before)

        assert hub.sweeper is not None
        result = await hub.sweeper.sweep(SWEEP_AT)
        assert (await hub.sweeper.sweep(SWEEP_AT + timedelta(minutes=5))).queued == 0
        rows = await _settled(rig)

        assert result.due == 4 and result.queued == 3
        assert result.skipped == {
            "outside the whatsapp reply window and no approved whatsapp template for locale "
            "'bn'; no consent for email": 1
        }
        greetings = [r for r in rows if r.kind == "greeting:birthday"]
        assert len(greetings) == 3 and all(r.status == "sent" for r in greetings), greetings

        # Outside the window: exactly one message, the template, with its parameters.
        (tpl,) = _to(api, "8801700000001")[before["8801700000001"] :]
        years = SWEEP_AT.year - 1992
        assert tpl["type"] == "template"
        assert tpl["template"] == {
            "name": "birthday_wish",
            "language": {"code": "en_US"},
            "components": [
                {
                    "type": "body",
                    "parameters": [
                        {"type": "text", "text": "Asha Rahman"},
                        {"type": "text", "text": str(years)},
                        {"type": "text", "text": "Take 10% off this week."},
                    ],
                }
            ],
        }
        (late_row,) = [r for r in greetings if r.customer_id == late]
        assert late_row.payload == {
            "template": {
                "name": "birthday_wish",
                "language": "en_US",
                "params": ["Asha Rahman", str(years), "Take 10% off this week."],
            }
        }
        # Inside the window: the rendered greeting as free text.
        texts = [c for c in _to(api, "8801700000002") if c["type"] == "text"]
        assert any("Babul" in c["text"]["body"] for c in texts), texts
        assert not [c for c in _to(api, "8801700000002") if c["type"] == "template"]
        # No template for 'bn': nothing more on WhatsApp; the email got it.
        assert len(_to(api, "8801700000003")) == before["8801700000003"]
        assert len(_to(api, "8801700000004")) == before["8801700000004"]
        assert [m["To"] for m in smtp.messages] == ["Chandra Das <chandra@example.com>"]
        # Nothing was refused by Meta.
        assert not [r for r in rows if r.status == "dead"], [r.last_error for r in rows]
        # The preview (`hub greetings preview`) shows the same choices and the reason.
        plans = {p.customer_name: p for p in await hub.sweeper.preview(_Y)}
        assert plans["Asha Rahman"].template is not None
        assert plans["Asha Rahman"].template.name == "birthday_wish"
        assert plans["Chandra Das"].channel == "email" and plans["Dipa Sen"].channel is None
        assert "no approved whatsapp template for locale 'bn'" in str(plans["Dipa Sen"].reason)


async def test_campaign_outside_the_window_goes_as_its_template(
    storage_url: str, smtp: SmtpSink
) -> None:
    async with fake_graph() as api:
        async with hub_running(_config(storage_url, api, smtp, campaigns=[CAMPAIGN])) as hub:
            rig = Rig(hub, api, "wa")
            await rig.wait_state("running")
            await _wa_customer(rig, "8801700000011", 26, "Esha Roy", "en")
            await _wa_customer(rig, "8801700000012", 1, "Farid Khan", "en")
            await _settled(rig)
            first = len(_to(api, "8801700000011"))
            api.window_closed.add("8801700000011")
            assert hub.campaigns is not None
            (result,) = await hub.campaigns.sweep(SWEEP_AT)
            assert result.queued == 2 and result.skipped == {}
            rows = await _settled(rig)
            assert not [r for r in rows if r.status == "dead"], [r.last_error for r in rows]
            (tpl,) = _to(api, "8801700000011")[first:]
            assert tpl["template"] == {
                "name": "eid_offer",
                "language": {"code": "en"},
                "components": [{"type": "body", "parameters": [{"type": "text", "text": "EID25"}]}],
            }
            (offer,) = [c for c in _to(api, "8801700000012") if "EID25" in str(c)]
            assert offer["type"] == "text" and "Hello Farid Khan" in offer["text"]["body"]


def test_check_config_names_file_and_line_of_bad_approved_templates(tmp_path: Any) -> None:
    data = base_config(f"sqlite+aiosqlite:///{tmp_path}/h.db")
    data["connectors"] = [
        *data["connectors"],
        {
            **connector_config("messenger", FakeGraphApi("t" * 20, ("5550001112223",))),
            "graph_url": "http://127.0.0.1:1",
        },
    ]
    data["greetings"] = {
        "channel_order": ["email", "messenger"],
        "approved_templates": {
            "email": {"birthday": {"en": {"name": "x", "language": "en", "params": []}}},
            "messenger": {"birthday": {"en": {"name": "x", "language": "en"}}},
            "whatsapp": {
                "birthday": {"en": {"name": "x", "language": "en", "params": ["shoe_size"]}}
            },
        },
    }
    with pytest.raises(ConfigError) as err:
        make_config(data)
    text = str(err.value)
    lines = [str(i) for i in err.value.issues]
    assert all(line.startswith("test.yaml:") for line in lines), lines
    assert "greetings.approved_templates.email" in text and "no reply window" in text
    assert "messenger has no message templates" in text
    assert "'whatsapp' is not in channel_order" in text and "no connector sends whatsapp" in text
    assert "unknown parameter 'shoe_size'" in text
    # A locale babel does not know is refused by the model, with its line too.
    data["greetings"] = {
        "approved_templates": {
            "whatsapp": {"birthday": {"xx_YY_ZZ": {"name": "x", "language": "en"}}}
        }
    }
    with pytest.raises(ConfigError) as err:
        make_config(data)
    assert "unknown locale 'xx_YY_ZZ'" in str(err.value)


def test_free_text_only_while_an_hour_of_the_window_is_left() -> None:
    last = {(1, "wa"): SWEEP_AT - timedelta(hours=22, minutes=59)}
    w = Windows(
        {"wa": 24.0}, {**last, (2, "wa"): SWEEP_AT - timedelta(hours=23, minutes=1)}, SWEEP_AT
    )
    assert w.open_for(1, "wa") is True
    assert w.open_for(2, "wa") is False  # 59 minutes left: a retry could miss it
    assert w.open_for(3, "wa") is False  # never wrote there
    assert w.open_for(1, "mail") is None  # no window at all


def test_pick_falls_back_to_the_language_and_fill_refuses_empty_values() -> None:
    en = ApprovedTemplate(name="a", language="en_US", params=["customer_name"])
    assert pick({"en": en}, "en_GB") is en and pick({"en": en}, "bn") is None
    assert fill(en, {"customer_name": "Asha"}) == TemplateMessage("a", "en_US", ("Asha",))
    assert "needs customer_name" in str(fill(en, {"customer_name": "  "}))
