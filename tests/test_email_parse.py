"""Email parsing against real-world corpora and the cases support mail is made of."""

from __future__ import annotations

import json
import unicodedata
from email import message_from_bytes, policy
from email.message import EmailMessage
from email.utils import getaddresses
from pathlib import Path
from typing import Any

import pytest

from connectors.email.bodies import html_to_text, split_reply
from connectors.email.compose import compose
from connectors.email.errors import MailParseError, MailUnusable
from connectors.email.headers import header_text
from connectors.email.inbound import to_inbound
from connectors.email.parse import parse_mail
from hub.cli.main import main as hub_main
from hub.messages import Address, OutboundMessage
from tests.support import ROOT

CORPORA = ROOT.parent / "shared" / "corpora" / "email"
CPYTHON = sorted((CORPORA / "cpython").glob("msg_*.txt"))
STALWART = sorted((CORPORA / "stalwart").glob("*/*.eml"))
# Measured: every RFC example agrees in both line-ending variants; of Dovecot's 23 broken
# messages, 9 agree. The other 14 are boundary pathologies (a boundary that is a prefix of
# another, a boundary missing, two Content-Type fields, a mangled first header line) where
# Python's MIME parser and Stalwart's legitimately split the parts differently; see
# test_stalwart_corpus_agrees for the reasons it prints.
STALWART_AGREEMENT_FLOOR = 38  # of 66 (33 messages x LF and CRLF)
SUBJECT_VECTOR_FLOOR = 29  # of 30


def _norm(text: str | None) -> str:
    return " ".join(unicodedata.normalize("NFC", text or "").split())


def _expected(tree: dict[str, Any]) -> tuple[str | None, tuple[str | None, str | None] | None, str]:
    """Subject, (name, address) of the first From, and the text body of a Stalwart parse tree."""
    parts = tree["parts"]
    headers = {h["name"]: h["value"] for h in parts[0]["headers"] if isinstance(h["name"], str)}
    subject = headers["subject"]["Text"] if headers.get("subject") else None
    sender = None
    if headers.get("from"):
        listed = headers["from"]["Address"].get("List") or []
        if listed:
            addr = listed[0].get("address")
            sender = (listed[0].get("name") or None, addr.lower() if addr else None)
    texts = []
    for i in tree["text_body"]:
        kind, value = next(iter(parts[i]["body"].items()))
        if kind == "Text":
            texts.append(value)
        elif kind == "Html":
            texts.append(html_to_text(value))
        elif kind == "InlineBinary":
            ctype = [h for h in parts[i]["headers"] if h["name"] == "content_type"]
            if not ctype or ctype[0]["value"]["ContentType"]["c_type"] == "text":
                texts.append(bytes(value).decode("utf-8", "replace"))
    return subject, sender, "\n".join(texts)


def _stalwart_differences(path: Path, crlf: bool) -> list[str]:
    tree = json.loads(path.with_suffix(".crlf.json" if crlf else ".json").read_text())
    subject, sender, text = _expected(tree)
    raw = path.read_bytes().replace(b"\r\n", b"\n")
    parsed = parse_mail(raw.replace(b"\n", b"\r\n") if crlf else raw)
    got_sender = None
    if parsed.sender is not None:
        addr = parsed.sender.address
        got_sender = (parsed.sender.name, addr.lower() if addr else None)
    diffs = []
    if _norm(parsed.subject) != _norm(subject):
        diffs.append(f"subject {parsed.subject!r} != {subject!r}")
    if got_sender != sender:
        diffs.append(f"sender {got_sender!r} != {sender!r}")
    if _norm(parsed.text) != _norm(text):
        diffs.append(f"text {parsed.text[:60]!r} != {text[:60]!r}")
    return diffs


def test_stalwart_corpus_agrees() -> None:
    assert len(STALWART) == 33, "the corpus is read from ../shared/corpora"
    agree, report = 0, []
    for path in STALWART:
        for crlf in (False, True):
            diffs = _stalwart_differences(path, crlf)
            if diffs:
                report.append(f"{path.parent.name}/{path.name} crlf={crlf}: {'; '.join(diffs)}")
            else:
                agree += 1
    print(f"stalwart agreement: {agree}/{2 * len(STALWART)}", *report, sep="\n  ")
    assert all(not r.startswith("rfc/") for r in report), report
    assert agree >= STALWART_AGREEMENT_FLOOR


