"""Business-time arithmetic (#14): the acceptance table, DST change days in three zones
(Lord Howe's is 30 minutes), holidays from the `holidays` package, overrides, and the
properties every calendar keeps (hypothesis): add and elapsed are exact inverses, add is
monotonic in the duration and in the start, and add's answer is the first such instant."""

from __future__ import annotations

import os
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from hub.config.calendars import CalendarConfig
from hub.sla.business_time import BusinessCalendar, NoOpenTime
from hub.sla.calendar import CALENDAR_TIME, Calendar
from hub.sla.calendars import UnknownCalendar, build_calendar, build_calendars, calendar_named

BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")
LORD_HOWE = ZoneInfo("Australia/Lord_Howe")
DHAKA = ZoneInfo("Asia/Dhaka")
SANTIAGO = ZoneInfo("America/Santiago")
H, M = timedelta(hours=1), timedelta(minutes=1)
MICRO = timedelta(microseconds=1)


def calendar(timezone: str = "Europe/Berlin", **fields: Any) -> BusinessCalendar:
    fields.setdefault("hours", {"mon-fri": ["09:00-17:00"]})
    return build_calendar("test", CalendarConfig.model_validate({"timezone": timezone, **fields}))


def at(zone: ZoneInfo, text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=zone)


# -- the acceptance table ------------------------------------------------------------------

OFFICE = {"hours": {"mon-fri": ["09:00-17:00"]}}
LUNCH = {"hours": {"mon-fri": ["09:00-12:00", "13:00-17:00"]}}
NIGHTS = {"hours": {"fri": ["22:00-02:00"]}}
ROUND = {"hours": {"mon-fri": ["00:00-24:00"]}}

TABLE = [
    # (why, calendar fields, start, duration, due) in Europe/Berlin; 2027-03-05 is a Friday
    ("Friday 16:30 + 1h is Monday 09:30", OFFICE, "2027-03-05T16:30", H, "2027-03-08T09:30"),
    (
        "with Monday a holiday, Tuesday 09:30",
        {**OFFICE, "holidays": {"dates": ["2027-03-08"]}},
        "2027-03-05T16:30",
        H,
        "2027-03-09T09:30",
    ),
    ("a lunch break is skipped", LUNCH, "2027-03-08T11:30", H, "2027-03-08T13:30"),
    ("a start at lunch waits for 13:00", LUNCH, "2027-03-08T12:10", 30 * M, "2027-03-08T13:30"),
    ("a start before opening waits", OFFICE, "2027-03-08T07:00", H, "2027-03-08T10:00"),
    ("a start at the weekend waits", OFFICE, "2027-03-06T12:00", 2 * H, "2027-03-08T11:00"),
    ("a deadline on the closing time", OFFICE, "2027-03-08T16:00", H, "2027-03-08T17:00"),
    ("a full week", OFFICE, "2027-03-08T09:00", 40 * H, "2027-03-12T17:00"),
    ("2d is 48 open hours", OFFICE, "2027-03-08T09:00", 48 * H, "2027-03-15T17:00"),
    ("a range through midnight", NIGHTS, "2027-03-05T23:30", H, "2027-03-06T00:30"),
    ("its end on Saturday 02:00", NIGHTS, "2027-03-05T23:30", 150 * M, "2027-03-06T02:00"),
    ("then the next Friday night", NIGHTS, "2027-03-05T23:30", 3 * H, "2027-03-12T22:30"),
    (
        "a holiday on Friday takes the whole night",
        {**NIGHTS, "holidays": {"dates": ["2027-03-05"]}},
        "2027-03-05T21:00",
        H,
        "2027-03-12T23:00",
    ),
    (
        "a holiday on Saturday takes none of Friday's night",
        {**NIGHTS, "holidays": {"dates": ["2027-03-06"]}},
        "2027-03-06T01:00",
        30 * M,
        "2027-03-06T01:30",
    ),
    (
        "a night across the year end, New Year's Day a holiday",
        {**NIGHTS, "holidays": {"country": "DE"}},
        "2027-12-31T23:00",
        2 * H,
        "2028-01-01T01:00",
    ),
    ("24:00 runs on into the next day", ROUND, "2027-03-08T23:30", H, "2027-03-09T00:30"),
    ("Friday 24:00 to Monday 00:00", ROUND, "2027-03-05T23:30", H, "2027-03-08T00:30"),
    (
        "an override opens a Saturday",
        {**OFFICE, "overrides": {"2027-03-06": ["10:00-14:00"]}},
        "2027-03-05T16:30",
        H,
        "2027-03-06T10:30",
    ),
    (
        "an override [] closes a Monday",
        {**OFFICE, "overrides": {"2027-03-08": []}},
        "2027-03-05T16:30",
        H,
        "2027-03-09T09:30",
    ),
    (
        "an override opens a holiday",
        {
            **OFFICE,
            "holidays": {"dates": ["2027-03-08"]},
            "overrides": {"2027-03-08": ["12:00-13:00"]},
        },
        "2027-03-05T16:30",
        H,
        "2027-03-08T12:30",
    ),
    (
        "wrapping days: sun-wed",
        {"hours": {"sun-wed": ["09:00-17:00"]}},
        "2027-03-10T16:30",  # a Wednesday: Thu to Sat are closed
        H,
        "2027-03-14T09:30",
    ),
    (
        "German holidays by country: Easter Monday",
        {**OFFICE, "holidays": {"country": "DE"}},
        "2027-03-25T16:30",  # a Thursday: Good Friday is 2027-03-26, Easter Monday 03-29
        H,
        "2027-03-30T09:30",
    ),
    (
        "a microsecond",
        OFFICE,
        "2027-03-05T16:59:59.999999",
        2 * MICRO,
        "2027-03-08T09:00:00.000001",
    ),
]


