"""Validating the rows of a customer CSV for `hub customers import`: each row becomes a
`Row` or a `Reject` with its line number and every reason. Nothing here writes;
hub.customers.import_file reads the file, hub.customers.importer applies the rows.
"""

from __future__ import annotations

import re
import zoneinfo
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from functools import cache
from typing import Any, Generic, TypeVar

from babel import Locale
from babel.numbers import get_currency_precision, get_territory_currencies

from hub.config.loader import Config
from hub.core.identity import normalize_email, normalize_phone
from hub.customers.import_file import (
    ADDRESS_COLUMNS,
    CONSENT_CHANNELS,
    HANDLE_KINDS,
    PURCHASE_COLUMNS,
    REQUIRED_PURCHASE_COLUMNS,
    Reject,
)
from hub.messages import Address

_MAX_TEXT = {
    "customer_ref": 100,
    "name": 200,
    "street": 200,
    "city": 100,
    "region": 100,
    "postal_code": 20,
    "gender": 32,
    "consent_source": 200,
    "order_ref": 100,
    "items": 2000,
}
_MAX_TAG = 64
_MAX_HANDLE = 320

_AMOUNT = re.compile(r"(\d{1,12})(?:\.(\d{1,2}))?")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
# Clock skew allowance for "not in the future" checks on timestamps from other systems.
_FUTURE_SLACK = timedelta(days=1)

_T = TypeVar("_T")


@dataclass(frozen=True)
class Purchase:
    order_ref: str
    amount: Decimal
    currency: str
    purchased_at: datetime
    items: str | None


@dataclass(frozen=True)
class Row:
    """One valid CSV row: only the cells that were given (an empty cell changes nothing)."""

    line: int
    identities: tuple[Address, ...]
    scalars: dict[str, Any]
    address: dict[str, str]
    tags: tuple[str, ...]
    consents: dict[str, str]
    consent_source: str
    consent_recorded_at: datetime | None
    purchase: Purchase | None


@cache
def _zones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones() - {"localtime", "Factory"})


@cache
def _currencies() -> frozenset[str]:
    # Codes in current use somewhere; excludes test codes (XXX, XTS) and retired ones (DEM).
    return frozenset(c for t in _countries() for c in get_territory_currencies(t))


@cache
def _countries() -> frozenset[str]:
    not_countries = {"EU", "EZ", "QO", "UN", "XA", "XB", "ZZ"}
    return frozenset(
        t
        for t in Locale("en").territories
        if len(t) == 2 and t.isalpha() and t not in not_countries
    )


class RowParser:
    """Validates one row's cells into a Row, or a Reject naming every problem."""

    def __init__(self, config: Config, source: str) -> None:
        self.region = config.hub.phone_region
        self.locales = tuple(config.hub.locales)
        self.source = source[: _MAX_TEXT["consent_source"]]
        self.order_lines: dict[str, int] = {}

    def parse(self, line: int, cells: dict[str, str], now: datetime) -> Row | Reject:
        v = {k: c.strip() for k, c in cells.items() if c.strip()}
        why: list[str] = []
        for col, limit in _MAX_TEXT.items():
            if col in v and (problem := _text_problem(v[col], limit, multiline=col == "items")):
                why.append(f"{col}: {problem}")

        ids = self._identities(v, why)
        scalars = self._scalars(v, now, why)

        address = {c: v[c] for c in ADDRESS_COLUMNS if c in v}
        if "country" in address:
            address["country"] = address["country"].upper()
            if address["country"] not in _countries():
                why.append(
                    f"country: {v['country']!r} is not an ISO 3166 country code (e.g. BD, DE)"
                )
        tags = tuple(dict.fromkeys(_split(v.get("tags", ""))))
        for tag in tags:
            if problem := _text_problem(tag, _MAX_TAG):
                why.append(f"tags: {tag[:_MAX_TAG]!r}: {problem}")

        consent = self._consents(v, now, why)
        purchase = self._purchase(line, v, now, why)
        if why:
            return Reject(line, tuple(why))
        return Row(
            line=line,
            identities=ids,
            scalars=scalars,
            address=address,
            tags=tags,
            consents=consent[0],
            consent_source=v.get("consent_source", self.source),
            consent_recorded_at=consent[1],
            purchase=purchase,
        )

    def _scalars(self, v: dict[str, str], now: datetime, why: list[str]) -> dict[str, Any]:
        scalars: dict[str, Any] = {c: v[c] for c in ("name", "gender") if c in v}
        for col in ("birthday", "anniversary"):
            if col in v:
                scalars[col] = _past_date(v[col], col, now, why)
        if "locale" in v:
            if v["locale"] in self.locales:
                scalars["locale"] = v["locale"]
            else:
                allowed = ", ".join(self.locales)
                why.append(f"locale: {v['locale']!r} is not one of the hub's locales ({allowed})")
        if "timezone" in v:
            if v["timezone"] in _zones():
                scalars["timezone"] = v["timezone"]
            else:
                why.append(
                    f"timezone: {v['timezone']!r} is not an IANA time zone (e.g. Asia/Dhaka)"
                )
        return scalars

    def _identities(self, v: dict[str, str], why: list[str]) -> tuple[Address, ...]:
        name = v.get("name")
        found: list[Address] = []
        if "customer_ref" in v:
            found.append(Address("customer_ref", v["customer_ref"], name))
        for raw in _split(v.get("emails", "")):
            if email := normalize_email(raw):
                found.append(Address("email", email, name))
            else:
                why.append(f"emails: {raw!r} is not an email address")
        for raw in _split(v.get("phones", "")):
            if phone := normalize_phone(raw, self.region):
                found.append(Address("phone", phone, name))
            else:
                why.append(
                    f"phones: {raw!r} is not a valid phone number "
                    f"(numbers without +country code are read as {self.region})"
                )
        for kind in HANDLE_KINDS:
            for raw in _split(v.get(kind, "")):
                if kind == "telegram" and not (raw.isascii() and raw.isdigit()):
                    # The Telegram connector knows people by numeric id; a @username never matches.
                    why.append(f"telegram: {raw[:40]!r} is not a Telegram user id (digits)")
                elif len(raw) > _MAX_HANDLE or re.search(r"\s", raw):
                    why.append(f"{kind}: {raw[:40]!r} is not a handle (no spaces, at most 320)")
                else:
                    found.append(Address(kind, raw, name))
        if not found and not why:
            why.append("no identity: give customer_ref, emails, phones or a handle")
        return tuple(dict.fromkeys(found))

    def _consents(
        self, v: dict[str, str], now: datetime, why: list[str]
    ) -> tuple[dict[str, str], datetime | None]:
        given: dict[str, str] = {}
        for channel in CONSENT_CHANNELS:
            col = f"consent_{channel}"
            if col in v:
                if v[col].lower() in ("opt_in", "opt_out"):
                    given[channel] = v[col].lower()
                else:
                    why.append(f"{col}: {v[col]!r} must be opt_in or opt_out")
        recorded = None
        if "consent_recorded_at" in v:
            recorded = _past_datetime(v["consent_recorded_at"], "consent_recorded_at", now, why)
        has_consent = given or any(f"consent_{c}" in v for c in CONSENT_CHANNELS)
        for col in ("consent_source", "consent_recorded_at"):
            if col in v and not has_consent:
                why.append(f"{col}: given without any consent_<channel> value")
        return given, recorded

    def _purchase(
        self, line: int, v: dict[str, str], now: datetime, why: list[str]
    ) -> Purchase | None:
        if not any(c in v for c in PURCHASE_COLUMNS):
            return None
        n = len(why)
        for col in REQUIRED_PURCHASE_COLUMNS:
            if col not in v:
                why.append(f"{col}: required on a purchase row")
        ref = v.get("order_ref", "")
        if ref:
            first = self.order_lines.setdefault(ref, line)
            if first != line:
                why.append(f"order_ref: {ref!r} is already on line {first}")
        currency = v.get("currency", "").upper()
        if currency and currency not in _currencies():
            why.append(f"currency: {v['currency']!r} is not an ISO 4217 currency code (e.g. BDT)")
        amount = _amount(v["amount"], currency, why) if "amount" in v else None
        when = None
        if "purchased_at" in v:
            when = _past_datetime(v["purchased_at"], "purchased_at", now, why)
        if len(why) > n or amount is None or when is None:
            return None
        return Purchase(ref, amount, currency, when, v.get("items"))