def test_stalwart_subject_vectors_decode() -> None:
    vectors = json.loads((CORPORA / "stalwart" / "unstructured.json").read_text())
    agree = 0
    for v in vectors:
        msg = message_from_bytes(f"Subject:{v['header']}\nbody\n".encode(), policy=policy.default)
        agree += _norm(header_text(msg, "Subject")) == _norm(v["expected"])
    assert agree >= SUBJECT_VECTOR_FLOOR


@pytest.mark.parametrize("path", CPYTHON, ids=lambda p: p.name)
def test_cpython_corpus_parses_sanely(path: Path) -> None:
    raw = path.read_bytes()
    parsed = parse_mail(raw)
    reference = message_from_bytes(raw, policy=policy.compat32)
    declared = [a for _, a in getaddresses(reference.get_all("From", [])) if "@" in a]
    if declared:
        assert parsed.sender is not None and parsed.sender.address == declared[0]
    if parsed.subject is not None:
        assert "\n" not in parsed.subject and parsed.subject == parsed.subject.strip()
    assert isinstance(parsed.text, str) and "\r" not in parsed.text
    plain = [
        p
        for p in reference.walk()
        if p.get_content_type() == "text/plain"
        and p.get_content_disposition() != "attachment"
        and (p.get_payload(decode=True) or b"").strip()
    ]
    if plain and not reference.is_multipart():
        assert parsed.text.strip()
    json.dumps(parsed.as_json())  # what `hub email parse` prints must serialise


def _mail(**headers: str) -> EmailMessage:
    mail = EmailMessage()
    mail["From"] = headers.pop("From", "Ann <ann@example.com>")
    mail["To"] = "support@example.org"
    mail["Subject"] = "Help"
    mail["Message-ID"] = "<m1@example.com>"
    for name, value in headers.items():
        del mail[name.replace("_", "-")]
        mail[name.replace("_", "-")] = value
    mail.set_content("Hello, my order is late.\n")
    return mail


@pytest.mark.parametrize(
    ("headers", "reason"),
    [
        ({"Auto_Submitted": "auto-replied"}, "Auto-Submitted: auto-replied"),
        ({"Auto_Submitted": "auto-generated; owner-email=x@y"}, "Auto-Submitted: auto-generated"),
        ({"Precedence": "bulk"}, "Precedence: bulk"),
        ({"Precedence": "list"}, "Precedence: list"),
        ({"Precedence": "junk"}, "Precedence: junk"),
        ({"X_Auto_Response_Suppress": "All"}, "X-Auto-Response-Suppress: All"),
        ({"List_Id": "<news.example.com>"}, "List-Id present (mailing list)"),
        ({"List_Unsubscribe": "<mailto:u@example.com>"}, "List-Unsubscribe present (mailing list)"),
        ({"From": "MAILER-DAEMON@mx.example.com"}, "sender mailer-daemon"),
        ({"From": "Postmaster <postmaster@example.com>"}, "sender postmaster"),
        ({"From": "noreply@shop.example"}, "sender noreply takes no replies"),
        ({"Return_Path": "<>"}, "Return-Path: <> (null sender)"),
    ],
)
def test_loop_guard_headers_mark_mail_automatic(headers: dict[str, str], reason: str) -> None:
    parsed = parse_mail(bytes(_mail(**headers)))
    assert parsed.auto.automatic and parsed.auto.reason == reason
    assert to_inbound(parsed, "inbox").auto_submitted


@pytest.mark.parametrize(
    "headers", [{}, {"Auto_Submitted": "no"}, {"Precedence": "first-class"}], ids=str
)
def test_person_written_mail_is_not_automatic(headers: dict[str, str]) -> None:
    parsed = parse_mail(bytes(_mail(**headers)))
    assert not parsed.auto.automatic and parsed.auto.reason is None


