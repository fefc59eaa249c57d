"""The `calendars:` section (#14): the issue's example loads as written; day ranges wrap;
ranges may end at 24:00 or run through midnight; holidays come from a country, dates and an
iCalendar file next to the config; every mistake is an error at its file and line. And the
duration parser the SLA policies share."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from hub.config.calendars import TimeRange, parse_day_key, parse_time_range
from hub.config.durations import DurationError, format_duration, parse_duration
from hub.config.loader import Config, ConfigError, load_config, parse_config
from hub.sla.calendars import build_calendar, build_calendars
from tests.support import REGISTRY, ROOT

HEAD = """\
teams:
  - {id: support, name: Support}
routing:
  fallback_team: support
"""

ISSUE_EXAMPLE = (
    HEAD
    + """\
calendars:
  dhaka-office:
    timezone: Asia/Dhaka
    hours:
      sun-wed: ["09:00-13:00", "14:00-18:00"]
      thu: ["09:00-16:00"]
    holidays:
      country: BD            # public holidays from the `holidays` package
      dates: [2027-02-21]    # and/or listed dates; an iCalendar file is a third source
    overrides:
      2027-03-20: ["10:00-14:00"]   # or [] for closed
      2027-03-21: []
"""
)


def load(text: str, where: Path | str = "hub.yaml") -> Config:
    return parse_config(text, str(where), REGISTRY)


def errors_of(text: str, where: Path | str = "hub.yaml") -> list[str]:
    with pytest.raises(ConfigError) as caught:
        load(text, where)
    return [str(issue) for issue in caught.value.issues]


def line_of(text: str, needle: str) -> int:
    return next(i for i, line in enumerate(text.splitlines(), 1) if needle in line)


def test_the_issue_example_loads_as_written() -> None:
    config = load(ISSUE_EXAMPLE)
    office = config.calendars["dhaka-office"]
    assert office.timezone == "Asia/Dhaka"
    week = office.weekly()
    morning_and_afternoon = (TimeRange(540, 780), TimeRange(840, 1080))
    assert week[6] == week[0] == week[1] == week[2] == morning_and_afternoon  # sun-wed
    assert week[3] == (TimeRange(540, 960),)  # thu
    assert week[4] == week[5] == ()  # fri, sat closed
    assert office.holidays.country == "BD"
    assert office.holidays.dates == [date(2027, 2, 21)]
    assert office.overrides == {date(2027, 3, 20): [TimeRange(600, 840)], date(2027, 3, 21): []}


def test_a_config_without_calendars_still_loads() -> None:
    assert load(HEAD).calendars == {}


def test_the_demo_config_has_the_dhaka_calendar() -> None:
    config = load_config(ROOT / "config" / "hub.yaml", REGISTRY)
    dhaka = build_calendars(config.calendars)["dhaka-office"]
    assert dhaka.zone.key == "Asia/Dhaka"
    # 2027-02-21 (a Sunday) is a BD public holiday: the next opening is Monday's
    saturday = datetime(2027, 2, 20, 12, 0, tzinfo=dhaka.zone)
    assert dhaka.next_open(saturday) == datetime(2027, 2, 22, 9, 0, tzinfo=dhaka.zone)


@pytest.mark.parametrize(
    ("key", "days"),
    [
        ("mon", (0,)),
        ("mon-fri", (0, 1, 2, 3, 4)),
        ("sun-wed", (6, 0, 1, 2)),
        ("fri-mon", (4, 5, 6, 0)),
        ("mon-sun", (0, 1, 2, 3, 4, 5, 6)),
        ("sat-sat", (5,)),
        ("Thu", (3,)),
    ],
)
def test_day_keys(key: str, days: tuple[int, ...]) -> None:
    assert parse_day_key(key) == days


@pytest.mark.parametrize(
    ("text", "start", "end"),
    [
        ("09:00-17:00", 540, 1020),
        ("9:30-12:00", 570, 720),
        ("00:00-24:00", 0, 1440),
        ("18:00-24:00", 1080, 1440),
        ("22:00-02:00", 1320, 1560),  # through midnight: ends on the next day
        ("23:00-00:00", 1380, 1440),
        (" 08:00 - 12:15 ", 480, 735),
    ],
)
def test_time_ranges(text: str, start: int, end: int) -> None:
    assert parse_time_range(text) == TimeRange(start, end)


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("09:00-09:00", "is empty"),
        ("24:00-02:00", "cannot start at 24:00"),
        ("09:00-25:00", "HH:MM-HH:MM"),
        ("09:60-10:00", "HH:MM-HH:MM"),
        ("9-5", "HH:MM-HH:MM"),
        ("", "HH:MM-HH:MM"),
        (540, "HH:MM-HH:MM"),
    ],
)
def test_bad_time_ranges(text: object, words: str) -> None:
    with pytest.raises(ValueError, match=words):
        parse_time_range(text)


def _calendar(body: str) -> str:
    return HEAD + "calendars:\n  office:\n    timezone: Europe/Berlin\n" + body


# (why, the calendar's body, text on the line the error points at, words of the message)
BAD = [
    (
        "unknown day",
        '    hours:\n      mon-fri: ["09:00-17:00"]\n      funday: ["10:00-11:00"]\n',
        "funday:",
        "unknown day 'funday'",
    ),
    (
        "bad time",
        '    hours:\n      mon-fri:\n        - "09:00-17:00"\n        - "18:00-25:00"\n',
        "18:00-25:00",
        "calendars.office.hours.mon-fri[1]: a time range is 'HH:MM-HH:MM'",
    ),
    (
        "overlap on one day",
        '    hours:\n      mon: ["09:00-13:00", "12:00-17:00"]\n',
        "mon:",
        "09:00-13:00 overlaps 12:00-17:00 on mon",
    ),
    (
        "overlap of two keys",
        '    hours:\n      mon-fri: ["09:00-17:00"]\n      fri: ["16:00-18:00"]\n',
        "mon-fri:",
        "09:00-17:00 overlaps 16:00-18:00 on fri (fri[0])",
    ),
    (
        "a night running into the next morning",
        '    hours:\n      sat: ["22:00-02:00"]\n      sun: ["01:00-05:00"]\n',
        "sat:",
        "22:00-02:00 runs past midnight into 01:00-05:00 of the next day (sun[0])",
    ),
    (
        "overlap in an override",
        '    hours:\n      mon: ["09:00-17:00"]\n    overrides:\n'
        '      2027-03-08: ["09:00-12:00", "11:00-13:00"]\n',
        "2027-03-08:",
        "overrides.2027-03-08[0]: 09:00-12:00 overlaps 11:00-13:00",
    ),
    (
        "not a date",
        '    hours:\n      mon: ["09:00-17:00"]\n    overrides:\n      2027-02-30: []\n',
        "2027-02-30:",
        "'2027-02-30' is not valid: day is out of range for month",
    ),
    (
        "not a date in a list",
        '    hours:\n      mon: ["09:00-17:00"]\n    holidays:\n      dates: [2027-01-01, 2027-13-01]\n',
        "dates:",
        "holidays.dates[1]: '2027-13-01' is not valid: month must be in 1..12",
    ),
    (
        "unknown country",
        '    hours:\n      mon: ["09:00-17:00"]\n    holidays:\n      country: XX\n',
        "country: XX",
        "no public holidays known for country 'XX'",
    ),
    (
        "unknown subdivision",
        '    hours:\n      mon: ["09:00-17:00"]\n    holidays:\n      country: DE\n'
        "      subdiv: QQ\n",
        "subdiv: QQ",
        "DE has no subdivision 'QQ' (known: BB, BE, BW, BY",
    ),
    (
        "a subdivision without a country",
        '    hours:\n      mon: ["09:00-17:00"]\n    holidays:\n      region: BY\n',
        "region: BY",
        "a subdivision needs a country",
    ),
    (
        "unknown key",
        '    hours:\n      mon: ["09:00-17:00"]\n    holiday: {country: DE}\n',
        "holiday:",
        "unknown key 'holiday'",
    ),
    (
        "no hours",
        "    holidays: {country: DE}\n",
        "office:",
        "hours: required key is missing",
    ),
    (
        "a single range, not a list",
        '    hours:\n      mon: "09:00-17:00"\n',
        "mon:",
        "Input should be a valid list",
    ),
    (
        "a missing iCalendar file",
        '    hours:\n      mon: ["09:00-17:00"]\n    holidays:\n      ical: missing.ics\n',
        "ical:",
        "cannot read",
    ),
]


@pytest.mark.parametrize(
    ("body", "on", "words"), [row[1:] for row in BAD], ids=[row[0] for row in BAD]
)
def test_mistakes_are_errors_at_their_line(body: str, on: str, words: str) -> None:
    text = _calendar(body)
    found = errors_of(text)
    assert any(e.startswith(f"hub.yaml:{line_of(text, on)}: ") and words in e for e in found), found


def test_bad_zone_and_names() -> None:
    text = HEAD + (
        "calendars:\n  Office Hours:\n    timezone: Europe/Berlin\n"
        '    hours: {mon: ["09:00-17:00"]}\n'
        "  calendar-time:\n    timezone: Europe/Berlin\n"
        '    hours: {mon: ["09:00-17:00"]}\n'
        "  moon:\n    timezone: Moon/Tranquility\n"
        '    hours: {mon: ["09:00-17:00"]}\n'
    )
    found = "\n".join(errors_of(text))
    assert "calendar names are lower-case letters" in found
    assert "'calendar-time' is reserved" in found
    assert f"hub.yaml:{line_of(text, 'Moon/')}: calendars.moon.timezone: unknown IANA" in found


def test_a_region_is_a_subdivision() -> None:
    text = _calendar(
        '    hours:\n      mon-fri: ["09:00-17:00"]\n    holidays: {country: de, region: by}\n'
    )
    office = load(text).calendars["office"]
    assert (office.holidays.country, office.holidays.subdiv) == ("DE", "BY")
    # Epiphany (6 January) is a holiday in Bavaria, not in Berlin
    cal = build_calendar("office", office)
    wednesday = datetime(2027, 1, 6, 10, tzinfo=ZoneInfo("Europe/Berlin"))
    assert not cal.is_open(wednesday)
    berlin = load(text.replace("region: by", "region: BE")).calendars["office"]
    assert build_calendar("office", berlin).is_open(wednesday)


ICS = """\
BEGIN:VCALENDAR
VERSION:2.0
PRODID:-//hub tests//closures//EN
BEGIN:VEVENT
UID:retreat@hub
DTSTART;VALUE=DATE:20270105
DTEND;VALUE=DATE:20270107
SUMMARY:Company retreat (two days)
END:VEVENT
BEGIN:VEVENT
UID:founders@hub
DTSTART;VALUE=DATE:20200312
RRULE:FREQ=YEARLY
EXDATE;VALUE=DATE:20280312
SUMMARY:Founders' day, every year but 2028
END:VEVENT
BEGIN:VEVENT
UID:move@hub
DTSTART;TZID=Europe/Berlin:20270301T100000
DTEND;TZID=Europe/Berlin:20270301T120000
SUMMARY:Office move (a timed event closes its day)
END:VEVENT
END:VCALENDAR
"""


def test_an_icalendar_file_next_to_the_config_closes_its_days(tmp_path: Path) -> None:
    (tmp_path / "closures").mkdir()
    (tmp_path / "closures" / "office.ics").write_text(ICS, encoding="utf-8")
    path = tmp_path / "hub.yaml"
    path.write_text(
        _calendar(
            '    hours:\n      mon-fri: ["09:00-17:00"]\n'
            "    holidays:\n      ical: closures/office.ics\n      dates: [2027-01-08]\n"
        ),
        encoding="utf-8",
    )
    office = load_config(path, REGISTRY).calendars["office"]
    listed = office.holidays.listed()
    assert {date(2027, 1, 5), date(2027, 1, 6), date(2027, 1, 8)} <= listed
    assert date(2027, 1, 7) not in listed  # DTEND is exclusive
    assert {date(2020, 3, 12), date(2027, 3, 12), date(2100, 3, 12)} <= listed
    assert date(2028, 3, 12) not in listed  # EXDATE
    assert date(2027, 3, 1) in listed
    cal = build_calendar("office", office)
    monday = datetime(2027, 1, 4, 16, 30, tzinfo=ZoneInfo("Europe/Berlin"))
    # Tue 5 and Wed 6 retreat, Thu 7 open, Fri 8 listed
    assert cal.add(monday, timedelta(hours=1)) == datetime(2027, 1, 7, 8, 30, tzinfo=UTC)
    assert cal.add(monday, timedelta(hours=9)) == datetime(2027, 1, 11, 8, 30, tzinfo=UTC)


def test_a_broken_icalendar_file_is_an_error_at_its_key(tmp_path: Path) -> None:
    (tmp_path / "bad.ics").write_text("this is not iCalendar\n", encoding="utf-8")
    daily = ICS.replace("FREQ=YEARLY", "FREQ=DAILY")
    (tmp_path / "daily.ics").write_text(daily, encoding="utf-8")
    for name, words in (("bad.ics", "not an iCalendar file"), ("daily.ics", "more than")):
        text = _calendar(
            f'    hours:\n      mon: ["09:00-17:00"]\n    holidays:\n      ical: {name}\n'
        )
        found = errors_of(text, tmp_path / "hub.yaml")
        line = line_of(text, "ical:")
        assert any(f"hub.yaml:{line}: calendars.office.holidays.ical: " in e for e in found)
        assert any(words in e for e in found), found


# -- durations ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "minutes"),
    [
        ("45m", 45),
        ("8h", 480),
        ("2d", 2 * 24 * 60),
        ("1h30m", 90),
        ("1d12h", 36 * 60),
        ("90m", 90),
        (" 2H ", 120),
        ("0m", 0),
    ],
)
def test_durations(text: str, minutes: int) -> None:
    assert parse_duration(text) == timedelta(minutes=minutes)
    assert parse_duration(format_duration(timedelta(minutes=minutes))) == timedelta(minutes=minutes)


@pytest.mark.parametrize(
    "text", ["", "90", "m", "1x", "-5m", "1.5h", "30m1h", "1h1h", "1 h", "3651d", "h1"]
)
def test_bad_durations(text: str) -> None:
    with pytest.raises(DurationError):
        parse_duration(text)


def test_format_duration() -> None:
    assert format_duration(timedelta(minutes=90)) == "1h30m"
    assert format_duration(timedelta(days=2)) == "2d"
    assert format_duration(timedelta(seconds=61)) == "1m1s"
    assert format_duration(timedelta()) == "0m"
