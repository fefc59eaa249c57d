"""`hub sla due | elapsed` (#14), run as operators run them: `python -m hub` on a config file.
The last line is for scripts; mistakes are exit code 2 with a message that says what to fix."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from hub.cli.main import main
from tests.support import ROOT

CONFIG = """\
teams:
  - {id: support, name: Support}
routing:
  fallback_team: support
calendars:
  dhaka-office:
    timezone: Asia/Dhaka
    hours:
      sun-wed: ["09:00-13:00", "14:00-18:00"]
      thu: ["09:00-16:00"]
    holidays:
      country: BD
  nights:
    timezone: America/New_York
    hours:
      mon-fri: ["22:00-06:00"]
"""


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "hub.yaml"
    path.write_text(CONFIG, encoding="utf-8")
    return path


def hub(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "hub", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )


def finished(proc: subprocess.Popen[str]) -> tuple[int, list[str], str]:
    out, err = proc.communicate(timeout=120)
    return proc.returncode, out.splitlines(), err


def test_due_and_elapsed_through_the_real_entry_point(config: Path) -> None:
    c = ("--config", str(config))
    # Started together: each is a whole `hub` process.
    due = hub("sla", "due", *c, "--calendar", "dhaka-office",
              "--start", "2027-02-18T09:30:00Z", "--duration", "90m")  # fmt: skip
    elapsed = hub("sla", "elapsed", *c, "--calendar", "dhaka-office",
                  "--from", "2027-02-18T15:30", "--to", "2027-02-22T10:00+06:00")  # fmt: skip

    # Thursday 15:30 in Dhaka: 30 minutes to closing; Friday and Saturday are the weekend,
    # Sunday 21 February is Language Martyrs' Day; Monday 09:00 + 1h.
    code, lines, err = finished(due)
    assert code == 0, err
    assert lines[-1] == "due=2027-02-22T10:00:00+06:00"
    assert "start=2027-02-18T15:30:00+06:00" in lines
    assert "duration=1h30m of open time" in lines

    code, lines, err = finished(elapsed)
    assert code == 0, err
    assert lines[-1] == "elapsed_minutes=90"


def test_a_bad_duration_is_exit_code_2(config: Path) -> None:
    c = ("--config", str(config))
    bad_duration = hub("sla", "due", *c, "--calendar", "dhaka-office",
                       "--start", "2027-02-18T15:30", "--duration", "90")  # fmt: skip

    code, lines, err = finished(bad_duration)
    assert code == 2
    assert lines == []
    assert "not a duration: '90' (e.g. 45m, 8h, 2d or 1h30m" in err
    assert "Traceback" not in err


def test_two_days_are_48_open_hours_across_a_dst_change(
    config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["--calendar", "nights", "--start", "2027-03-12T23:00", "--duration", "2d"]
    assert main(["sla", "due", "--config", str(config), *args]) == 0
    # 48 open hours: Friday 12 March 23:00 to Saturday 06:00 (7h), no weekend nights,
    # Monday to Friday nights (40h) while New York moves its clocks on Sunday 14 March,
    # then Monday 22 March 22:00 + 1h, in daylight saving time.
    assert capsys.readouterr().out.splitlines()[-1] == "due=2027-03-22T23:00:00-04:00"


def test_an_unknown_calendar_lists_the_known_ones(
    config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["--calendar", "paris", "--from", "2027-02-18T15:30", "--to", "2027-02-19T15:30"]
    assert main(["sla", "elapsed", "--config", str(config), *args]) == 2
    assert "no calendar 'paris' (calendars: dhaka-office, nights)" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (
            ["--start", "next tuesday", "--duration", "1h"],
            "--start 'next tuesday' is not an ISO 8601 time",
        ),
        (["--start", "2027-02-18T15:30", "--duration", "1h1h"], "not a duration: '1h1h'"),
        (["--start", "2027-02-18T15:30", "--duration", "4000d"], "longer than the limit"),
    ],
)
def test_due_refuses_bad_input(
    config: Path, args: list[str], words: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["sla", "due", "--config", str(config), "--calendar", "dhaka-office", *args])
    assert code == 2
    assert words in capsys.readouterr().err


def test_elapsed_refuses_a_reversed_span(config: Path, capsys: pytest.CaptureFixture[str]) -> None:
    args = ["--from", "2027-02-19T15:30", "--to", "2027-02-18T15:30"]
    code = main(["sla", "elapsed", "--config", str(config), "--calendar", "nights", *args])
    assert code == 2
    assert "--to 2027-02-18T15:30 is before --from 2027-02-19T15:30" in capsys.readouterr().err


def test_a_calendar_with_no_open_time_is_an_error_not_a_hang(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "closed.yaml"
    path.write_text(CONFIG + "  closed:\n    timezone: UTC\n    hours: {mon: []}\n", "utf-8")
    args = ["--start", "2027-02-18T15:30", "--duration", "1h"]
    code = main(["sla", "due", "--config", str(path), "--calendar", "closed", *args])
    assert code == 2
    assert "calendar 'closed' has no open time in the 10 years after" in capsys.readouterr().err