def _split(value: str) -> list[str]:
    return [p.strip() for p in value.split(";") if p.strip()]


def _text_problem(value: str, limit: int, multiline: bool = False) -> str | None:
    if len(value) > limit:
        return f"longer than {limit} characters"
    if _CONTROL.search(value.replace("\n", "").replace("\t", "") if multiline else value):
        return "contains control characters (line breaks, tabs)"
    return None


@dataclass(frozen=True)
class _IsoFormat(Generic[_T]):
    """A strict ISO 8601 form: fromisoformat alone also takes week dates and compact forms."""

    pattern: re.Pattern[str]
    parse: Callable[[str], _T]
    name: str  # what a reason calls it

    def read(self, value: str, col: str, why: list[str]) -> _T | None:
        try:
            if not self.pattern.fullmatch(value):
                raise ValueError
            return self.parse(value)
        except ValueError:
            why.append(f"{col}: {value!r} is not {self.name}")
            return None


_DATE = _IsoFormat(re.compile(r"\d{4}-\d{2}-\d{2}"), date.fromisoformat, "a date (YYYY-MM-DD)")
_DATETIME = _IsoFormat(
    re.compile(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?(Z|[+-]\d{2}:\d{2})?"),
    datetime.fromisoformat,
    "a date and time (e.g. 2024-03-01T14:30:00+06:00)",
)


def _past_date(value: str, col: str, now: datetime, why: list[str]) -> date | None:
    day = _DATE.read(value, col, why)
    if day is None:
        return None
    if day > now.date():
        why.append(f"{col}: {value} is in the future")
    elif day.year < 1900:
        why.append(f"{col}: {value} is before 1900")
    return day


def _past_datetime(value: str, col: str, now: datetime, why: list[str]) -> datetime | None:
    when = _DATETIME.read(value, col, why)
    if when is None:
        return None
    if when.tzinfo is None:
        why.append(f"{col}: {value!r} has no UTC offset (add Z or e.g. +06:00)")
        return None
    if when > now + _FUTURE_SLACK:
        why.append(f"{col}: {value} is in the future")
    return when


def _amount(value: str, currency: str, why: list[str]) -> Decimal | None:
    match = _AMOUNT.fullmatch(value)
    if match is None:
        if value.startswith("-"):
            why.append(f"amount: {value!r} is negative")
        else:
            why.append(f"amount: {value!r} is not an amount (digits, '.' and up to 2 decimals)")
        return None
    decimals = len(match.group(2) or "")
    if currency in _currencies() and decimals > get_currency_precision(currency):
        why.append(f"amount: {currency} has {get_currency_precision(currency)} decimals")
        return None
    return Decimal(value).quantize(Decimal("0.01"))
