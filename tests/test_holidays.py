"""China's public holidays by default (the chinesecalendar package), the parent's own
dates winning, and the overview saying how far the data goes."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from qinglang.dashboard.views.overview import holiday_status
from qinglang.policy import holidays, timerules
from qinglang.policy.config import Profile
from qinglang.policy.presets import resolve

SH = ZoneInfo("Asia/Shanghai")
NATIONAL_DAY = date(2025, 10, 1)  # a Wednesday, a public holiday
MAKEUP_SUNDAY = date(2025, 9, 28)  # a Sunday worked in exchange (调休)


def _rules(**kw: Any) -> timerules.TimeRules:
    return resolve(Profile(timezone="Asia/Shanghai", games=True, **kw)).time


def _games_open(rules: timerules.TimeRules, day: date) -> bool:
    moment = datetime(day.year, day.month, day.day, 20, 30, tzinfo=SH)
    return timerules.category_allowed(rules, "games", moment)


def test_the_package_knows_this_schedule() -> None:
    o = holidays.official()
    assert o.last_year is not None and o.last_year >= 2025
    assert NATIONAL_DAY in o.holidays and MAKEUP_SUNDAY in o.workdays
    assert str(o.last_year) in o.describe and o.version in o.describe


def test_public_holiday_opens_the_games_window_by_default() -> None:
    rules = _rules()
    assert rules.calendar.is_holiday(NATIONAL_DAY)
    assert _games_open(rules, NATIONAL_DAY)
    # The Wednesday before is an ordinary school day: no games.
    assert not _games_open(rules, date(2025, 9, 24))


def test_makeup_workday_is_a_school_day() -> None:
    rules = _rules(curfew={"weekdays": ["21:00-07:00"], "weekends": ["23:00-07:00"]})
    assert not rules.calendar.is_day_off(MAKEUP_SUNDAY)
    late = datetime(2025, 9, 28, 21, 30, tzinfo=SH)
    assert timerules.in_curfew(rules, late)  # the weekday curfew, though it is Sunday
    assert not timerules.in_curfew(rules, datetime(2025, 9, 21, 21, 30, tzinfo=SH))


def test_the_parents_own_dates_win() -> None:
    rules = _rules(workdays=[NATIONAL_DAY], holidays=[MAKEUP_SUNDAY, date(2025, 9, 24)])
    assert not rules.calendar.is_holiday(NATIONAL_DAY)
    assert not _games_open(rules, NATIONAL_DAY)
    assert rules.calendar.is_day_off(MAKEUP_SUNDAY)
    assert _games_open(rules, date(2025, 9, 24))
    # The rest of the package's schedule still applies.
    assert _games_open(rules, date(2025, 10, 2))


def test_public_holidays_off_leaves_only_the_parents_dates() -> None:
    rules = _rules(public_holidays="off")
    assert not _games_open(rules, NATIONAL_DAY)
    assert rules.calendar.is_day_off(MAKEUP_SUNDAY)
    assert resolve(Profile(public_holidays="off")).sources["public_holidays"] == "config"


def test_sources_name_the_package() -> None:
    src = resolve(Profile()).sources["public_holidays"]
    assert src.startswith("chinesecalendar ") and "data to" in src


def test_overview_status_by_date() -> None:
    last = holidays.official().last_year
    assert last is not None
    assert holiday_status(date(last, 6, 1))["state"] == "ok"
    assert holiday_status(date(last, 11, 20))["state"] == "soon"
    assert holiday_status(date(last + 1, 1, 2)) == {
        "state": "ended",
        "version": holidays.official().version,
        "year": last,
    }
