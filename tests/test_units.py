"""Table-driven tests of the pure pieces: identities, routing, language, templates."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from email_validator import EmailNotValidError, validate_email
from hypothesis import given, settings
from hypothesis import strategies as st
from jinja2.exceptions import SecurityError

from hub.config.loader import RoutingConfig
from hub.core.identity import normalize_email, normalize_phone
from hub.core.language import detect_locale
from hub.core.replies import Replies, TemplateProblem
from hub.tickets.routing import RouteInput, Router
from tests.support import ROOT


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("  Ann@Example.COM ", "ann@example.com"),
        ("ann@example.com", "ann@example.com"),
        ("ann.o'neil+tag@sub.example.co.uk", "ann.o'neil+tag@sub.example.co.uk"),
        ("not-an-email", None),
        ("a@b", None),
        ("", None),
        ("x" * 250 + "@example.com", None),
        ("ann@example.com\r\nBcc: evil@example.com", None),
    ],
)
def test_normalize_email(raw: str, expected: str | None) -> None:
    assert normalize_email(raw) == expected


def _validator_says(raw: str) -> str | None:
    value = raw.strip()
    if not value or len(value) > 254:
        return None
    try:
        return validate_email(value, check_deliverability=False).normalized.lower()
    except EmailNotValidError:
        return None


_DOMAIN_PARTS = [
    "example.com",
    "Sub.Example.COM",
    "bücher.de",
    "xn--bcher-kva.de",
    "localhost",
    "example.test",
    "a.b",
    "x.123",
    "[192.0.2.1]",
    "-bad.com",
    "ok-.com",
    "a..b.com",
    "",
    "example.com ",
    "exa mple.com",
    "example.com@example.com",
]


@settings(max_examples=300, deadline=None)
@given(
    local=st.text(alphabet="aZ09.+_-'!#~\"@ <>é\n", max_size=12),
    domain=st.sampled_from(_DOMAIN_PARTS),
    suffix=st.sampled_from(["", "x", ".", ".org", "X.ORG"]),
)
def test_normalize_email_agrees_with_email_validator(local: str, domain: str, suffix: str) -> None:
    # normalize_email answers addresses at domains it has accepted before without asking
    # email-validator; warmed with a plain address at each domain, it must still agree.
    normalize_email(f"warm@{domain}{suffix}")
    raw = f"{local}@{domain}{suffix}"
    assert normalize_email(raw) == _validator_says(raw)


@pytest.mark.parametrize(
    ("raw", "region", "expected"),
    [
        ("+8801712345678", "BD", "+8801712345678"),
        ("01712-345678", "BD", "+8801712345678"),
        ("+880 1712 345 678", "BD", "+8801712345678"),
        ("(202) 555-0143", "US", "+12025550143"),
        ("+880 1712", "BD", None),  # too short for a Bangladeshi mobile
        ("+1 650-253-0000", "BD", "+16502530000"),
        ("020 7946 0018", "GB", "+442079460018"),
        ("12", "BD", None),
        ("not a phone", "BD", None),
        ("", "BD", None),
    ],
)
def test_normalize_phone(raw: str, region: str, expected: str | None) -> None:
    assert normalize_phone(raw, region) == expected


ROUTING = RoutingConfig.model_validate(
    {
        "fallback_team": "support",
        "rules": [
            {
                "name": "vip",
                "match": {"tags": ["vip"]},
                "set": {"team": "vip", "priority": "urgent"},
            },
            {
                "name": "bengali billing",
                "match": {"locale": "bn", "body": "(?i)টাকা|bill"},
                "set": {"team": "billing-bn"},
            },
            {
                "name": "billing",
                "match": {"body": "(?i)invoice"},
                "set": {"team": "billing", "tags": ["money"]},
            },
            {
                "name": "urgent subject",
                "match": {"subject": "^URGENT"},
                "set": {"team": "support", "priority": "high"},
            },
            {
                "name": "form only",
                "match": {"channel": "webform", "connector": "sales"},
                "set": {"team": "sales"},
            },
        ],
    }
)


def _inp(**kw: object) -> RouteInput:
    base: dict[str, object] = dict(
        channel="webform",
        connector_id="contact",
        subject="",
        body="",
        customer_tags=frozenset(),
        locale="en",
    )
    base.update(kw)
    return RouteInput(**base)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("inp", "team", "priority", "rule"),
    [
        (_inp(body="hello"), "support", "normal", None),
        (_inp(body="my invoice", customer_tags=frozenset({"vip", "x"})), "vip", "urgent", "vip"),
        (_inp(body="my INVOICE"), "billing", "normal", "billing"),
        (_inp(body="কত টাকা", locale="bn"), "billing-bn", "normal", "bengali billing"),
        (_inp(body="কত টাকা", locale="en"), "support", "normal", None),
        (_inp(subject="URGENT: down"), "support", "high", "urgent subject"),
        (_inp(subject="not URGENT"), "support", "normal", None),
        (_inp(connector_id="sales"), "sales", "normal", "form only"),
        (_inp(channel="email", connector_id="sales"), "support", "normal", None),
    ],
)
def test_routing_first_match_wins(
    inp: RouteInput, team: str, priority: str, rule: str | None
) -> None:
    decision = Router(ROUTING).route(inp)
    assert (decision.team, decision.priority, decision.rule) == (team, priority, rule)


def test_routing_sets_tags() -> None:
    assert Router(ROUTING).route(_inp(body="invoice")).tags == ("money",)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("আমার অর্ডার এখনো আসেনি, দয়া করে সাহায্য করুন", "bn"),
        ("My order has not arrived yet, please help me", "en"),
        ("Mi pedido no ha llegado todavía, ayúdenme por favor", None),  # not a supported locale
        ("ok", None),  # too short to tell
    ],
)
def test_detect_locale(text: str, expected: str | None) -> None:
    assert detect_locale(text, ("en", "bn")) == expected


def _ctx() -> dict[str, object]:
    return {
        "customer": {"name": "Ann"},
        "ticket": {
            "ref": "T-7",
            "subject": "Hi",
            "created_at": datetime(2026, 2, 28, 20, 0, tzinfo=UTC),
        },
        "team": {"name": "Billing"},
        "signature": "Team",
        "timezone": "Asia/Dhaka",
    }


def test_replies_format_dates_in_customer_zone_and_locale() -> None:
    replies = Replies(ROOT / "templates", "en")
    en = replies.render("acknowledgement", "en", _ctx())
    # 20:00 UTC on 28 February is already 1 March in Dhaka (UTC+6).
    assert "March 1, 2026" in en.text
    bn = replies.render("acknowledgement", "bn", _ctx())
    assert bn.locale == "bn" and "মার্চ" in bn.text


def test_replies_fall_back_to_default_locale() -> None:
    rendered = Replies(ROOT / "templates", "en").render("acknowledgement", "fr", _ctx())
    assert rendered.locale == "en" and rendered.text.startswith("Hello Ann")


def _templates(tmp_path: Path, body: str) -> Replies:
    (tmp_path / "en").mkdir()
    (tmp_path / "en" / "t.subject.j2").write_text("S")
    (tmp_path / "en" / "t.txt.j2").write_text(body)
    return Replies(tmp_path, "en")


def test_templates_are_sandboxed(tmp_path: Path) -> None:
    replies = _templates(tmp_path, "{{ ''.__class__.__mro__[1].__subclasses__() }}")
    with pytest.raises((SecurityError, TemplateProblem)):
        replies.render("t", "en", {})


def test_templates_refuse_undefined_variables(tmp_path: Path) -> None:
    replies = _templates(tmp_path, "Hello {{ customer.nmae }}")
    with pytest.raises(TemplateProblem, match="nmae"):
        replies.render("t", "en", {"customer": {"name": "Ann"}})


def test_html_templates_escape_customer_data(tmp_path: Path) -> None:
    replies = _templates(tmp_path, "x")
    (tmp_path / "en" / "t.html.j2").write_text("<p>{{ customer.name }}</p>")
    rendered = replies.render("t", "en", {"customer": {"name": "<script>alert(1)</script>"}})
    assert rendered.html == "<p>&lt;script&gt;alert(1)&lt;/script&gt;</p>"


def test_opt_out_tokens_round_trip_whatever_bytes_the_mac_holds() -> None:
    from hub.customers.consent import OptOutToken, make_opt_out_token, read_opt_out_token

    # Enough customers that some MACs contain the separator byte (1 in 16 do).
    for customer_id in range(1, 400):
        token = make_opt_out_token(customer_id, "email", b"secret")
        assert read_opt_out_token(token, b"secret") == OptOutToken(customer_id, "email")
        assert read_opt_out_token(token, b"other") is None
    assert read_opt_out_token("not-a-token", b"secret") is None