@pytest.mark.parametrize(
    ("fields", "start", "duration", "due"),
    [row[1:] for row in TABLE],
    ids=[row[0] for row in TABLE],
)
def test_deadlines_of_the_table(
    fields: dict[str, Any], start: str, duration: timedelta, due: str
) -> None:
    cal = calendar(**fields)
    begin = at(BERLIN, start)
    found = cal.add(begin, duration)
    assert found == at(BERLIN, due)
    assert found.tzinfo == UTC
    assert cal.elapsed(begin, found) == duration


def test_elapsed_counts_only_open_time() -> None:
    cal = calendar(**LUNCH)
    assert cal.elapsed(at(BERLIN, "2027-03-05T08:00"), at(BERLIN, "2027-03-08T18:00")) == 14 * H
    assert cal.elapsed(at(BERLIN, "2027-03-06T08:00"), at(BERLIN, "2027-03-07T18:00")) == 0 * H
    # the other way round is the same time, negative
    assert cal.elapsed(at(BERLIN, "2027-03-08T18:00"), at(BERLIN, "2027-03-05T08:00")) == -14 * H


def test_instants_in_other_zones_are_the_same_instants() -> None:
    cal = calendar(**OFFICE)
    friday = datetime(2027, 3, 5, 15, 30, tzinfo=UTC)  # 16:30 in Berlin
    assert cal.add(friday, H) == datetime(2027, 3, 8, 8, 30, tzinfo=UTC)
    assert cal.add(friday, H).astimezone(BERLIN).isoformat() == "2027-03-08T09:30:00+01:00"


def test_a_year_end_is_crossed_with_its_holidays() -> None:
    cal = calendar(**{**OFFICE, "holidays": {"country": "DE"}})
    start = at(BERLIN, "2027-12-23T16:00")  # Thursday; 24th Friday is a working day in DE
    due = cal.add(start, 10 * H)
    # Thu 1h, Fri 24th 8h, 25th/26th weekend+holiday, Mon 27th 1h
    assert due == at(BERLIN, "2027-12-27T10:00")
    long = cal.add(start, 2500 * H)  # more than a year of office hours: two year ends
    assert long.astimezone(BERLIN).year == 2029
    assert cal.elapsed(start, long) == 2500 * H


# -- daylight saving ------------------------------------------------------------------------

DST_DAYS = [
    # (zone, the day, open time of 00:00-24:00 that day, open time of a range over the change)
    (BERLIN, "2027-03-28", 23 * H, ("01:00-04:00", 2 * H)),
    (BERLIN, "2027-10-31", 25 * H, ("01:00-04:00", 4 * H)),
    (NEW_YORK, "2027-03-14", 23 * H, ("01:00-04:00", 2 * H)),
    (NEW_YORK, "2027-11-07", 25 * H, ("00:30-02:30", 3 * H)),
    (LORD_HOWE, "2027-10-03", 23 * H + 30 * M, ("01:00-03:00", 90 * M)),
    (LORD_HOWE, "2027-04-04", 24 * H + 30 * M, ("01:00-03:00", 150 * M)),
    # Santiago moves its clocks at midnight: 00:00 does not exist on 5 September 2027, and
    # 23:00-24:00 on 3 April comes twice.
    (SANTIAGO, "2027-09-05", 23 * H, ("00:00-08:00", 7 * H)),
    (SANTIAGO, "2027-04-03", 25 * H, ("20:00-24:00", 5 * H)),
]