def _dsn(action: str) -> bytes:
    report = EmailMessage()
    report["From"] = "Mail Delivery System <MAILER-DAEMON@mx.example.com>"
    report["To"] = "support@example.org"
    report["Subject"] = "Undelivered Mail Returned to Sender"
    report["Message-ID"] = "<dsn1@mx.example.com>"
    report.set_content("Your message could not be delivered.\n")
    report.make_mixed()
    status = EmailMessage()
    status.set_content(
        f"Reporting-MTA: dns; mx.example.com\n\nFinal-Recipient: rfc822; gone@example.com\n"
        f"Action: {action}\nStatus: 5.1.1\n",
    )
    original = _mail(Message_ID="<ack-123@example.org>")
    raw = bytes(report).decode()
    boundary = report.get_boundary()
    status_part = "Content-Type: message/delivery-status\n\n" + status.get_content()
    orig_part = "Content-Type: message/rfc822\n\n" + bytes(original).decode()
    raw = raw.replace("multipart/mixed", "multipart/report; report-type=delivery-status", 1)
    end = f"--{boundary}--"
    return raw.replace(
        end, f"--{boundary}\n{status_part}\n--{boundary}\n{orig_part}\n{end}"
    ).encode()


def test_failed_delivery_report_names_the_bounced_mail() -> None:
    parsed = parse_mail(_dsn("failed"))
    assert parsed.auto.automatic
    assert parsed.bounced_message_ids == ("<ack-123@example.org>",)
    assert to_inbound(parsed, "inbox").bounced_message_ids == ("<ack-123@example.org>",)


def test_delayed_delivery_report_bounces_nothing() -> None:
    parsed = parse_mail(_dsn("delayed"))
    assert parsed.auto.automatic and parsed.bounced_message_ids == ()


def test_html_only_mail_gets_text_and_sanitized_html() -> None:
    mail = _mail()
    mail.set_content(
        "<html><head><style>p{}</style><script>alert(1)</script></head><body>"
        "<p>Hello&nbsp;team,</p><p onclick='x()'>my <b>order</b> is late.</p>"
        "<ul><li>one</li><li>two</li></ul></body></html>",
        subtype="html",
    )
    parsed = parse_mail(bytes(mail))
    assert parsed.text == "Hello team,\nmy order is late.\n- one\n- two"
    assert parsed.html is not None
    assert "<script" not in parsed.html and "onclick" not in parsed.html
    assert "<b>order</b>" in parsed.html


@pytest.mark.parametrize(
    ("text", "new"),
    [
        (
            "Still broken.\n\nOn Mon, 1 Jan 2024 at 10:00, Support <s@example.org> wrote:\n"
            "> Have you tried turning it off?\n",
            "Still broken.",
        ),
        (
            "Danke!\n\nAm 01.01.2024 um 10:00 schrieb Support <s@example.org>:\n> Hallo\n",
            "Danke!",
        ),
        (
            "See attached.\n\n-----Original Message-----\nFrom: Support\nSent: Monday\n\nOld",
            "See attached.",
        ),
        (
            "Yes please.\n\n________________________________\nFrom: Support <s@example.org>\n"
            "Sent: Monday, 1 January 2024 10:00\nTo: Ann\nSubject: RE: Order\n\nOld text",
            "Yes please.",
        ),
        ("Thanks\n\n-- \nAnn Smith\nACME Ltd", "Thanks"),
        ("Thanks\n\nSent from my iPhone", "Thanks"),
        (
            "> Is the order late?\nYes, by two weeks.\n> Which one?\nNumber 42.",
            "> Is the order late?\nYes, by two weeks.\n> Which one?\nNumber 42.",
        ),
        ("Just this.\n\n> old quote\n> more", "Just this."),
    ],
)
def test_quoted_history_and_signature_are_separated(text: str, new: str) -> None:
    assert split_reply(text).new_text == new


def test_reply_keeps_full_text_and_finds_our_thread_marker() -> None:
    mail = _mail(In_Reply_To="<ack-1@example.org>", References="<a@x> <ack-1@example.org>")
    mail.set_content(
        "It still does not work.\n\nOn Mon, Support wrote:\n> We received your message.\n"
        "> [ref:T-42.0123456789abcdef]\n"
    )
    parsed = parse_mail(bytes(mail))
    inbound = to_inbound(parsed, "inbox")
    assert inbound.text == "It still does not work."
    assert "We received your message." in inbound.meta["full_text"]
    assert inbound.thread_marker == "T-42.0123456789abcdef"
    assert inbound.in_reply_to == "<ack-1@example.org>"
    assert inbound.references == ("<a@x>", "<ack-1@example.org>")
    assert inbound.external_id == "<m1@example.com>" and inbound.channel == "email"


