"""Greetings go out on the customer's own date at their local hour, once, never stale.

Every expected instant below is worked out by hand from the zone's offset on that date
(noted beside it), not recomputed with the code under test.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo, available_timezones

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from hub.config.greetings import GreetingRules, GreetingsConfig
from hub.proactive.greetings import (
    MAX_UTC_OFFSET,
    MIN_UTC_OFFSET,
    CustomerOccasions,
    Greeting,
    GreetingKey,
    Occasion,
    UnknownTimeZone,
    celebration_date,
    due_greetings,
    greeting_in_year,
    send_instant,
    sweep_window,
)


def Z(text: str) -> datetime:
    """An instant in UTC, written as ISO 8601 without the zone."""
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def person(
    tz: str,
    birthday: date | None = None,
    *,
    customer_id: int = 1,
    locale: str = "en",
    anniversary: date | None = None,
    customer_since: date | None = None,
) -> CustomerOccasions:
    occasions = [
        Occasion(name, origin)
        for name, origin in (
            ("birthday", birthday),
            ("anniversary", anniversary),
            ("customer_since", customer_since),
        )
        if origin is not None
    ]
    return CustomerOccasions(customer_id, tz, locale, tuple(occasions))


def due_keys(now: datetime, customer: CustomerOccasions, rules: GreetingRules) -> list[tuple]:
    return [(g.key.occasion, g.key.year) for g in due_greetings(now, customer, rules)]


NINE = GreetingRules(send_hour=9)

# Birthday at 09:00 local on 15 June and on 15 January 2026: the UTC send instant.
ZONES = [
    # zone, 15 June (offset), 15 January (offset)
    ("UTC", "2026-06-15T09:00", "2026-01-15T09:00"),  # +0, +0
    ("Europe/London", "2026-06-15T08:00", "2026-01-15T09:00"),  # BST +1, GMT +0
    ("Europe/Paris", "2026-06-15T07:00", "2026-01-15T08:00"),  # +2, +1
    ("Europe/Moscow", "2026-06-15T06:00", "2026-01-15T06:00"),  # +3
    ("Africa/Lagos", "2026-06-15T08:00", "2026-01-15T08:00"),  # +1
    ("Africa/Nairobi", "2026-06-15T06:00", "2026-01-15T06:00"),  # +3
    ("Asia/Tehran", "2026-06-15T05:30", "2026-01-15T05:30"),  # +3:30, no DST since 2022
    ("Asia/Dubai", "2026-06-15T05:00", "2026-01-15T05:00"),  # +4
    ("Asia/Kabul", "2026-06-15T04:30", "2026-01-15T04:30"),  # +4:30
    ("Asia/Karachi", "2026-06-15T04:00", "2026-01-15T04:00"),  # +5
    ("Asia/Kolkata", "2026-06-15T03:30", "2026-01-15T03:30"),  # +5:30
    ("Asia/Kathmandu", "2026-06-15T03:15", "2026-01-15T03:15"),  # +5:45
    ("Asia/Dhaka", "2026-06-15T03:00", "2026-01-15T03:00"),  # +6
    ("Asia/Yangon", "2026-06-15T02:30", "2026-01-15T02:30"),  # +6:30
    ("Asia/Bangkok", "2026-06-15T02:00", "2026-01-15T02:00"),  # +7
    ("Asia/Shanghai", "2026-06-15T01:00", "2026-01-15T01:00"),  # +8
    ("Australia/Eucla", "2026-06-15T00:15", "2026-01-15T00:15"),  # +8:45
    ("Asia/Tokyo", "2026-06-15T00:00", "2026-01-15T00:00"),  # +9
    ("Australia/Darwin", "2026-06-14T23:30", "2026-01-14T23:30"),  # +9:30
    ("Australia/Adelaide", "2026-06-14T23:30", "2026-01-14T22:30"),  # +9:30, +10:30
    ("Australia/Sydney", "2026-06-14T23:00", "2026-01-14T22:00"),  # +10, +11
    ("Australia/Lord_Howe", "2026-06-14T22:30", "2026-01-14T22:00"),  # +10:30, +11
    ("Pacific/Auckland", "2026-06-14T21:00", "2026-01-14T20:00"),  # +12, +13
    ("Pacific/Chatham", "2026-06-14T20:15", "2026-01-14T19:15"),  # +12:45, +13:45
    ("Pacific/Tongatapu", "2026-06-14T20:00", "2026-01-14T20:00"),  # +13
    ("Pacific/Kiritimati", "2026-06-14T19:00", "2026-01-14T19:00"),  # +14
    ("Atlantic/Azores", "2026-06-15T09:00", "2026-01-15T10:00"),  # +0, -1
    ("America/Noronha", "2026-06-15T11:00", "2026-01-15T11:00"),  # -2
    ("America/Sao_Paulo", "2026-06-15T12:00", "2026-01-15T12:00"),  # -3, no DST since 2019
    ("America/St_Johns", "2026-06-15T11:30", "2026-01-15T12:30"),  # -2:30, -3:30
    ("America/New_York", "2026-06-15T13:00", "2026-01-15T14:00"),  # -4, -5
    ("America/Chicago", "2026-06-15T14:00", "2026-01-15T15:00"),  # -5, -6
    ("America/Denver", "2026-06-15T15:00", "2026-01-15T16:00"),  # -6, -7
    ("America/Phoenix", "2026-06-15T16:00", "2026-01-15T16:00"),  # -7, no DST
    ("America/Los_Angeles", "2026-06-15T16:00", "2026-01-15T17:00"),  # -7, -8
    ("America/Anchorage", "2026-06-15T17:00", "2026-01-15T18:00"),  # -8, -9
    ("Pacific/Marquesas", "2026-06-15T18:30", "2026-01-15T18:30"),  # -9:30
    ("Pacific/Honolulu", "2026-06-15T19:00", "2026-01-15T19:00"),  # -10
    ("Pacific/Pago_Pago", "2026-06-15T20:00", "2026-01-15T20:00"),  # -11
    ("Etc/GMT+12", "2026-06-15T21:00", "2026-01-15T21:00"),  # -12
]


def test_the_zone_table_covers_at_least_thirty_zones() -> None:
    assert len({z for z, _, _ in ZONES}) >= 30


@pytest.mark.parametrize(("tz", "june", "january"), ZONES)
def test_birthday_goes_out_at_nine_local_on_the_local_date(
    tz: str, june: str, january: str
) -> None:
    for origin, expected in ((date(1990, 6, 15), Z(june)), (date(1990, 1, 15), Z(january))):
        customer = person(tz, origin)
        g = greeting_in_year(customer, customer.occasions[0], 2026, NINE)
        assert g is not None
        assert g.send_at == expected
        assert g.local_date == origin.replace(year=2026)
        assert g.send_local.replace(tzinfo=None) == datetime(2026, origin.month, origin.day, 9)
        assert g.key == GreetingKey(1, "birthday", 2026)
        assert g.years == 36
        assert due_keys(expected - timedelta(seconds=1), customer, NINE) == []
        assert due_keys(expected, customer, NINE) == [("birthday", 2026)]
        assert due_keys(expected + timedelta(hours=12, seconds=-1), customer, NINE) == [
            ("birthday", 2026)
        ]
        assert due_keys(expected + timedelta(hours=12), customer, NINE) == []


# Clock changes, with send hours chosen to land in the gap or the repeated hour.
DST = [
    # zone, local date, send hour, expected UTC send, why
    ("America/New_York", date(2026, 3, 8), 2, "2026-03-08T07:00", "02:00 EST->03:00 EDT: 03:00"),
    ("America/New_York", date(2026, 3, 8), 3, "2026-03-08T07:00", "03:00 EDT exists"),
    ("America/New_York", date(2026, 11, 1), 1, "2026-11-01T05:00", "01:00 twice: EDT first"),
    ("America/New_York", date(2026, 11, 1), 2, "2026-11-01T07:00", "02:00 EST once"),
    ("Europe/London", date(2026, 3, 29), 1, "2026-03-29T01:00", "01:00 GMT->02:00 BST: 02:00"),
    ("Europe/London", date(2026, 10, 25), 1, "2026-10-25T00:00", "01:00 twice: BST first"),
    ("Europe/London", date(2026, 10, 25), 2, "2026-10-25T02:00", "02:00 GMT once"),
    ("Australia/Lord_Howe", date(2026, 10, 4), 2, "2026-10-03T15:30", "02:00->02:30 +11"),
    ("Australia/Lord_Howe", date(2026, 4, 5), 1, "2026-04-04T14:00", "01:00 +11, before fold"),
    ("Australia/Lord_Howe", date(2026, 4, 5), 2, "2026-04-04T15:30", "02:00 +10:30 once"),
    # Chatham moves at 02:45 standard time: 03:00 is in the middle of the gap, not its start.
    ("Pacific/Chatham", date(2026, 9, 27), 3, "2026-09-26T14:00", "02:45->03:45 +13:45"),
    ("Pacific/Chatham", date(2026, 4, 5), 3, "2026-04-04T13:15", "03:00 twice: +13:45 first"),
    # Brazil's last DST (2018/19) changed clocks at midnight.
    ("America/Sao_Paulo", date(2018, 11, 4), 0, "2018-11-04T03:00", "00:00->01:00 -02"),
    ("America/Sao_Paulo", date(2019, 2, 16), 23, "2019-02-17T01:00", "23:00 twice: -02 first"),
    # Whole days skipped when zones jumped the date line: the first instant after.
    ("Pacific/Kiritimati", date(1994, 12, 31), 9, "1994-12-31T10:00", "no 31 Dec 1994"),
    ("Pacific/Apia", date(2011, 12, 30), 9, "2011-12-30T10:00", "no 30 Dec 2011"),
]


@pytest.mark.parametrize(("tz", "day", "hour", "expected", "why"), DST)
def test_clock_changes_move_a_skipped_hour_forward_and_send_a_repeated_hour_once(
    tz: str, day: date, hour: int, expected: str, why: str
) -> None:
    assert send_instant(day, hour, ZoneInfo(tz)) == Z(expected), why
    rules = GreetingRules(send_hour=hour)
    customer = person(tz, day.replace(year=1960))
    g = greeting_in_year(customer, customer.occasions[0], day.year, rules)
    assert g is not None
    assert (g.send_at, g.local_date, g.key.year) == (Z(expected), day, day.year)


def test_a_repeated_hour_stays_one_greeting_through_both_occurrences() -> None:
    # New York, 1 November 2026: 01:00 EDT (05:00Z), then 01:00 EST (06:00Z).
    customer = person("America/New_York", date(1980, 11, 1))
    rules = GreetingRules(send_hour=1)
    assert due_keys(Z("2026-11-01T04:59:59"), customer, rules) == []
    first = due_greetings(Z("2026-11-01T05:00"), customer, rules)
    second = due_greetings(Z("2026-11-01T06:00"), customer, rules)
    assert first == second
    assert [g.send_at for g in first] == [Z("2026-11-01T05:00")]


YEAR_BOUNDARY = [
    # zone, birthday, send hour, now, due (occasion year), send instant
    # Kiritimati (+14) is in 1 January while UTC is still on 31 December.
    ("Pacific/Kiritimati", date(1990, 1, 1), 9, "2025-12-31T19:00", [2026], "2025-12-31T19:00"),
    ("Pacific/Kiritimati", date(1990, 1, 1), 9, "2025-12-31T18:59", [], None),
    # Its 31 December greeting is still 2025's when its clocks already show 2026.
    ("Pacific/Kiritimati", date(1990, 12, 31), 23, "2025-12-31T10:30", [2025], "2025-12-31T09:00"),
    # Etc/GMT+12 (-12) is still on 31 December while UTC is on 1 January.
    ("Etc/GMT+12", date(1990, 12, 31), 9, "2026-01-01T08:59:59", [2025], "2025-12-31T21:00"),
    ("Etc/GMT+12", date(1990, 12, 31), 20, "2026-01-01T08:00", [2025], "2026-01-01T08:00"),
    ("Etc/GMT+12", date(1990, 1, 1), 9, "2026-01-01T09:00", [], None),
    ("Etc/GMT+12", date(1990, 1, 1), 9, "2026-01-01T21:00", [2026], "2026-01-01T21:00"),
    ("Asia/Dhaka", date(1990, 1, 1), 0, "2025-12-31T18:00", [2026], "2025-12-31T18:00"),
    ("America/Sao_Paulo", date(1990, 12, 31), 23, "2026-01-01T02:00", [2025], "2026-01-01T02:00"),
]


@pytest.mark.parametrize(("tz", "birthday", "hour", "now", "years", "send_at"), YEAR_BOUNDARY)
def test_year_boundary_uses_the_customers_year(
    tz: str, birthday: date, hour: int, now: str, years: list[int], send_at: str | None
) -> None:
    due = due_greetings(Z(now), person(tz, birthday), GreetingRules(send_hour=hour))
    assert [g.key.year for g in due] == years
    if send_at is not None:
        assert due[0].send_at == Z(send_at)
        assert due[0].local_date == birthday.replace(year=years[0])
        assert due[0].years == years[0] - 1990


def test_a_day_skipped_at_new_year_still_gets_its_greeting_keyed_to_its_own_year() -> None:
    # Kiritimati went from -10 to +14 at the end of 1994: 31 December 1994 never happened there.
    customer = person(
        "Pacific/Kiritimati", date(1970, 12, 31), anniversary=date(1980, 1, 1), customer_id=7
    )
    due = due_greetings(Z("1994-12-31T19:00"), customer, NINE)
    assert [(g.key.token, g.send_at) for g in due] == [
        ("greeting:7:birthday:1994", Z("1994-12-31T10:00")),
        ("greeting:7:anniversary:1995", Z("1994-12-31T19:00")),
    ]
    assert due[0].send_local == datetime(1995, 1, 1, 0, 0, tzinfo=ZoneInfo("Pacific/Kiritimati"))


FEB29 = [
    # origin, year, rule, celebrated on
    (date(2000, 2, 29), 2024, "feb28", date(2024, 2, 29)),
    (date(2000, 2, 29), 2024, "mar1", date(2024, 2, 29)),
    (date(2000, 2, 29), 2025, "feb28", date(2025, 2, 28)),
    (date(2000, 2, 29), 2025, "mar1", date(2025, 3, 1)),
    (date(2000, 2, 29), 2100, "feb28", date(2100, 2, 28)),  # divisible by 100: common
    (date(2000, 2, 29), 2400, "mar1", date(2400, 2, 29)),  # divisible by 400: leap
    (date(1999, 2, 28), 2025, "mar1", date(2025, 2, 28)),
    (date(1999, 3, 1), 2024, "feb28", date(2024, 3, 1)),
]


@pytest.mark.parametrize(("origin", "year", "rule", "expected"), FEB29)
def test_29_february_rule(origin: date, year: int, rule: str, expected: date) -> None:
    assert celebration_date(origin, year, rule) == expected  # type: ignore[arg-type]


LEAP_DAY = [
    # rule, now, due years   (Dhaka +6: 09:00 local is 03:00Z)
    ("feb28", "2025-02-28T03:00", [2025]),
    ("feb28", "2025-03-01T03:00", []),
    ("mar1", "2025-02-28T03:00", []),
    ("mar1", "2025-03-01T03:00", [2025]),
    ("feb28", "2024-02-28T03:00", []),
    ("feb28", "2024-02-29T03:00", [2024]),
    ("mar1", "2024-02-29T03:00", [2024]),
    ("mar1", "2024-03-01T03:00", []),
]


@pytest.mark.parametrize(("rule", "now", "years"), LEAP_DAY)
def test_leap_day_birthday_is_due_once_a_year_on_the_ruled_date(
    rule: str, now: str, years: list[int]
) -> None:
    rules = GreetingRules(send_hour=9, feb29=rule)  # type: ignore[arg-type]
    due = due_greetings(Z(now), person("Asia/Dhaka", date(2000, 2, 29)), rules)
    assert [(g.key.year, g.years) for g in due] == [(y, y - 2000) for y in years]


CATCH_UP = [
    # since the send instant, catch-up window, due?
    (timedelta(seconds=-1), timedelta(hours=12), False),
    (timedelta(0), timedelta(hours=12), True),
    (timedelta(hours=6), timedelta(hours=12), True),
    (timedelta(hours=12, microseconds=-1), timedelta(hours=12), True),
    (timedelta(hours=12), timedelta(hours=12), False),  # stale: the hub was down too long
    (timedelta(days=3), timedelta(hours=12), False),
    (timedelta(minutes=59), timedelta(hours=1), True),
    (timedelta(hours=1), timedelta(hours=1), False),
    (timedelta(hours=47), timedelta(hours=48), True),
]


@pytest.mark.parametrize(("since", "window", "due"), CATCH_UP)
def test_catch_up_only_within_the_window(since: timedelta, window: timedelta, due: bool) -> None:
    # Kolkata (+5:30): 09:00 local on 15 June 2026 is 03:30Z.
    rules = GreetingRules(send_hour=9, catch_up=window)
    customer = person("Asia/Kolkata", date(1985, 6, 15))
    assert bool(due_greetings(Z("2026-06-15T03:30") + since, customer, rules)) is due


def test_after_downtime_a_missed_greeting_is_never_sent_late() -> None:
    customer = person("Asia/Dhaka", date(1985, 6, 15))
    g = greeting_in_year(customer, customer.occasions[0], 2026, NINE)
    assert g is not None
    assert [
        g.state(Z(t)) for t in ("2026-06-15T02:59", "2026-06-15T14:59", "2026-06-15T15:00")
    ] == [
        "upcoming",
        "due",
        "missed",
    ]
    assert due_greetings(Z("2026-06-16T00:00"), customer, NINE) == ()


FAR_EAST_AND_WEST = [
    # zone, now, due?   (birthday 15 June, 09:00 local)
    # +14: 09:00 on 15 June is 19:00Z on 14 June; comparing UTC dates would send it a day late.
    ("Pacific/Kiritimati", "2026-06-14T19:00", True),
    ("Pacific/Kiritimati", "2026-06-15T00:00", True),
    ("Pacific/Kiritimati", "2026-06-15T09:00", False),
    ("Pacific/Kiritimati", "2026-06-15T23:00", False),
    # -12: at 09:00Z on 15 June it is still 14 June there: a UTC comparison sends a day early.
    ("Etc/GMT+12", "2026-06-15T00:00", False),
    ("Etc/GMT+12", "2026-06-15T09:00", False),
    ("Etc/GMT+12", "2026-06-15T21:00", True),
    ("Etc/GMT+12", "2026-06-16T08:59", True),
    ("Pacific/Pago_Pago", "2026-06-15T19:59", False),
    ("Pacific/Pago_Pago", "2026-06-16T07:59", True),
    ("Pacific/Tongatapu", "2026-06-14T20:00", True),
    ("Pacific/Tongatapu", "2026-06-15T08:00", False),
]


@pytest.mark.parametrize(("tz", "now", "due"), FAR_EAST_AND_WEST)
def test_no_greeting_a_day_early_or_late_far_from_utc(tz: str, now: str, due: bool) -> None:
    greetings = due_greetings(Z(now), person(tz, date(1990, 6, 15)), NINE)
    assert [g.local_date for g in greetings] == ([date(2026, 6, 15)] if due else [])


def test_years_for_templates_and_the_origin_year_is_not_greeted() -> None:
    customer = CustomerOccasions(
        42,
        "Asia/Dhaka",
        "bn",
        (
            Occasion("birthday", date(1990, 6, 15)),
            Occasion("anniversary", date(2016, 6, 15), year_known=False),
            Occasion("customer_since", date(2025, 6, 15)),
        ),
    )
    due = due_greetings(Z("2026-06-15T03:00"), customer, NINE)
    assert [(g.key.occasion, g.years, g.locale) for g in due] == [
        ("anniversary", None, "bn"),
        ("birthday", 36, "bn"),
        ("customer_since", 1, "bn"),
    ]
    newcomer = person("Asia/Dhaka", customer_since=date(2026, 6, 15))
    assert due_greetings(Z("2026-06-15T03:00"), newcomer, NINE) == ()
    unborn = person("Asia/Dhaka", date(2030, 6, 15))
    assert due_greetings(Z("2026-06-15T03:00"), unborn, NINE) == ()


def test_disabled_occasions_are_not_greeted() -> None:
    customer = person("UTC", date(1990, 6, 15), customer_since=date(2020, 6, 15))
    rules = GreetingRules(send_hour=9, occasions=frozenset({"customer_since"}))
    assert due_keys(Z("2026-06-15T09:00"), customer, rules) == [("customer_since", 2026)]


SWEEP_WINDOWS = [
    # now, rule, first date, last date, (month, day) looked up
    ("2026-06-15T12:00", "feb28", date(2026, 6, 14), date(2026, 6, 15), {(6, 14), (6, 15)}),
    (
        "2026-01-01T00:00",
        "feb28",
        date(2025, 12, 30),
        date(2026, 1, 1),
        {(12, 30), (12, 31), (1, 1)},
    ),
    (
        "2025-02-28T12:00",
        "feb28",
        date(2025, 2, 27),
        date(2025, 2, 28),
        {(2, 27), (2, 28), (2, 29)},
    ),
    ("2025-02-28T12:00", "mar1", date(2025, 2, 27), date(2025, 2, 28), {(2, 27), (2, 28)}),
    ("2025-03-01T12:00", "mar1", date(2025, 2, 28), date(2025, 3, 1), {(2, 28), (2, 29), (3, 1)}),
    ("2024-03-01T12:00", "mar1", date(2024, 2, 29), date(2024, 3, 1), {(2, 29), (3, 1)}),
]


@pytest.mark.parametrize(("now", "rule", "first", "last", "month_days"), SWEEP_WINDOWS)
def test_sweep_window_names_the_few_dates_to_query(
    now: str, rule: str, first: date, last: date, month_days: set[tuple[int, int]]
) -> None:
    # Default 12 h catch-up, 09:00 send: dates from (now - 12 h - 12 h - 9 h) to (now + 14 h - 9 h).
    window = sweep_window(Z(now), GreetingRules(send_hour=9, feb29=rule))  # type: ignore[arg-type]
    assert (window.first_date, window.last_date, window.month_days) == (first, last, month_days)
    assert window.sends_until == Z(now)
    assert window.sends_after == Z(now) - timedelta(hours=12)


def test_sweep_window_gives_month_day_numbers_for_an_integer_column() -> None:
    window = sweep_window(Z("2026-01-01T00:00"), NINE)
    assert window.month_day_numbers == (101, 1230, 1231)
    assert window.local_dates == (date(2025, 12, 30), date(2025, 12, 31), date(2026, 1, 1))


def sweep_every_five_minutes(
    customers: list[CustomerOccasions], rules: GreetingRules, start: datetime, end: datetime
) -> tuple[dict[GreetingKey, list[Greeting]], dict[str, Greeting]]:
    """Sweeps as the scheduler will run them: index lookup, exact check, a unique key."""
    seen: dict[GreetingKey, list[Greeting]] = defaultdict(list)
    outbox: dict[str, Greeting] = {}  # stands in for the unique (customer, occasion, year)
    now = start
    while now < end:
        window = sweep_window(now, rules)
        for c in customers:
            due = due_greetings(now, c, rules)
            if not any((o.origin.month, o.origin.day) in window.month_days for o in c.occasions):
                assert due == (), "the index lookup would have missed it"
            for g in due:
                seen[g.key].append(g)
                outbox.setdefault(g.key.token, g)
        now += timedelta(minutes=5)
    return seen, outbox


def test_a_day_of_sweeps_sends_each_greeting_once_in_every_zone() -> None:
    customers = [
        person(tz, date(1990, 6, 15), customer_id=i, customer_since=date(2020, 6, 16))
        for i, (tz, _, _) in enumerate(ZONES)
    ]
    seen, outbox = sweep_every_five_minutes(
        customers, NINE, Z("2026-06-14T00:00"), Z("2026-06-17T12:00")
    )
    expected = {f"greeting:{i}:birthday:2026": Z(june) for i, (_, june, _) in enumerate(ZONES)}
    assert {t: g.send_at for t, g in outbox.items() if ":birthday:" in t} == expected
    assert len(outbox) == 2 * len(ZONES)
    for key, greetings in seen.items():
        # Every send instant is on a 5-minute mark: due in exactly the 144 sweeps of 12 h.
        assert len(greetings) == 144, key
        assert len(set(greetings)) == 1, key


@pytest.mark.parametrize(("tz", "day", "hour", "expected", "why"), DST)
def test_sweeps_across_a_clock_change_send_once(
    tz: str, day: date, hour: int, expected: str, why: str
) -> None:
    customers = [person(tz, day.replace(year=1960), customer_id=5)]
    start = datetime.combine(day, datetime.min.time(), UTC) - timedelta(days=1)
    seen, outbox = sweep_every_five_minutes(
        customers, GreetingRules(send_hour=hour), start, start + timedelta(days=3)
    )
    assert list(outbox) == [f"greeting:5:birthday:{day.year}"], why
    assert [g.send_at for g in outbox.values()] == [Z(expected)]
    assert len(next(iter(seen.values()))) == 144


def test_sweeps_across_new_year_send_each_year_once() -> None:
    customers = [
        person("Pacific/Kiritimati", date(1990, 12, 31), anniversary=date(2000, 1, 1)),
        person("Etc/GMT+12", date(1990, 12, 31), anniversary=date(2000, 1, 1), customer_id=2),
        person("Asia/Kathmandu", date(1990, 12, 31), anniversary=date(2000, 1, 1), customer_id=3),
    ]
    _, outbox = sweep_every_five_minutes(
        customers, NINE, Z("2025-12-29T00:00"), Z("2026-01-03T00:00")
    )
    assert {t: g.send_at for t, g in outbox.items()} == {
        "greeting:1:birthday:2025": Z("2025-12-30T19:00"),  # +14
        "greeting:1:anniversary:2026": Z("2025-12-31T19:00"),
        "greeting:2:birthday:2025": Z("2025-12-31T21:00"),  # -12
        "greeting:2:anniversary:2026": Z("2026-01-01T21:00"),
        "greeting:3:birthday:2025": Z("2025-12-31T03:15"),  # +5:45
        "greeting:3:anniversary:2026": Z("2026-01-01T03:15"),
    }


def test_utc_offsets_of_every_installed_zone_stay_within_the_sweep_bounds() -> None:
    # sweep_window's date range is only a superset while this holds.
    instants = [datetime(y, m, 15, tzinfo=UTC) for y in range(1996, 2041) for m in (1, 4, 7, 10)]
    for name in sorted(available_timezones()):
        tz = ZoneInfo(name)
        for t in instants:
            offset = t.astimezone(tz).utcoffset()
            assert offset is not None
            assert MIN_UTC_OFFSET <= offset <= MAX_UTC_OFFSET, (name, t)


ALL_ZONES = sorted(available_timezones())


@settings(max_examples=300, derandomize=True, deadline=None, database=None)
@given(
    tz=st.sampled_from(ALL_ZONES),
    origin=st.dates(date(1900, 1, 1), date(1999, 12, 31)),
    year=st.integers(2000, 2060),
    hour=st.integers(0, 23),
    rule=st.sampled_from(["feb28", "mar1"]),
    catch_up_minutes=st.integers(5, 48 * 60),
    at=st.floats(0, 1),
)
def test_every_greeting_is_found_by_the_sweep_window_while_it_is_due(
    tz: str,
    origin: date,
    year: int,
    hour: int,
    rule: str,
    catch_up_minutes: int,
    at: float,
) -> None:
    rules = GreetingRules(
        send_hour=hour,
        feb29=rule,  # type: ignore[arg-type]
        catch_up=timedelta(minutes=catch_up_minutes),
    )
    customer = person(tz, origin)
    g = greeting_in_year(customer, customer.occasions[0], year, rules)
    assert g is not None
    zone = ZoneInfo(tz)
    # The send is the first instant whose wall clock reaches the hour on the local date.
    target = datetime.combine(g.local_date, datetime.min.time()).replace(hour=hour)
    assert g.send_at.astimezone(zone).replace(tzinfo=None) >= target
    before = g.send_at - timedelta(seconds=1)
    assert before.astimezone(zone).replace(tzinfo=None) < target
    now = g.send_at + (g.expires_at - g.send_at) * at
    if now == g.expires_at:
        now -= timedelta(microseconds=1)
    assert g in due_greetings(now, customer, rules)
    window = sweep_window(now, rules)
    assert (origin.month, origin.day) in window.month_days
    assert window.first_date <= g.local_date <= window.last_date


def test_bad_input_is_refused_with_an_actionable_message() -> None:
    with pytest.raises(UnknownTimeZone, match="Mars/Olympus_Mons"):
        person("Mars/Olympus_Mons", date(1990, 1, 1))
    with pytest.raises(ValueError, match="aware"):
        due_greetings(datetime(2026, 1, 1), person("UTC", date(1990, 1, 1)), NINE)
    with pytest.raises(ValueError, match="send_hour"):
        GreetingRules(send_hour=24)
    with pytest.raises(ValueError, match="catch_up"):
        GreetingRules(catch_up=timedelta(0))


def test_config_defaults_make_the_default_rules() -> None:
    config = GreetingsConfig()
    assert config.rules() == GreetingRules()
    assert (config.send_hour, config.feb29, config.catch_up_hours, config.sweep_minutes) == (
        9,
        "feb28",
        12.0,
        5,
    )
    assert config.channel_order == ["email"]


def test_config_maps_onto_rules() -> None:
    config = GreetingsConfig.model_validate(
        {
            "send_hour": 10,
            "feb29": "mar1",
            "catch_up_hours": 6,
            "sweep_minutes": 10,
            "occasions": ["birthday"],
            "channel_order": ["telegram", "email"],
            "offer": {"en": "10% off with code HBD10", "bn": "HBD10 কোডে ১০% ছাড়"},
        }
    )
    assert config.rules() == GreetingRules(
        send_hour=10, feb29="mar1", catch_up=timedelta(hours=6), occasions=frozenset({"birthday"})
    )
    assert config.offer_for("bn_BD") == "HBD10 কোডে ১০% ছাড়"
    assert config.offer_for("en-GB") == "10% off with code HBD10"
    assert config.offer_for("de") is None


@pytest.mark.parametrize(
    ("raw", "location", "message"),
    [
        ({"send_hour": 24}, ("send_hour",), "less than or equal to 23"),
        ({"feb29": "mar2"}, ("feb29",), "'feb28' or 'mar1'"),
        ({"catch_up_hours": 0.05}, ("catch_up_hours",), "at least one sweep interval"),
        ({"catch_up_hours": 200}, ("catch_up_hours",), "less than or equal to 168"),
        ({"sweep_minutes": 0}, ("sweep_minutes",), "greater than or equal to 1"),
        ({"occasions": ["birthday", "birthday"]}, ("occasions",), "listed once"),
        ({"occasions": ["name_day"]}, ("occasions", 0), "'birthday'"),
        ({"channel_order": []}, ("channel_order",), "at least 1"),
        ({"channel_order": ["email", "email"]}, ("channel_order",), "listed once"),
        ({"channel_order": ["E mail"]}, ("channel_order", 0), "pattern"),
        ({"offer": {"xx_YY_zz": "hi"}}, ("offer",), "unknown locale"),
        ({"send_hours": 9}, ("send_hours",), "Extra inputs"),
    ],
)
def test_config_refuses_bad_values(raw: dict, location: tuple, message: str) -> None:
    with pytest.raises(ValidationError) as caught:
        GreetingsConfig.model_validate(raw)
    errors = caught.value.errors()
    assert [e["loc"] for e in errors] == [location]
    assert message in errors[0]["msg"]
