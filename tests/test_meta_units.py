"""The Meta connectors' pure parts, table-driven: signatures, Graph error mapping, text
splitting, template choice, and reading batched deliveries."""

from __future__ import annotations

import hashlib
import hmac

import pytest

from connectors.meta.errors import GraphError
from connectors.meta.inbound import BadDelivery
from connectors.meta.messenger import parse_messaging
from connectors.meta.outgoing import INSTAGRAM_TEXT_BYTES, split_text, whatsapp_template
from connectors.meta.settings import WhatsAppConfig
from connectors.meta.webhook import signature_ok
from connectors.meta.whatsapp import parse_whatsapp
from hub.connector import (
    ConnectorAuthError,
    PermanentSendError,
    RecipientUnreachable,
    RetryLater,
)
from hub.messages import Address, OutboundMessage

SECRET = b"app-secret"
BODY = b'{"object":"whatsapp_business_account","entry":[]}'
GOOD = "sha256=" + hmac.new(SECRET, BODY, hashlib.sha256).hexdigest()


@pytest.mark.parametrize(
    ("body", "header", "ok"),
    [
        (BODY, GOOD, True),
        (BODY, GOOD.upper().replace("SHA256=", "sha256="), False),  # hex digests are lower-case
        (BODY, "", False),
        (BODY, GOOD[7:], False),  # no "sha256=" prefix
        (BODY, "sha1=" + GOOD[7:], False),
        (BODY + b"\n", GOOD, False),
        (BODY, GOOD + "00", False),
        (BODY, "sha256=\u00e9", False),  # not even ASCII
    ],
)
def test_signature_is_hmac_sha256_of_the_raw_body(body: bytes, header: str, ok: bool) -> None:
    assert signature_ok(SECRET, body, header) is ok


TO = Address("whatsapp", "8801712345678")


@pytest.mark.parametrize(
    ("status", "error", "expected"),
    [
        (401, {"code": 190, "error_subcode": 463, "type": "OAuthException"}, ConnectorAuthError),
        (400, {"code": 190, "type": "OAuthException"}, ConnectorAuthError),
        (401, {"code": 102}, ConnectorAuthError),
        (400, {"code": 131047}, PermanentSendError),
        (400, {"code": 10, "error_subcode": 2018278}, PermanentSendError),
        (400, {"code": 131026}, RecipientUnreachable),
        (400, {"code": 551}, RecipientUnreachable),
        (400, {"code": 130429}, RetryLater),
        (400, {"code": 4}, RetryLater),
        (429, {}, RetryLater),
        (400, {"code": 100}, PermanentSendError),
        (500, {"code": 1}, GraphError),  # transient: retried with backoff
        (503, {}, GraphError),
    ],
)
def test_graph_errors_map_to_what_the_outbox_does(
    status: int, error: dict, expected: type[Exception]
) -> None:
    mapped = GraphError(status, error).for_send(TO)
    assert type(mapped) is expected
    if expected is RecipientUnreachable:
        assert mapped.address == TO  # type: ignore[attr-defined]


def test_window_refusal_says_what_to_do() -> None:
    mapped = GraphError(400, {"code": 131047, "message": "Re-engagement message"}).for_send(TO)
    assert "24-hour" in str(mapped) and "template" in str(mapped)


@pytest.mark.parametrize(
    ("text", "limit", "size", "parts"),
    [
        ("short", 10, len, ["short"]),
        ("word " * 5, 12, len, ["word word", "word word", "word"]),
        ("x" * 25, 10, len, ["x" * 10, "x" * 10, "x" * 5]),
        ("", 10, len, []),
    ],
)
def test_split_text(text: str, limit: int, size: object, parts: list[str]) -> None:
    assert split_text(text, limit, size) == parts  # type: ignore[arg-type]


def test_instagram_parts_fit_its_byte_limit() -> None:
    text = "আমার অর্ডার কোথায়? " * 200
    parts = split_text(text, INSTAGRAM_TEXT_BYTES, lambda s: len(s.encode()))
    assert all(len(p.encode()) <= INSTAGRAM_TEXT_BYTES for p in parts)
    assert " ".join(parts).split() == text.split()


