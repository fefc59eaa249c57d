"""The guarded reader's limits, one by one (the edge tests drive it through every route)."""

from __future__ import annotations

import pytest

from hub.core.edge_text import parse_id, safe_redirect
from hub.core.guarded_json import BadText, HostileBody, Limits, loads


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (b'{"a": "hi \\ud800"}', "a"),
        (b'{"a": [1, {"b": "x\\u0000"}]}', "a[1].b"),
        (b'"\xed\xa0\x80"', None),  # a surrogate encoded as bytes
    ],
)
def test_bad_text_is_refused_with_where_it_was(body: bytes, field: str | None) -> None:
    with pytest.raises(BadText) as caught:
        loads(body)
    assert caught.value.field == field


@pytest.mark.parametrize(
    "body", [b"[" * 50_000 + b"]" * 50_000, b"1" * 10_000, b"1." + b"5" * 500, b"NaN", b"\xff"]
)
def test_limits_are_a_hostile_body_not_a_crash(body: bytes) -> None:
    with pytest.raises(HostileBody):
        loads(body)


def test_brackets_in_strings_do_not_count_and_repair_keeps_the_text() -> None:
    assert loads(b'{"a": "[[[[\\" {{{{"}', Limits(max_depth=2)) == {"a": '[[[[" {{{{'}
    repaired = loads(b'{"t": "a\\u0000b \\ud800"}', Limits(refuse_bad_text=False))
    assert repaired == {"t": "ab \ufffd"}


def test_ids_and_redirects() -> None:
    assert [parse_id(x) for x in ("12", "²", "١", "１", "", None, "9" * 19)] == [12] + [None] * 6
    assert safe_redirect("/inbox/t?x=1", "/inbox/") == "/inbox/t?x=1"
    for bad in ("/inbox/\r\nX: y", "/inbox/\x00", "//evil.example/", "/inbox/\udce9"):
        assert safe_redirect(bad, "/inbox/") == "/inbox/"