@pytest.mark.parametrize(("zone", "day", "whole", "across"), DST_DAYS)
def test_dst_change_days_count_real_time(
    zone: ZoneInfo, day: str, whole: timedelta, across: tuple[str, timedelta]
) -> None:
    weekday = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")[date.fromisoformat(day).weekday()]
    midnight = at(zone, f"{day}T00:00")
    next_midnight = at(zone, (date.fromisoformat(day) + timedelta(days=1)).isoformat())
    all_day = calendar(zone.key, hours={weekday: ["00:00-24:00"]})
    assert all_day.elapsed(midnight, next_midnight) == whole
    assert all_day.add(midnight, whole) == next_midnight
    span, open_time = across
    over = calendar(zone.key, hours={weekday: [span]})
    assert over.elapsed(midnight, next_midnight) == open_time
    assert over.elapsed(midnight, over.add(midnight, open_time)) == open_time


def test_a_range_inside_the_skipped_hour_is_never_open() -> None:
    cal = calendar(hours={"sun": ["02:15-02:45", "09:00-10:00"]})
    sunday = at(BERLIN, "2027-03-28T00:00")
    assert cal.add(sunday, 30 * M) == at(BERLIN, "2027-03-28T09:30")
    # the Sunday after, the same range is open
    assert cal.add(sunday + timedelta(days=7), 30 * M) == at(BERLIN, "2027-04-04T02:45")


def test_a_range_starting_in_the_skipped_hour_opens_when_the_clocks_jump() -> None:
    cal = calendar("America/New_York", hours={"sun": ["02:30-05:00"]})
    opens = cal.next_open(at(NEW_YORK, "2027-03-14T00:00"))
    assert opens == datetime(2027, 3, 14, 7, 0, tzinfo=UTC)  # 03:00 EDT, the jump
    assert opens.astimezone(NEW_YORK).isoformat() == "2027-03-14T03:00:00-04:00"
    assert cal.add(opens, H) == at(NEW_YORK, "2027-03-14T04:00")


def test_a_deadline_in_the_repeated_hour_keeps_its_offset() -> None:
    cal = calendar(hours={"sun": ["00:00-24:00"]})
    due = cal.add(at(BERLIN, "2027-10-31T00:00"), 2 * H + 30 * M)
    assert due.astimezone(BERLIN).isoformat() == "2027-10-31T02:30:00+02:00"  # the first 02:30
    again = cal.add(at(BERLIN, "2027-10-31T00:00"), 3 * H + 30 * M)
    # the second one, an hour later
    assert again.astimezone(BERLIN).isoformat() == "2027-10-31T02:30:00+01:00"
    assert again - due == H


def test_lord_howe_half_hour_shift_moves_an_office_deadline() -> None:
    cal = calendar("Australia/Lord_Howe", hours={"mon-sun": ["09:00-17:00"]})
    saturday = at(LORD_HOWE, "2027-10-02T16:30")  # +10:30; Sunday is +11:00
    due = cal.add(saturday, H)
    assert due.astimezone(LORD_HOWE).isoformat() == "2027-10-03T09:30:00+11:00"
    assert cal.elapsed(saturday, due) == H


# -- holidays by country: Dhaka -------------------------------------------------------------

DHAKA_OFFICE = {
    "hours": {"sun-wed": ["09:00-13:00", "14:00-18:00"], "thu": ["09:00-16:00"]},
    "holidays": {"country": "BD"},
}


def test_dhaka_skips_language_martyrs_day() -> None:
    # 2027-02-21, a Sunday, is Shaheed Dibosh in the holidays package's BD list.
    cal = calendar("Asia/Dhaka", **DHAKA_OFFICE)
    thursday = at(DHAKA, "2027-02-18T15:30")
    due = cal.add(thursday, H)
    assert due.astimezone(DHAKA).isoformat() == "2027-02-22T09:30:00+06:00"  # Sun: holiday
    without = calendar("Asia/Dhaka", hours=DHAKA_OFFICE["hours"])
    assert without.add(thursday, H) == at(DHAKA, "2027-02-21T09:30")


