"""The fuzz suite's inputs: hypothesis settings, and pools of hostile parts (texts, JSON,
forms, path segments, query strings, headers) that the strategies combine.

The inputs the issue (#13) names as known faults are generated on purpose (each is marked
`known fault` below): the suite asserts 0 5xx, so it fails on them until the guarded reader
at the edge is merged.
"""

from __future__ import annotations

import json
import os
import random
from typing import Any
from urllib.parse import quote

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

# Bounded so the whole fuzz suite keeps its time (about a minute here); derandomized so a run
# is the same run everywhere. HUB_FUZZ_EXAMPLES raises the count for a longer hunt by hand,
# HUB_FUZZ_RANDOM=1 draws new cases each run instead of the fixed ones.
EXAMPLES = int(os.environ.get("HUB_FUZZ_EXAMPLES", "200"))
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=not os.environ.get("HUB_FUZZ_RANDOM"),
    database=None,
    suppress_health_check=list(HealthCheck),
)

# Text that has broken parsers: each is one draw of `hostile_text`.
SPECIALS = [
    "",
    " ",
    "0",
    "1",
    "-1",
    "1.5",
    "1e3",
    "9" * 30,
    "NaN",
    "null",
    "true",
    "[]",
    "{}",
    "../../etc/passwd",
    "%00",
    "%ff",
    "<script>alert(1)</script>",
    "' OR 1=1 --",
    "{{ 7*7 }}",
    "{% for x in range(10**9) %}",
    "\u202e\u200b\ufeff",
    "a\tb",
    "x" * 5000,
    "ann@example.com",
    "+8801712345678",
    "1990-02-28",
    "2999-13-45T25:61:00",
    "Asia/Dhaka",
    "en",
    "/inbox/",
    "//evil.example/",
    "/inbox/\\evil",
    "\U0001f600" * 10,
    "٣",  # an Arabic-Indic digit: int() reads it, it is no id (known fault: ids)
    "²",  # a superscript digit: isdigit() says yes, int() says no (known fault: ids)
    "\x00",  # NUL (known fault: NUL in form fields and `next`)
    "a\x00b",
    "\r\n",  # CR/LF (known fault: in the log-in's `next`)
    "x\rSet-Cookie: a=b",
    "\ud800",  # a lone surrogate (known fault: everywhere text is stored)
    "hi \udfff",
    "1" * 5000,  # 5,000 digits: past Python's int digit limit (known fault)
]
# Characters that have broken parsers.
CHARS = list(
    "aZ09 _-.+@/%&=?#\\\"'<>{}[]:;,\t\r\n\x00\x01\x1b\x7f\x80\x85\xa0\xffé²³٣١１𝟙Ⅻ"
    "\u0300\u200b\u2028\u202e\ufeff\ufffd\U0001f600\U0010ffff"
    "\ud800\udbff\udc00\udfff"  # lone surrogates (known fault)
)


def _texts(count: int, seed: int = 13) -> list[str]:
    """Strings of CHARS, made once from a fixed seed. Hypothesis picks among them (one draw)
    and combines them: drawing text character by character cost five times as much per case,
    and the suite's time buys cases, not characters."""
    rnd = random.Random(seed)
    return ["".join(rnd.choices(CHARS, k=rnd.randint(1, 24))) for _ in range(count)]


TEXTS = SPECIALS + _texts(250)
hostile_text = st.sampled_from(TEXTS)

# Field names the hub's forms, API and webhooks read: a body of them gets past "unknown field".
FIELDS = [
    "name", "email", "phone", "message", "subject", "text", "html", "status", "priority",
    "assignee", "team", "tags", "display_name", "locale", "timezone", "birthday", "survivor_id",
    "merged_id", "username", "password", "next", "csrf_token", "kind", "value", "order_id",
    "total", "currency", "items", "placed_at", "body", "send_at", "canned", "consent",
    "website", "id", "type", "token", "language", "update_id", "object", "entry",
]  # fmt: skip
QUERY_KEYS = [
    "q", "tag", "team", "status", "assignee", "priority", "limit", "cursor", "page", "before",
    "after", "canned", "next", "customer", "sort", "hub.mode", "hub.verify_token",
    "hub.challenge", "since", "email",
]  # fmt: skip
# Each part of a case is picked from a pool made once from a fixed seed (one draw per part):
# hypothesis combines the parts; drawing each structure leaf by leaf cost five times as much
# per case, and the suite's time buys cases, not leaves.
_rnd = random.Random(13)
SCALARS = [None, True, False, 0, -1, 1, 2**63, -(2**64), 10**30, 1.5, 1e308, -0.0, *TEXTS]
_NAMES = FIELDS * 3 + TEXTS  # mostly names the hub reads
scalar = st.sampled_from(SCALARS)


def _json_like() -> Any:
    shape = _rnd.randrange(4)
    if shape == 0:
        return _rnd.choice(SCALARS)
    if shape == 1:
        return _rnd.choices(SCALARS, k=_rnd.randrange(4))
    return {
        _rnd.choice(_NAMES): _rnd.choice([_rnd.choice(SCALARS), _rnd.choices(SCALARS, k=2)])
        for _ in range(_rnd.randrange(6))
    }