def test_attachments_over_the_cap_are_reported_not_lost() -> None:
    mail = _mail()
    mail.add_attachment(b"x" * 100, maintype="application", subtype="pdf", filename="a.pdf")
    mail.add_attachment(b"y" * 5000, maintype="image", subtype="png", filename="big.png")
    parsed = parse_mail(bytes(mail), max_attachment_bytes=1000)
    assert [(a.filename, a.size) for a in parsed.attachments] == [("a.pdf", 100)]
    assert len(parsed.attachments[0].sha256) == 64
    (dropped,) = parsed.dropped_attachments
    assert (dropped.filename, dropped.content_type, dropped.size) == ("big.png", "image/png", 5000)
    assert "cap" in dropped.reason
    inbound = to_inbound(parsed, "inbox")
    assert inbound.dropped_attachments == (dropped,)
    assert [a.filename for a in inbound.attachments] == ["a.pdf"]


@pytest.mark.parametrize(
    ("body", "charset", "expected", "flagged"),
    [
        ("café".encode(), "us-ascii", "café", True),
        ("café".encode("cp1252"), "utf-8", "café", True),
        ("café".encode(), "x-unknown", "café", True),
        ("Grüße".encode("iso-8859-1"), "iso-8859-1", "Grüße", False),
    ],
)
def test_wrong_charsets_are_repaired_and_flagged(
    body: bytes, charset: str, expected: str, flagged: bool
) -> None:
    raw = (
        b"From: a@example.com\nSubject: s\nMIME-Version: 1.0\n"
        b"Content-Type: text/plain; charset=" + charset.encode() + b"\n"
        b"Content-Transfer-Encoding: 8bit\n\n" + body + b"\n"
    )
    parsed = parse_mail(raw)
    assert parsed.text == expected
    assert bool(parsed.encoding_problems) is flagged


def test_mail_without_message_id_gets_a_stable_id() -> None:
    mail = _mail()
    del mail["Message-ID"]
    first = to_inbound(parse_mail(bytes(mail)), "inbox").external_id
    assert (
        first.startswith("sha256:")
        and first == to_inbound(parse_mail(bytes(mail)), "x").external_id
    )


@pytest.mark.parametrize("raw", [b"", b"\n\n", bytes(range(256)) * 8, b"\x00\x01\x02garbage" * 50])
def test_garbage_is_refused_with_a_reason(raw: bytes) -> None:
    with pytest.raises(MailParseError, match=r"\w"):
        parse_mail(raw)


def test_mail_without_sender_cannot_become_a_message() -> None:
    parsed = parse_mail(b"Subject: who am I\n\nno From anywhere\n")
    with pytest.raises(MailUnusable, match="no sender address"):
        to_inbound(parsed, "inbox")


def test_hub_email_parse_prints_json(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = tmp_path / "m.eml"
    path.write_bytes(bytes(_mail(Precedence="bulk")))
    assert hub_main(["email", "parse", str(path)]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["from"] == {"name": "Ann", "address": "ann@example.com"}
    assert out["subject"] == "Help" and out["message_id"] == "<m1@example.com>"
    assert out["auto_submitted"] == {"automatic": True, "reason": "Precedence: bulk"}
    assert out["text"] == "Hello, my order is late."
    for key in ("to", "cc", "in_reply_to", "references", "date", "html", "attachments"):
        assert key in out
    path.write_bytes(b"\x00\x00binary")
    assert hub_main(["email", "parse", str(path)]) == 1


def test_our_outgoing_mail_carries_the_marker_a_reply_gives_back() -> None:
    out = OutboundMessage(
        connector_id="mail",
        to=Address("email", "ann@example.com", "Ann"),
        text="We received your message.",
        html="<p>We received your message.</p>",
        idempotency_key="k1",
        subject="Re: Help [#T-7]",
        thread_marker="T-7.0123456789abcdef",
    )
    sent = compose(out, from_address="s@example.org", from_name=None, reply_to=None, domain="x")
    assert "[ref:T-7.0123456789abcdef]" in sent.get_body(("plain",)).get_content()
    assert "[ref:T-7.0123456789abcdef]" in sent.get_body(("html",)).get_content()
    # A provider rewrote our Message-ID and the client dropped In-Reply-To: the quote stays.
    quoted = "\n".join(f"> {line}" for line in sent.get_body(("plain",)).get_content().split("\n"))
    reply = _mail(Subject="Re: Help")
    reply.set_content(f"Thanks!\n\nOn Monday, support wrote:\n{quoted}\n")
    assert parse_mail(bytes(reply)).thread_marker == "T-7.0123456789abcdef"