def test_dhaka_lunch_and_short_thursday() -> None:
    cal = calendar("Asia/Dhaka", **DHAKA_OFFICE)
    week = cal.elapsed(at(DHAKA, "2027-01-31T00:00"), at(DHAKA, "2027-02-07T00:00"))
    assert week == 4 * 8 * H + 7 * H
    assert not cal.is_open(at(DHAKA, "2027-02-01T13:30"))
    assert cal.next_open(at(DHAKA, "2027-02-01T13:30")) == at(DHAKA, "2027-02-01T14:00")


# -- the seam and its edges -----------------------------------------------------------------


def test_is_open_next_open_and_open_intervals() -> None:
    cal = calendar(**LUNCH)
    assert cal.is_open(at(BERLIN, "2027-03-08T09:00"))
    assert not cal.is_open(at(BERLIN, "2027-03-08T12:00"))
    noon = at(BERLIN, "2027-03-08T12:00")
    assert cal.next_open(noon) == at(BERLIN, "2027-03-08T13:00")
    ten = at(BERLIN, "2027-03-08T10:00")
    assert cal.next_open(ten) == ten
    assert cal.open_intervals(ten, at(BERLIN, "2027-03-09T10:00")) == [
        (ten, at(BERLIN, "2027-03-08T12:00")),
        (at(BERLIN, "2027-03-08T13:00"), at(BERLIN, "2027-03-08T17:00")),
        (at(BERLIN, "2027-03-09T09:00"), at(BERLIN, "2027-03-09T10:00")),
    ]


def test_add_zero_is_the_start_and_bad_inputs_are_refused() -> None:
    cal = calendar(**OFFICE)
    saturday = at(BERLIN, "2027-03-06T12:00")
    assert cal.add(saturday, timedelta()) == saturday
    with pytest.raises(ValueError, match="negative"):
        cal.add(saturday, -M)
    with pytest.raises(ValueError, match="no time zone"):
        cal.add(datetime(2027, 3, 6, 12), H)


def test_a_calendar_without_open_time_fails_instead_of_looping() -> None:
    closed = calendar(hours={"mon": []})
    start = at(BERLIN, "2027-03-05T16:30")
    with pytest.raises(NoOpenTime, match="no open time in the 10 years"):
        closed.add(start, H)
    with pytest.raises(NoOpenTime):
        closed.next_open(start)
    assert closed.elapsed(start, start + 1000 * H) == timedelta()
    only_once = calendar(hours={"mon": []}, overrides={"2027-03-06": ["10:00-11:00"]})
    assert only_once.add(start, H) == at(BERLIN, "2027-03-06T11:00")
    with pytest.raises(NoOpenTime):
        only_once.add(start, 2 * H)


def test_calendars_by_name_and_calendar_time() -> None:
    cals: dict[str, Calendar] = dict(
        build_calendars({"office": CalendarConfig.model_validate({"timezone": "UTC", **OFFICE})})
    )
    assert calendar_named(cals, "office").name == "office"
    assert calendar_named(cals, None) is CALENDAR_TIME
    assert calendar_named(cals, "calendar-time") is CALENDAR_TIME
    with pytest.raises(UnknownCalendar, match="no calendar 'nope' \\(calendars: office\\)"):
        calendar_named(cals, "nope")


# -- properties -----------------------------------------------------------------------------

PROPERTY_CALENDARS = {
    "berlin-lunch-de": calendar("Europe/Berlin", **{**LUNCH, "holidays": {"country": "DE"}}),
    "new-york-nights": calendar(
        "America/New_York",
        hours={"mon-fri": ["08:00-12:00", "20:00-02:30"], "sat": ["01:30-02:30"]},
    ),
    "lord-howe-round": calendar("Australia/Lord_Howe", hours={"sun-thu": ["00:00-24:00"]}),
    "dhaka-bd": calendar("Asia/Dhaka", **DHAKA_OFFICE, overrides={"2027-03-20": ["10:00-14:00"]}),
}
PROPERTIES = settings(
    max_examples=int(os.environ.get("HUB_PROPERTY_EXAMPLES", "150")),
    deadline=None,
    derandomize=True,
    database=None,
)
instants = st.datetimes(
    min_value=datetime(2026, 1, 1), max_value=datetime(2029, 12, 31), timezones=st.just(UTC)
)
durations = st.one_of(
    st.timedeltas(min_value=timedelta(), max_value=timedelta(hours=3)),
    st.timedeltas(min_value=timedelta(), max_value=timedelta(days=200)),
)
calendars = st.sampled_from(sorted(PROPERTY_CALENDARS))


