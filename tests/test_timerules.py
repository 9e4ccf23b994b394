"""Time rules with a controlled clock: curfews that wrap midnight, weekday/weekend
forms, holidays, category schedules, the quota day, and when access returns."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from qinglang.policy import timerules as tr
from qinglang.policy.config import Profile
from qinglang.policy.presets import resolve
from qinglang.policy.timerules import QuotaState

SH = ZoneInfo("Asia/Shanghai")


def at(y: int, mo: int, d: int, h: int = 0, mi: int = 0, tz: ZoneInfo = SH) -> datetime:
    return datetime(y, mo, d, h, mi, tzinfo=tz)


def rules(**profile: object) -> tr.TimeRules:
    return resolve(Profile.model_validate({"timezone": "Asia/Shanghai", **profile})).time


# 2025-06-02 is a Monday; 2025-06-06 a Friday; 2025-06-07/08 the weekend.
MON, TUE, FRI, SAT, SUN = (2025, 6, 2), (2025, 6, 3), (2025, 6, 6), (2025, 6, 7), (2025, 6, 8)
NEXT_MON = (2025, 6, 9)


def test_windows_parse_and_reject_with_reasons() -> None:
    assert tr.parse_window("22:00-06:00") == tr.Window(1320, 360)
    assert tr.parse_window("22:00-06:00").wraps
    assert not tr.parse_window("00:00-24:00").wraps
    assert str(tr.parse_window("9:05-20:00")) == "09:05-20:00"
    for bad, words in [
        ("25:00-06:00", "HH:MM-HH:MM"),
        ("22:00", "HH:MM-HH:MM"),
        ("22:00-06:60", "HH:MM-HH:MM"),
        ("06:00-06:00", "empty"),
        ("24:00-06:00", "HH:MM-HH:MM"),
    ]:
        with pytest.raises(ValueError, match=words):
            tr.parse_window(bad)


def test_curfew_wraps_midnight_and_belongs_to_its_start_day() -> None:
    r = rules(curfew=["21:30-06:30"])
    assert not tr.in_curfew(r, at(*MON, 21, 29))
    assert tr.in_curfew(r, at(*MON, 21, 30))
    assert tr.in_curfew(r, at(*TUE, 3, 0))
    assert tr.in_curfew(r, at(*TUE, 6, 29))
    assert not tr.in_curfew(r, at(*TUE, 6, 30))
    assert tr.curfew_ends(r, at(*MON, 23, 0)) == at(*TUE, 6, 30)


def test_weekday_and_weekend_curfews() -> None:
    r = rules(curfew={"weekdays": ["21:30-06:30"], "weekends": ["22:30-07:00"]})
    assert tr.in_curfew(r, at(*FRI, 22, 0))  # Friday is a weekday
    assert not tr.in_curfew(r, at(*SAT, 22, 0))  # Saturday's curfew starts 22:30
    assert tr.in_curfew(r, at(*SAT, 22, 30))
    assert tr.in_curfew(r, at(*SUN, 6, 45))  # Saturday night's window runs to 07:00
    # Sunday night is a weekend night unless the parent says otherwise ...
    assert not tr.in_curfew(r, at(*SUN, 22, 0))
    assert tr.in_curfew(r, at(*NEXT_MON, 6, 45))
    # ... and a day name beats the group: school nights start on Sunday.
    r = rules(
        curfew={"weekdays": ["21:30-06:30"], "weekends": ["22:30-07:00"], "sun": ["21:30-06:30"]}
    )
    assert tr.in_curfew(r, at(*SUN, 22, 0))
    assert not tr.in_curfew(r, at(*NEXT_MON, 6, 45))


def test_holidays_are_days_off_and_makeup_workdays_are_not() -> None:
    spec = {"weekdays": ["21:30-06:30"], "weekends": ["22:30-07:00"]}
    r = rules(curfew=spec, holidays=["2025-10-01..2025-10-03"], workdays=["2025-09-28"])
    assert not tr.in_curfew(r, at(2025, 10, 1, 22, 0))  # a Wednesday, but a holiday
    assert tr.in_curfew(r, at(2025, 9, 28, 22, 0))  # a Sunday, but a working day
    r = rules(curfew={**spec, "holidays": ["23:00-08:00"]}, holidays=["2025-10-01"])
    assert not tr.in_curfew(r, at(2025, 10, 1, 22, 45))
    assert tr.in_curfew(r, at(2025, 10, 2, 7, 30))


def test_back_to_back_windows_end_together_and_a_full_day_never_ends() -> None:
    r = rules(curfew=["22:00-24:00", "00:00-06:00"])
    assert tr.curfew_ends(r, at(*MON, 23, 0)) == at(*TUE, 6, 0)
    r = rules(curfew=["00:00-24:00"])
    assert tr.in_curfew(r, at(*MON, 12, 0))
    assert tr.curfew_ends(r, at(*MON, 12, 0)) is None
    assert tr.access_returns(r, at(*MON, 12, 0)) is None


def test_games_preset_opens_friday_to_sunday_and_holidays_from_20_to_21() -> None:
    r = rules(games=True, holidays=["2025-10-01"])
    thu = at(2025, 6, 5, 20, 30)
    assert not tr.category_allowed(r, "games", thu)
    assert tr.category_opens(r, "games", thu) == at(*FRI, 20, 0)
    assert tr.category_allowed(r, "games", at(*FRI, 20, 0))
    assert tr.category_allowed(r, "games", at(*SUN, 20, 59))
    assert not tr.category_allowed(r, "games", at(*FRI, 21, 0))
    assert tr.category_opens(r, "games", at(*FRI, 21, 0)) == at(*SAT, 20, 0)
    assert tr.category_opens(r, "games", at(*SUN, 21, 0)) == at(2025, 6, 13, 20, 0)
    assert tr.category_allowed(r, "games", at(2025, 10, 1, 20, 30))  # a holiday Wednesday
    assert tr.category_allowed(r, "video", thu)  # no schedule: always open


def test_category_schedule_with_days_and_windows() -> None:
    r = rules(category_schedules={"games": {"days": ["sat", "sun"], "windows": ["09:00-20:00"]}})
    assert not tr.category_allowed(r, "games", at(*FRI, 10, 0))
    assert tr.category_allowed(r, "games", at(*SAT, 9, 0))
    assert not tr.category_allowed(r, "games", at(*SAT, 20, 0))
    verdict = tr.check_time(r, at(*SAT, 20, 0), categories=["games"])
    assert verdict == tr.TimeVerdict("schedule", at(*SUN, 9, 0), "games")
    # Days without windows: the whole day.
    r = rules(category_schedules={"video": {"days": ["weekends"]}})
    assert tr.category_allowed(r, "video", at(*SAT, 0, 0))
    assert tr.category_opens(r, "video", at(*FRI, 12, 0)) == at(*SAT, 0, 0)


def test_quota_day_follows_the_configured_reset_time() -> None:
    r = rules(daily_minutes=60, quota_reset="04:00")
    p = tr.quota_period(r, at(*TUE, 2, 0))
    assert p.day == date(*MON)
    assert (p.start, p.end) == (at(*MON, 4, 0), at(*TUE, 4, 0))
    assert tr.next_reset(r, at(*TUE, 2, 0)) == at(*TUE, 4, 0)
    assert tr.next_reset(r, at(*TUE, 4, 0)) == at(2025, 6, 4, 4, 0)
    # Midnight by default.
    assert tr.next_reset(rules(daily_minutes=60), at(*MON, 23, 59)) == at(*TUE, 0, 0)


def test_daily_minutes_per_kind_of_day() -> None:
    r = rules(daily_minutes={"weekdays": 30, "weekends": 90, "holidays": "unlimited"})
    assert tr.daily_limit(r, at(*FRI, 12)) == 30
    assert tr.daily_limit(r, at(*SAT, 12)) == 90
    r2 = rules(daily_minutes={"weekdays": 30, "holidays": "unlimited"}, holidays=["2025-06-06"])
    assert tr.daily_limit(r2, at(*FRI, 12)) is None


def test_quota_exhausted_only_for_a_new_minute() -> None:
    r = rules(daily_minutes=2)
    now = at(*MON, 12, 0)
    assert not tr.quota_exhausted(r, now, QuotaState(1, False))
    assert tr.quota_exhausted(r, now, QuotaState(2, False))
    # The minute that used the last of the quota stays usable to its end.
    assert not tr.quota_exhausted(r, now, QuotaState(2, True))
    assert tr.quota_exhausted(rules(daily_minutes=0), now, QuotaState(0, False))


def test_when_access_returns_walks_past_every_blocker() -> None:
    spent = QuotaState(60, False)
    # Quota used up at 21:00; midnight resets it, but the curfew runs to 06:00.
    r = rules(daily_minutes=60, curfew=["22:00-06:00"])
    v = tr.check_time(r, at(*MON, 21, 0), quota=spent)
    assert v == tr.TimeVerdict("quota", at(*TUE, 6, 0))
    # With a 07:00 reset the quota is still spent when the curfew ends.
    r = rules(daily_minutes=60, curfew=["22:00-06:00"], quota_reset="07:00")
    assert tr.check_time(r, at(*MON, 23, 0), quota=spent) == tr.TimeVerdict(
        "curfew", at(*TUE, 7, 0)
    )
    # Curfew first, then the games window.
    r = rules(curfew=["22:00-06:00"], games=True)
    v = tr.check_time(r, at(*FRI, 23, 0), categories=["games"])
    assert v == tr.TimeVerdict("curfew", at(*SAT, 20, 0))
    # Zero minutes on weekdays: back on Saturday at the reset.
    r = rules(daily_minutes={"weekdays": 0, "weekends": 60})
    v = tr.check_time(r, at(*FRI, 10, 0))
    assert v == tr.TimeVerdict("quota", at(*SAT, 0, 0))
    assert tr.check_time(r, at(*SAT, 10, 0)) is None


def test_aware_moments_in_any_zone_and_naive_ones_as_local_time() -> None:
    r = rules(curfew=["22:00-06:00"])
    assert tr.in_curfew(r, datetime(2025, 6, 2, 14, 30, tzinfo=UTC))  # 22:30 in Shanghai
    assert tr.in_curfew(r, datetime(2025, 6, 2, 22, 30))  # naive: Shanghai wall clock
    assert not tr.in_curfew(r, datetime(2025, 6, 2, 13, 30, tzinfo=UTC))


def test_daylight_saving_change_inside_a_curfew() -> None:
    ny = ZoneInfo("America/New_York")  # clocks go forward on 2025-03-09 at 02:00
    r = resolve(Profile(timezone="America/New_York", curfew=["22:00-06:00"])).time
    ends = tr.curfew_ends(r, datetime(2025, 3, 8, 23, 0, tzinfo=ny))
    assert ends == datetime(2025, 3, 9, 6, 0, tzinfo=ny)
    assert ends.astimezone(UTC) == datetime(2025, 3, 9, 10, 0, tzinfo=UTC)  # EDT, UTC-4


@pytest.fixture
def system_zone(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("TZ", "Asia/Shanghai")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


@pytest.mark.usefixtures("system_zone")
def test_without_a_timezone_the_system_zone_is_used() -> None:
    r = resolve(Profile(curfew=["22:00-06:00"])).time
    assert r.tz is None
    assert tr.in_curfew(r, datetime(2025, 6, 2, 14, 30, tzinfo=UTC))
    ends = tr.curfew_ends(r, datetime(2025, 6, 2, 14, 30, tzinfo=UTC))
    assert ends is not None and ends.astimezone(UTC) == datetime(2025, 6, 2, 22, 0, tzinfo=UTC)


def test_fixed_clock_moves_only_when_told() -> None:
    clock = tr.FixedClock(at(*MON, 21, 59))
    r = rules(curfew=["22:00-06:00"])
    assert not tr.in_curfew(r, clock.now())
    clock.advance(minutes=1)
    assert tr.in_curfew(r, clock.now())
    clock.set(at(*TUE, 6, 0))
    assert not tr.in_curfew(r, clock.now())
    assert isinstance(tr.SystemClock().now(), datetime)
    assert tr.SystemClock().now().utcoffset() == timedelta(0)


def test_file_clock_reads_the_moment_a_test_writes(tmp_path: Path) -> None:
    f = tmp_path / "now"
    clock = tr.FileClock(f)
    assert clock.now().utcoffset() == timedelta(0)  # no file yet: the system clock
    f.write_text("2025-06-02T22:00:00+08:00\n", encoding="utf-8")
    assert clock.now() == at(*MON, 22, 0)
    f.write_text("2025-06-06T20:30:00+08:00", encoding="utf-8")
    assert clock.now() == at(*FRI, 20, 30)
    f.write_text("not a time", encoding="utf-8")
    assert clock.now().tzinfo is UTC


def test_unknown_zone_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="unknown time zone 'Mars/Olympus'"):
        tr.zone("Mars/Olympus")
