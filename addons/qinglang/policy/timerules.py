"""Time rules: curfews, per-category schedules and the quota day.

Pure functions of an injected moment (``now``, an aware ``datetime``; a naive one is
read as local wall-clock time). Local time is a configured IANA zone or, when none is
configured, the system's zone, looked up per instant so daylight-saving changes hold.

A window (``"22:00-06:00"``) belongs to the day it starts on: Monday's
``21:30-06:30`` runs from Monday 21:30 to Tuesday 06:30. ``24:00`` may end a window;
a window whose end is not after its start wraps past midnight.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from pathlib import Path
from typing import Literal, Protocol
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from qinglang.engine.bilingual import Bilingual
from qinglang.engine.verdict import Reason

DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
# Words a config may use for a set of days, besides the day names.
DAY_GROUPS = ("daily", "weekdays", "weekends", "holidays")
_DAY_ALIASES = {
    **{d: d for d in DAY_NAMES + DAY_GROUPS},
    "monday": "mon",
    "tuesday": "tue",
    "wednesday": "wed",
    "thursday": "thu",
    "friday": "fri",
    "saturday": "sat",
    "sunday": "sun",
    "weekday": "weekdays",
    "weekend": "weekends",
    "holiday": "holidays",
    "everyday": "daily",
    "every day": "daily",
}
_TIME_RE = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*$")
# How far ahead "when does access return" looks before it answers "not in the next week".
_HORIZON_DAYS = 9


def parse_time(text: str, *, end: bool = False) -> int:
    """``"HH:MM"`` (24-hour) -> minutes after midnight. ``24:00`` only where ``end``."""
    m = _TIME_RE.match(text) if isinstance(text, str) else None
    if not m:
        raise Bilingual(
            f"not a time of day 'HH:MM' (24-hour clock): {text!r}",
            f"不是时间 'HH:MM'（24 小时制）：{text!r}",
        )
    h, mi = int(m.group(1)), int(m.group(2))
    if mi > 59 or h > 24 or (h == 24 and (mi or not end)):
        raise Bilingual(
            f"not a time of day 'HH:MM' (00:00 to 23:59): {text!r}",
            f"不是时间 'HH:MM'（00:00 到 23:59）：{text!r}",
        )
    return h * 60 + mi


def format_minute(minute: int) -> str:
    return f"{minute // 60:02d}:{minute % 60:02d}"


@dataclass(frozen=True, slots=True)
class Window:
    """A daily window, minutes after local midnight. ``end <= start`` wraps past midnight."""

    start: int
    end: int

    @property
    def wraps(self) -> bool:
        return self.end <= self.start

    @property
    def length(self) -> int:
        return self.end - self.start if not self.wraps else 1440 - self.start + self.end

    def __str__(self) -> str:
        return f"{format_minute(self.start)}-{format_minute(self.end)}"


def parse_window(text: str) -> Window:
    """``"22:00-06:00"`` -> Window. Raises ValueError with a message for people."""
    if not isinstance(text, str) or text.count("-") != 1:
        raise Bilingual(
            f"not a time window 'HH:MM-HH:MM': {text!r}", f"不是时间段 'HH:MM-HH:MM'：{text!r}"
        )
    a, b = text.split("-")
    try:
        start, end = parse_time(a), parse_time(b, end=True)
    except ValueError:
        raise Bilingual(
            f"not a time window 'HH:MM-HH:MM' (24-hour clock): {text!r}",
            f"不是时间段 'HH:MM-HH:MM'（24 小时制）：{text!r}",
        ) from None
    if start == end:
        raise Bilingual(
            f"empty time window {text!r}; for the whole day write 00:00-24:00",
            f"时间段 {text!r} 是空的；全天请写 00:00-24:00",
        )
    return Window(start, end)


def parse_day(text: str) -> str:
    """A day name or group (``sat``, ``Saturday``, ``weekends``...) -> its canonical key."""
    key = _DAY_ALIASES.get(text.strip().lower()) if isinstance(text, str) else None
    if key is None:
        raise Bilingual(
            f"not a day: {text!r} (use mon..sun, weekdays, weekends, holidays or daily)",
            f"不是星期几：{text!r}（可用 mon..sun、weekdays、weekends、holidays 或 daily）",
        )
    return key


@dataclass(frozen=True, slots=True)
class Calendar:
    """Which days are days off: Saturdays, Sundays and ``holidays``, except ``workdays``
    (the makeup working days of the mainland's holiday schedule, 调休)."""

    holidays: frozenset[date] = frozenset()
    workdays: frozenset[date] = frozenset()

    def is_holiday(self, day: date) -> bool:
        return day in self.holidays

    def is_day_off(self, day: date) -> bool:
        if day in self.holidays:
            return True
        return day.weekday() >= 5 and day not in self.workdays

    def day_matches(self, day: date, key: str) -> bool:
        """Whether ``day`` is one of the days ``key`` (a day name or group) names."""
        if key == "daily":
            return True
        if key == "weekdays":
            return not self.is_day_off(day)
        if key == "weekends":
            return self.is_day_off(day)
        if key == "holidays":
            return day in self.holidays
        return DAY_NAMES[day.weekday()] == key


class WeekPlan(Protocol):
    """Windows that apply on a given day."""

    def windows_on(self, day: date, cal: Calendar) -> tuple[Window, ...]: ...


@dataclass(frozen=True, slots=True)
class KeyedPlan:
    """Windows per kind of day, the most specific key winning: ``holidays`` (on a
    holiday), the day's name, then ``weekdays`` / ``weekends``, then ``daily``. A day
    no key covers has no windows. Used for curfews."""

    by_key: Mapping[str, tuple[Window, ...]]

    def windows_on(self, day: date, cal: Calendar) -> tuple[Window, ...]:
        key = _day_key(self.by_key, day, cal)
        return self.by_key[key] if key else ()


@dataclass(frozen=True, slots=True)
class DaysPlan:
    """The same windows on every day that one of ``days`` names (all days if None);
    no windows means the whole day. Used for category schedules and payment windows."""

    days: frozenset[str] | None
    windows: tuple[Window, ...] = ()

    def windows_on(self, day: date, cal: Calendar) -> tuple[Window, ...]:
        if self.days is not None and not any(cal.day_matches(day, k) for k in self.days):
            return ()
        return self.windows or (Window(0, 1440),)


@dataclass(frozen=True, slots=True)
class DayValues:
    """A number per kind of day (daily minutes), same precedence as KeyedPlan.
    ``None`` for a day means unlimited."""

    by_key: Mapping[str, int | None]

    def value_on(self, day: date, cal: Calendar) -> int | None:
        key = _day_key(self.by_key, day, cal)
        return self.by_key[key] if key else None


def _day_key(keys: Mapping[str, object], day: date, cal: Calendar) -> str | None:
    """The most specific key of ``keys`` that covers ``day``: ``holidays`` (on a
    holiday), the day's name, ``weekdays`` / ``weekends``, then ``daily``."""
    if "holidays" in keys and day in cal.holidays:
        return "holidays"
    for key in (DAY_NAMES[day.weekday()], "weekends" if cal.is_day_off(day) else "weekdays"):
        if key in keys:
            return key
    return "daily" if "daily" in keys else None


class Clock(Protocol):
    def now(self) -> datetime: ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


@dataclass(slots=True)
class FixedClock:
    """A clock tests (and replays) set by hand."""

    current: datetime

    def now(self) -> datetime:
        return self.current

    def set(self, moment: datetime) -> None:
        self.current = moment

    def advance(self, **delta: float) -> datetime:
        self.current = self.current + timedelta(**delta)
        return self.current


class FileClock:
    """The time written in a file (ISO 8601 with an offset, e.g.
    ``2025-06-06T20:30:00+08:00``), for end-to-end tests that move a running proxy's
    clock by rewriting the file. Read on every call (it is for tests; file times are
    too coarse to notice two quick rewrites); while the file holds no valid moment,
    the system clock is used."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)

    def now(self) -> datetime:
        try:
            moment = datetime.fromisoformat(self.path.read_text(encoding="utf-8").strip())
        except (OSError, ValueError):
            return datetime.now(UTC)
        return moment if moment.tzinfo is not None else datetime.now(UTC)


def zone(name: str | None) -> ZoneInfo | None:
    """The IANA zone ``name``; None (system local time) for None. ValueError if unknown."""
    if name is None:
        return None
    try:
        return ZoneInfo(name)
    # OSError: a name too long for a file name (ZoneInfo reads it as one).
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise Bilingual(
            f"unknown time zone {name!r} (an IANA name such as Asia/Shanghai)",
            f"未知的时区 {name!r}（应是 IANA 名称，例如 Asia/Shanghai）",
        ) from None


def to_local(moment: datetime, tz: tzinfo | None) -> datetime:
    """``moment`` as an aware local datetime (naive input is local wall-clock time)."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=tz) if tz is not None else moment.astimezone()
    return moment.astimezone(tz) if tz is not None else moment.astimezone()


def at_local(day: date, minute: int, tz: tzinfo | None) -> datetime:
    """The aware moment of local wall-clock ``minute`` (may be 1440) on ``day``."""
    naive = datetime.combine(day, time()) + timedelta(minutes=minute)
    return naive.replace(tzinfo=tz) if tz is not None else naive.astimezone()


@dataclass(frozen=True, slots=True)
class Span:
    start: datetime
    end: datetime

    def __contains__(self, moment: datetime) -> bool:
        return self.start <= moment < self.end


def occurrences(
    plan: WeekPlan, cal: Calendar, tz: tzinfo | None, first: date, last: date
) -> Iterator[Span]:
    """Every window occurrence starting on a day from ``first`` to ``last``."""
    day = first
    while day <= last:
        for w in plan.windows_on(day, cal):
            end_day = day + timedelta(days=1) if w.wraps else day
            yield Span(at_local(day, w.start, tz), at_local(end_day, w.end, tz))
        day += timedelta(days=1)


def active_span(plan: WeekPlan, cal: Calendar, tz: tzinfo | None, moment: datetime) -> Span | None:
    """The occurrence of ``plan`` that contains ``moment`` (the latest-ending one)."""
    local = to_local(moment, tz)
    found: Span | None = None
    for span in occurrences(plan, cal, tz, local.date() - timedelta(days=1), local.date()):
        if local in span and (found is None or span.end > found.end):
            found = span
    return found


def plan_end(plan: WeekPlan, cal: Calendar, tz: tzinfo | None, moment: datetime) -> datetime | None:
    """When ``moment``'s run of back-to-back windows ends; None if not within
    ``_HORIZON_DAYS`` (a curfew that never ends). ``moment`` itself if not in a window."""
    t = to_local(moment, tz)
    limit = t + timedelta(days=_HORIZON_DAYS)
    while t < limit:
        span = active_span(plan, cal, tz, t)
        if span is None:
            return t
        t = span.end
    return None


def plan_next_start(
    plan: WeekPlan, cal: Calendar, tz: tzinfo | None, moment: datetime
) -> datetime | None:
    """``moment`` if inside a window, else the next window's start (None: none soon)."""
    local = to_local(moment, tz)
    if active_span(plan, cal, tz, local) is not None:
        return local
    last = local.date() + timedelta(days=_HORIZON_DAYS)
    starts = [s.start for s in occurrences(plan, cal, tz, local.date(), last) if s.start > local]
    return min(starts) if starts else None


@dataclass(frozen=True, slots=True)
class QuotaPeriod:
    """One quota day: from one reset to the next. ``day`` is the date it starts on."""

    day: date
    start: datetime
    end: datetime


@dataclass(frozen=True, slots=True)
class QuotaState:
    """What the quota store knows about a client in the current period."""

    used: int = 0  # minutes counted in this period
    counted_now: bool = False  # the current minute is already counted


@dataclass(frozen=True, slots=True)
class TimeRules:
    """A profile's time rules, resolved (see presets.resolve)."""

    tz: tzinfo | None = None
    calendar: Calendar = field(default_factory=Calendar)
    curfew: WeekPlan | None = None
    daily_minutes: DayValues | None = None
    quota_reset: int = 0  # minutes after local midnight
    category_schedules: Mapping[str, WeekPlan] = field(default_factory=dict)
    rest_reminder: int | None = None  # minutes of continuous use before a reminder

    @property
    def active(self) -> bool:
        return bool(self.curfew or self.daily_minutes or self.category_schedules)


def in_curfew(rules: TimeRules, now: datetime) -> bool:
    if rules.curfew is None:
        return False
    return active_span(rules.curfew, rules.calendar, rules.tz, now) is not None


def curfew_ends(rules: TimeRules, now: datetime) -> datetime | None:
    """When the curfew ``now`` is in ends (``now`` if not in one; None: not this week)."""
    if rules.curfew is None:
        return to_local(now, rules.tz)
    return plan_end(rules.curfew, rules.calendar, rules.tz, now)


def quota_period(rules: TimeRules, now: datetime) -> QuotaPeriod:
    local = to_local(now, rules.tz)
    start = at_local(local.date(), rules.quota_reset, rules.tz)
    if start > local:
        start = at_local(local.date() - timedelta(days=1), rules.quota_reset, rules.tz)
    day = to_local(start, rules.tz).date()
    return QuotaPeriod(day, start, at_local(day + timedelta(days=1), rules.quota_reset, rules.tz))


def next_reset(rules: TimeRules, now: datetime) -> datetime:
    return quota_period(rules, now).end


def daily_limit(rules: TimeRules, now: datetime) -> int | None:
    """Minutes allowed in ``now``'s quota period (None: no quota)."""
    if rules.daily_minutes is None:
        return None
    return rules.daily_minutes.value_on(quota_period(rules, now).day, rules.calendar)


def quota_exhausted(rules: TimeRules, now: datetime, state: QuotaState | None) -> bool:
    """Whether a new minute would go over the limit. A minute already counted stays
    usable to its end, so a page opened in the last minute finishes loading."""
    limit = daily_limit(rules, now)
    if limit is None:
        return False
    used = state.used if state else 0
    return used >= limit and not (state and state.counted_now and limit > 0)


def category_allowed(rules: TimeRules, category: str, now: datetime) -> bool:
    plan = rules.category_schedules.get(category)
    if plan is None:
        return True
    return active_span(plan, rules.calendar, rules.tz, now) is not None


def category_opens(rules: TimeRules, category: str, now: datetime) -> datetime | None:
    """``now`` if the category is open, else when it next opens (None: not this week)."""
    plan = rules.category_schedules.get(category)
    if plan is None:
        return to_local(now, rules.tz)
    return plan_next_start(plan, rules.calendar, rules.tz, now)


TimeReason = Literal[Reason.CURFEW, Reason.QUOTA, Reason.SCHEDULE]


@dataclass(frozen=True, slots=True)
class TimeVerdict:
    """Why time is up, and when access returns (None: not within the next week)."""

    reason: TimeReason
    returns_at: datetime | None
    category: str | None = None


def _blocker(
    rules: TimeRules,
    t: datetime,
    categories: Iterable[str],
    state: QuotaState | None,
    period: QuotaPeriod,
) -> tuple[TimeReason, str | None] | None:
    if in_curfew(rules, t):
        return Reason.CURFEW, None
    in_period = t in Span(period.start, period.end)
    if quota_exhausted(rules, t, state if in_period else None):
        return Reason.QUOTA, None
    for c in sorted(categories):
        if not category_allowed(rules, c, t):
            return Reason.SCHEDULE, c
    return None


def check_time(
    rules: TimeRules,
    now: datetime,
    *,
    categories: Iterable[str] = (),
    quota: QuotaState | None = None,
) -> TimeVerdict | None:
    """None when the time rules let a request through now; else why not and until when.

    ``categories`` are the request's domain categories (for category schedules),
    ``quota`` the client's usage in the current period. Checked in this order:
    curfew, daily quota, category schedule."""
    cats = tuple(categories)
    period = quota_period(rules, now)
    first = _blocker(rules, now, cats, quota, period)
    if first is None:
        return None
    return TimeVerdict(first[0], access_returns(rules, now, cats, quota), first[1])


def access_returns(
    rules: TimeRules,
    now: datetime,
    categories: Iterable[str] = (),
    quota: QuotaState | None = None,
) -> datetime | None:
    """The first moment from ``now`` at which no time rule blocks (None: not this week).

    Walks forward blocker by blocker: the end of a curfew, the next quota reset (usage
    starts again from zero), the next opening of a category's schedule."""
    cats = tuple(categories)
    period = quota_period(rules, now)
    t = to_local(now, rules.tz)
    limit = t + timedelta(days=_HORIZON_DAYS)
    first = t
    while t < limit:
        # The current minute's "already counted" only holds for the current minute.
        q = quota if t == first or quota is None else QuotaState(quota.used, False)
        blocker = _blocker(rules, t, cats, q, period)
        if blocker is None:
            return t
        reason, cat = blocker
        if reason == Reason.CURFEW:
            nxt = curfew_ends(rules, t)
        elif reason == Reason.QUOTA:
            nxt = next_reset(rules, t)
        else:
            nxt = category_opens(rules, cat or "", t)
        if nxt is None or nxt <= t:
            return None
        t = to_local(nxt, rules.tz)
    return None