# The DST change days, where wall time and real time part.
@example("new-york-nights", datetime(2027, 3, 14, 5, 45, tzinfo=UTC), timedelta(minutes=20))
@example("new-york-nights", datetime(2027, 11, 7, 5, 45, tzinfo=UTC), timedelta(minutes=100))
@example("lord-howe-round", datetime(2027, 10, 2, 14, 0, tzinfo=UTC), timedelta(hours=3))
@example("lord-howe-round", datetime(2027, 4, 3, 14, 59, tzinfo=UTC), timedelta(hours=1))
@example("berlin-lunch-de", datetime(2027, 3, 26, 10, 0, tzinfo=UTC), timedelta(hours=30))
@PROPERTIES
@given(calendars, instants, durations)
def test_elapsed_inverts_add_to_the_microsecond(name: str, s: datetime, d: timedelta) -> None:
    cal = PROPERTY_CALENDARS[name]
    due = cal.add(s, d)
    assert cal.elapsed(s, due) == d
    if d > timedelta():
        # the first such instant: a microsecond earlier there is less open time
        assert cal.elapsed(s, due - timedelta(microseconds=1)) < d


@PROPERTIES
@given(calendars, instants, durations, durations)
def test_add_is_monotonic_in_the_duration(
    name: str, s: datetime, d1: timedelta, d2: timedelta
) -> None:
    cal = PROPERTY_CALENDARS[name]
    small, large = sorted((d1, d2))
    assert cal.add(s, small) <= cal.add(s, large)


@PROPERTIES
@given(calendars, instants, instants, durations)
def test_add_is_monotonic_in_the_start(name: str, s1: datetime, s2: datetime, d: timedelta) -> None:
    cal = PROPERTY_CALENDARS[name]
    early, late = sorted((s1, s2))
    assert cal.add(early, d) <= cal.add(late, d)
    assert cal.elapsed(early, late) >= timedelta()


# -- an independent count: minute by minute on the wall clock -------------------------------

ORACLE_FIELDS: dict[str, Any] = {
    "hours": {"sun-wed": ["09:00-13:00", "14:00-18:00"], "thu": ["21:00-03:00"]},
    "holidays": {"country": "BD", "dates": ["2027-06-10"]},
    "overrides": {"2027-06-12": ["10:00-14:00"], "2027-06-13": []},
}
ORACLE = calendar("Asia/Dhaka", **ORACLE_FIELDS)  # no DST: wall minutes are real minutes


ORACLE_CONFIG = CalendarConfig.model_validate({"timezone": "Asia/Dhaka", **ORACLE_FIELDS})


def _bd_holidays() -> set[date]:
    import holidays

    return set(holidays.country_holidays("BD", years=2027))


ORACLE_CLOSED = _bd_holidays() | set(ORACLE_CONFIG.holidays.dates)


def _open_by_the_wall(local: datetime) -> bool:
    """Open at this local minute? Read off the config directly, the slow obvious way."""
    minute = local.hour * 60 + local.minute
    for back, day in ((0, local.date()), (1, local.date() - timedelta(days=1))):
        if day in ORACLE_CONFIG.overrides:
            ranges = ORACLE_CONFIG.overrides[day]
        elif day in ORACLE_CLOSED:
            ranges = []
        else:
            ranges = list(ORACLE_CONFIG.weekly()[day.weekday()])
        if any(r.start <= minute + back * 1440 < r.end for r in ranges):
            return True
    return False


@settings(max_examples=20, deadline=None, derandomize=True, database=None)
@given(
    st.datetimes(min_value=datetime(2027, 5, 25), max_value=datetime(2027, 6, 20)),
    st.integers(min_value=0, max_value=4 * 24 * 60),
)
def test_elapsed_matches_a_minute_by_minute_count(start: datetime, minutes: int) -> None:
    a = start.replace(second=0, microsecond=0, tzinfo=DHAKA)
    b = a + timedelta(minutes=minutes)
    counted = sum(_open_by_the_wall(a + timedelta(minutes=i)) for i in range(minutes))
    assert ORACLE.elapsed(a, b) == counted * M