JSON_VALUES = [_json_like() for _ in range(400)]
# Shallow on purpose; deep nesting and what json.dumps cannot make are RAW_JSON.
json_value = st.sampled_from(JSON_VALUES)
RAW_JSON = [
    b"[" * 50_000 + b"]" * 50_000,  # deep nesting (known fault: RecursionError)
    b'{"a":' * 20_000 + b"1" + b"}" * 20_000,
    b"[" * 5_000 + b"]" * 5_000,  # deep, yet under the web chat's frame size limit
    b"1" * 10_000,  # a 10,000-digit number (known fault: the int digit limit)
    b'{"text": ' + b"9" * 10_000 + b"}",
    b'{"text": 1e999999}',
    b'{"text": NaN}',
    b'{"text": "\\ud800"}',  # an escaped lone surrogate (known fault)
    b'{"text": "a\\u0000b"}',
    b'{"a": 1, "a": 2}',
    b'{"text": "x"} trailing',
    b"\xef\xbb\xbf{}",
    b'{"text": "\xff\xfe"}',
    b"",
    b"null",
    b'"just a string"',
]


def _json_body(value: Any) -> bytes:
    # surrogatepass: a lone surrogate goes out as the bytes a sloppy client would send.
    return json.dumps(value, ensure_ascii=False).encode("utf-8", "surrogatepass")


def _q(text: str) -> str:
    return quote(text, safe="", encoding="utf-8", errors="surrogatepass")


def form_encode(pairs: list[tuple[str, str]]) -> bytes:
    return "&".join(f"{_q(k)}={_q(v)}" for k, v in pairs).encode()


FORMS = [[(_rnd.choice(_NAMES), _rnd.choice(TEXTS)) for _ in range(_rnd.randrange(7))] for _ in range(400)]  # fmt: skip


def _multipart(pairs: list[tuple[str, str]], filename: str) -> tuple[bytes, str]:
    boundary = "fuzzboundary7MA4YWxkTrZu0gW"
    parts = []
    for i, (k, v) in enumerate(pairs):
        disposition = f'form-data; name="{k}"'
        if i == 0:
            disposition += f'; filename="{filename}"'
        parts.append(
            f"--{boundary}\r\nContent-Disposition: {disposition}\r\n\r\n{v}\r\n".encode(
                "utf-8", "surrogatepass"
            )
        )
    body = b"".join(parts) + f"--{boundary}--\r\n".encode()
    return body, f"multipart/form-data; boundary={boundary}"


BYTES = [_rnd.randbytes(_rnd.randrange(200)) for _ in range(100)]
KINDS = ["json", "json", "raw_json", "form", "form", "multipart", "bytes"]


@st.composite
def hostile_body(draw: st.DrawFn, extra: dict[str, str] | None = None) -> tuple[bytes, str]:
    """(body, Content-Type): JSON, a form, multipart or bytes; `extra` fields in each."""
    kind, index = draw(st.tuples(st.sampled_from(KINDS), st.integers(0, 399)))
    fixed = list((extra or {}).items())
    if kind == "json":
        value = JSON_VALUES[index]
        if extra and isinstance(value, dict):
            value = {**value, **extra}
        return _json_body(value), "application/json"
    if kind == "raw_json":
        return RAW_JSON[index % len(RAW_JSON)], "application/json"
    pairs = fixed + FORMS[index]
    if kind == "form":
        return form_encode(pairs), "application/x-www-form-urlencoded"
    if kind == "multipart":
        return _multipart(pairs, TEXTS[index % len(TEXTS)])
    ctype = ["", "text/plain", "application/octet-stream", "x/\xff;;="][index % 4]
    return BYTES[index % len(BYTES)], ctype


# Path parameters: real ids half the time, so handlers get past "not found".
SEGMENTS = ["1", "2", "3"] * 40 + [
    *("0", "-1", "01", "99999999999999999999999", "1%20", "%2F", "..", "%00", "%ED%A0%80"),
    *("%D9%A1", "%C2%B2", "%EF%BC%91"),  # non-ASCII digits (known fault: ids)
    *(_q(t) for t in TEXTS if t),
]
path_segment = st.sampled_from(SEGMENTS)
QUERIES = [
    "",
    *("?%", "?a=%zz", "?&&=&", "?a=1&a=2", "?=%00", "?;x"),
    *(
        "?"
        + form_encode([(_rnd.choice(QUERY_KEYS), _rnd.choice(TEXTS)) for _ in range(n)]).decode()
        for n in [_rnd.randint(1, 4) for _ in range(300)]
    ),
]
query_string = st.sampled_from(QUERIES)

_CONTROLS = bytes(range(32)).replace(b"\t", b"") + b"\x7f"
# Mostly what gets past aiohttp's parser (no control bytes) to reach the hub's code.
HEADER_VALUES = [
    *(b"Bearer t\xe9st", b"Bearer ", b"Basic Zm9vOmJhcg==", b"\xff\xfe", b"a\x00b"),
    *(t.encode("utf-8", "surrogatepass").translate(None, _CONTROLS) for t in TEXTS),
]
HEADER_NAMES = [
    "Authorization", "Cookie", "Origin", "Referer", "Accept-Language", "X-Forwarded-For",
    "Idempotency-Key", "X-CSRF-Token", "X-Telegram-Bot-Api-Secret-Token", "X-Hub-Signature-256",
    "User-Agent", "Accept", "If-Modified-Since", "Range", "X-Request-Id",
]  # fmt: skip
HEADER_SETS = [
    {_rnd.choice(HEADER_NAMES): _rnd.choice(HEADER_VALUES) for _ in range(_rnd.randrange(4))}
    for _ in range(400)
]
hostile_headers = st.sampled_from(HEADER_SETS).map(dict)  # a copy: cases add to it