def test_template_for_falls_back_to_the_language() -> None:
    cfg = WhatsAppConfig.model_validate(
        {
            "id": "wa",
            "type": "whatsapp",
            "app_secret": "s" * 16,
            "verify_token": "v" * 16,
            "access_token": "t" * 16,
            "phone_number_id": "123",
            "templates": {"bn": {"name": "followup", "language": "bn"}},
        }
    )
    assert [cfg.template_for(x) for x in ("bn", "bn_BD", "en")] == ["bn", "bn", None]


def _wa_config(**template: object) -> WhatsAppConfig:
    return WhatsAppConfig.model_validate(
        {
            "id": "wa",
            "type": "whatsapp",
            "app_secret": "s" * 16,
            "verify_token": "v" * 16,
            "access_token": "t" * 16,
            "phone_number_id": "123",
            "templates": {"en": {"name": "followup", "language": "en_US", **template}},
        }
    )


@pytest.mark.parametrize(
    ("display_name", "fallback", "sent"),
    [("Asha", None, "Asha"), (None, "there", "there"), ("  ", "there", "there")],
)
def test_template_names_the_customer_or_the_fallback(
    display_name: str | None, fallback: str | None, sent: str
) -> None:
    cfg = _wa_config(params=["customer_name", "text"], name_fallback=fallback)
    msg = OutboundMessage(
        "wa", Address("whatsapp", "+8801712345678", display_name), "Your parcel left", "k1",
        template="en",
    )  # fmt: skip
    body = whatsapp_template(cfg, msg)
    params = body["template"]["components"][0]["parameters"]
    assert [p["text"] for p in params] == [sent, "Your parcel left"]


def test_template_needing_a_name_the_customer_lacks_fails_with_the_fix() -> None:
    cfg = _wa_config(params=["customer_name"])
    msg = OutboundMessage("wa", Address("whatsapp", "+8801712345678"), "x", "k2", template="en")
    with pytest.raises(PermanentSendError, match="name_fallback"):
        whatsapp_template(cfg, msg)


def _wa_change(messages: list[dict], statuses: list[dict] | None = None) -> dict:
    return {
        "field": "messages",
        "value": {
            "messaging_product": "whatsapp",
            "metadata": {"phone_number_id": "1"},
            "contacts": [{"wa_id": m["from"], "profile": {"name": "N"}} for m in messages],
            "messages": messages,
            "statuses": statuses or [],
        },
    }


def test_every_event_of_a_batched_delivery_is_read() -> None:
    def text(i: int, who: str) -> dict:
        return {
            "from": who,
            "id": f"wamid.{i}",
            "timestamp": "1700000000",
            "type": "text",
            "text": {"body": f"t{i}"},
        }

    body = {
        "object": "whatsapp_business_account",
        "entry": [
            {"id": "a", "changes": [_wa_change([text(1, "111"), text(2, "222")])]},
            {
                "id": "b",
                "changes": [
                    _wa_change(
                        [text(3, "111")],
                        [
                            {
                                "id": "wamid.ours",
                                "status": "read",
                                "timestamp": "1700000001",
                                "recipient_id": "111",
                            }
                        ],
                    ),
                    {"field": "message_template_status_update", "value": {"event": "APPROVED"}},
                ],
            },
        ],
    }
    parsed = parse_whatsapp(body, "wa")
    assert [m.message.external_id for m in parsed.messages] == ["wamid.1", "wamid.2", "wamid.3"]
    assert [(e.kind, e.ref, e.value) for e in parsed.events] == [("status", "wamid.ours", "read")]
    assert parsed.skipped == ["field message_template_status_update"]


@pytest.mark.parametrize(
    "body",
    [None, [], {"object": "page"}, {"object": "instagram", "entry": []}, {"entry": []}],
)
def test_a_delivery_for_another_product_is_refused(body: object) -> None:
    with pytest.raises(BadDelivery):
        parse_whatsapp(body, "wa")


def test_garbage_inside_a_delivery_is_skipped_not_fatal() -> None:
    body = {
        "object": "page",
        "entry": [
            {"messaging": [None, 3, {"sender": {"id": "1"}}, {"message": {"text": "no mid"}}]},
            "x",
        ],
    }
    parsed = parse_messaging(body, "messenger", "me", "999")
    assert parsed.messages == [] and parsed.events == []
    assert len(parsed.skipped) == 4
