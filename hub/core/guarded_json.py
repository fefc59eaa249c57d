"""The one guarded reader for every body the hub parses from outside (forms, the JSON API,
webhooks, web chat frames).

`json.loads` alone turns hostile input into crashes deeper in: 50,000 nested brackets are a
RecursionError, a 10,000-digit number is a ValueError from the int digit limit, and a lone
surrogate (`"\\ud800"`) or a NUL is a string no database column or mail header can hold.
Here they are refused before anything is stored, with the field they were found in.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

MAX_DEPTH = 64
MAX_NUMBER_CHARS = 100
# Strings are skipped by the depth scan; what is left is only brackets and the rest.
_STRINGS = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_BRACKETS = re.compile(rb"[\[\]{}]")
_SURROGATE = re.compile("[\ud800-\udfff]")


class HostileBody(ValueError):
    """The body cannot be taken: `reason` says why, `field` where (a dotted path), if known."""

    def __init__(self, reason: str, field: str | None = None) -> None:
        super().__init__(f"{field}: {reason}" if field else reason)
        self.reason = reason
        self.field = field


class BadText(HostileBody):
    """A string in the body holds a NUL or a lone surrogate."""


@dataclass(frozen=True)
class Limits:
    max_depth: int = MAX_DEPTH
    max_number_chars: int = MAX_NUMBER_CHARS
    # False: bad text is repaired (NUL dropped, lone surrogates made U+FFFD), not refused,
    # for input where refusing is wrong (a chat line with a stray control character).
    refuse_bad_text: bool = True


DEFAULT_LIMITS = Limits()


def bad_text(value: str) -> str | None:
    """What is wrong with `value` as stored text (NUL, a lone surrogate), or None."""
    if "\x00" in value:
        return "must not contain NUL characters"
    if _SURROGATE.search(value):
        return "must not contain lone surrogates (invalid Unicode)"
    return None


def check_text(value: Any, path: str = "") -> None:
    """Raise HostileBody naming the first string (key or value) in `value` that is not
    valid text. `value` is already bounded in depth (it came from `loads`)."""
    if isinstance(value, str):
        if (why := bad_text(value)) is not None:
            raise BadText(why, path or None)
    elif isinstance(value, dict):
        for key, item in value.items():
            where = f"{path}.{key}" if path else str(key)
            if (why := bad_text(str(key))) is not None:
                raise BadText(f"a key {why}", path or None)
            check_text(item, where)
    elif isinstance(value, list):
        for i, item in enumerate(value):
            check_text(item, f"{path}[{i}]")


def loads(body: bytes | str, limits: Limits = DEFAULT_LIMITS) -> Any:
    """The JSON value of `body`, checked: nesting, number lengths and text. Raises
    HostileBody (a ValueError) for anything that is not JSON or breaks a limit."""
    raw = body.encode("utf-8", "surrogatepass") if isinstance(body, str) else body
    _check_depth(raw, limits.max_depth)
    try:
        value = json.loads(
            raw,
            parse_int=lambda s: _number(s, int, limits),
            parse_float=lambda s: _number(s, float, limits),
            parse_constant=_no_constant,
        )
    except HostileBody:
        raise
    except UnicodeDecodeError:
        raise HostileBody("the body is not valid UTF-8") from None
    except ValueError as exc:
        raise HostileBody(f"the body is not valid JSON: {_why(exc)}") from None
    if b"\\u" not in raw and b"\xed" not in raw:
        # NUL and lone surrogates arrive only as \u escapes or as surrogate bytes (0xED,
        # which json.loads lets through): raw control characters are not JSON. Most bodies
        # have neither, and skip the walk.
        return value
    if limits.refuse_bad_text:
        check_text(value)
        return value
    return repair_text(value)


def repair_text(value: Any) -> Any:
    """`value` with every string made storable: NUL dropped, lone surrogates U+FFFD."""
    if isinstance(value, str):
        return _SURROGATE.sub("\ufffd", value.replace("\x00", "")) if bad_text(value) else value
    if isinstance(value, dict):
        return {repair_text(k): repair_text(v) for k, v in value.items()}
    if isinstance(value, list):
        return [repair_text(v) for v in value]
    return value


def _check_depth(raw: bytes, max_depth: int) -> None:
    if raw.count(b"[") + raw.count(b"{") <= max_depth:
        return  # too few brackets to nest that deep, wherever they stand
    depth = 0
    for match in _BRACKETS.finditer(_STRINGS.sub(b'""', raw)):
        if match.group() in (b"[", b"{"):
            depth += 1
            if depth > max_depth:
                raise HostileBody(f"the JSON is nested deeper than {max_depth} levels")
        else:
            depth -= 1


def _number(text: str, kind: type, limits: Limits) -> Any:
    if len(text) > limits.max_number_chars:
        raise HostileBody(f"a number is longer than {limits.max_number_chars} characters")
    return kind(text)


def _no_constant(name: str) -> Any:
    raise HostileBody(f"{name} is not a JSON number")


def _why(exc: ValueError) -> str:
    return exc.msg if isinstance(exc, json.JSONDecodeError) else str(exc)
