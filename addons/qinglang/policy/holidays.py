"""China's public holidays and make-up workdays (调休), from the ``chinesecalendar``
package, merged with a profile's own ``holidays`` and ``workdays``.

The State Council publishes each year's schedule in the autumn before; the package
carries it, so it needs a release a year. ``official()`` says up to which year its data
goes, and the dashboard shows it, so a parent sees when it runs out. The parent's own
dates win over the package's: a date the parent lists as a workday is a workday even if
the package calls it a holiday, and the other way round.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from functools import cache

from qinglang.policy.timerules import Calendar

SOURCE_CN = "cn"
SOURCE_OFF = "off"


@dataclass(frozen=True, slots=True)
class Official:
    """The package's days off and make-up workdays, and the last year it covers."""

    holidays: frozenset[date] = frozenset()
    workdays: frozenset[date] = frozenset()
    last_year: int | None = None  # None: the package is not installed
    version: str = ""

    @property
    def describe(self) -> str:
        if self.last_year is None:
            return "chinesecalendar not installed"
        return f"chinesecalendar {self.version} (data to {self.last_year})"

    def covers(self, day: date) -> bool:
        return self.last_year is not None and day.year <= self.last_year


@cache
def official() -> Official:
    """The installed package's schedule, read once (a few hundred dates)."""
    try:
        # A maintained package for a table that changes every year, rather than our own copy.
        from chinese_calendar import constants
    except ImportError:
        return Official()
    from importlib.metadata import PackageNotFoundError, version

    try:
        ver = version("chinesecalendar")
    except PackageNotFoundError:
        ver = "?"
    holidays = frozenset(constants.holidays)
    workdays = frozenset(constants.workdays)
    last = max(d.year for d in holidays | workdays) if holidays or workdays else None
    return Official(holidays, workdays, last, ver)


def calendar(
    own_holidays: frozenset[date], own_workdays: frozenset[date], source: str = SOURCE_CN
) -> Calendar:
    """The calendar a profile uses: the package's schedule (unless ``source`` is
    ``off``) with the parent's own dates winning where they disagree."""
    if source == SOURCE_OFF:
        return Calendar(own_holidays, own_workdays)
    o = official()
    holidays = (o.holidays - own_workdays) | own_holidays
    workdays = (o.workdays - own_holidays) | own_workdays
    return Calendar(frozenset(holidays), frozenset(workdays))
