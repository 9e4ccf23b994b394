"""The daily quota of active minutes: what counts, and where it is kept.

What counts (``classify``): a minute is active when the client, in that minute,

- navigated to a page: a top-level document load (``Sec-Fetch-Mode: navigate`` with
  ``Sec-Fetch-Dest: document``; browsers send no Sec-Fetch headers to plain-HTTP
  sites, so without them: a GET/POST whose ``Accept`` puts ``text/html`` or
  ``application/xhtml+xml`` first and that is not marked ``X-Requested-With``), or
- fetched audio or video (``Sec-Fetch-Dest: audio|video``, or a media segment or
  playlist by its path: ``.m3u8 .mpd .ts .m4s .mp4 .flv .webm .m4a .mp3 .aac``,
  YouTube's ``/videoplayback``), so an hour of video is an hour, not one page load.

Nothing else counts: images, scripts, styles, fonts, XHR/fetch API calls and
polling, beacons, WebSockets, frames (ads live in iframes), and prefetches or
prerenders (``Sec-Purpose``/``Purpose: prefetch``). An open tab that polls an API
all night therefore uses no quota.

Where it is kept: a ``QuotaStore`` (``store/quota.py``: SQLite for one proxy,
``store/redisstate.py``: Redis for several workers).

``QuotaTracker`` sits in front of a store for the proxy's event loop: per request it
costs dictionary look-ups; the store is touched once per client per new active
minute (one INSERT and one COUNT, well under a millisecond on local disk).
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from qinglang.policy.timerules import QuotaPeriod, QuotaState, TimeRules, quota_period


class Activity(enum.Enum):
    PAGE = "page"  # a top-level page load
    MEDIA = "media"  # audio or video being fetched
    BACKGROUND = "background"  # anything else: never counted

    @property
    def counts(self) -> bool:
        return self is not Activity.BACKGROUND


_MEDIA_SUFFIXES = (".m3u8", ".mpd", ".ts", ".m4s", ".mp4", ".flv", ".webm", ".m4a", ".mp3", ".aac")
_PAGE_TYPES = ("text/html", "application/xhtml+xml")


def _get(headers: Mapping[str, str], name: str) -> str:
    # mitmproxy's Headers are case-insensitive; plain dicts in tests may not be.
    value = headers.get(name)
    if value is None:
        value = headers.get(name.lower())
    return (value or "").strip()


def _first_accept(accept: str) -> str:
    first = accept.split(",", 1)[0]
    return first.split(";", 1)[0].strip().lower()


def classify(method: str, path: str, headers: Mapping[str, str]) -> Activity:
    """What kind of activity a request is, from its method, path and headers alone."""
    purpose = (_get(headers, "Sec-Purpose") or _get(headers, "Purpose")).lower()
    if "prefetch" in purpose or "prerender" in purpose or _get(headers, "X-Moz") == "prefetch":
        return Activity.BACKGROUND
    dest = _get(headers, "Sec-Fetch-Dest").lower()
    mode = _get(headers, "Sec-Fetch-Mode").lower()
    if dest in ("audio", "video"):
        return Activity.MEDIA
    route = path.split("?", 1)[0].lower()
    if route.endswith(_MEDIA_SUFFIXES) or route.endswith("/videoplayback"):
        return Activity.MEDIA
    if mode or dest:
        if mode == "navigate" and dest in ("document", ""):
            return Activity.PAGE
        return Activity.BACKGROUND
    if method.upper() not in ("GET", "POST"):
        return Activity.BACKGROUND
    if _get(headers, "X-Requested-With"):
        return Activity.BACKGROUND
    if _first_accept(_get(headers, "Accept")) in _PAGE_TYPES:
        return Activity.PAGE
    return Activity.BACKGROUND


def is_page_request(method: str, path: str, headers: Mapping[str, str]) -> bool:
    """Whether a person is looking at the answer as a page (gets HTML, not JSON)."""
    return classify(method, path, headers) is Activity.PAGE


def epoch_minute(moment: datetime) -> int:
    return int(moment.timestamp()) // 60


class StateUnavailable(Exception):
    """The shared quota store (Redis, redisstate.py) cannot be reached just now."""


class QuotaStore(Protocol):
    """Where active minutes are kept: SQLite here, Redis (redisstate.py) for several
    workers. A store whose ``shared`` attribute is true is written by other processes too,
    so the tracker re-reads a client's count once a minute. A store may raise
    ``StateUnavailable``."""

    def record_minute(self, client: str, profile: str, minute: int) -> bool:
        """Count ``minute`` (epoch minutes) for ``client``; False if already counted."""
        ...

    def used_minutes(self, client: str, day: QuotaPeriod) -> int:
        """Minutes counted for ``client`` within ``day``."""
        ...

    def recent_minutes(self, client: str, since: int) -> list[int]:
        """Counted minutes at or after ``since`` (epoch minutes), ascending."""
        ...

    def close(self) -> None: ...


@dataclass(slots=True)
class _Client:
    period_start: int = -1  # epoch minute of the cached period's start
    used: int = 0
    last_counted: int = -1  # epoch minute
    streak_start: int = -1  # first minute of the current run of activity
    reminded_at: int = -1  # minute a rest reminder was last due
    read_minute: int = -1  # epoch minute the count was last read from the store


class QuotaTracker:
    """The quota as the proxy uses it: cheap per request, durable per minute.

    ``state`` answers from memory after the first look-up of a client's period;
    ``note`` writes through to the store on the first counted request of a minute.
    Minutes of one run of use are those with gaps of at most ``streak_gap`` minutes
    (reading a long page is still one run)."""

    def __init__(self, store: QuotaStore, *, streak_gap: int = 5) -> None:
        self.store = store
        self.streak_gap = streak_gap
        self.shared = bool(getattr(store, "shared", False))
        self._clients: dict[str, _Client] = {}

    def _load(self, client: str, rules: TimeRules, now: datetime) -> _Client:
        c = self._clients.get(client)
        period = quota_period(rules, now)
        start = epoch_minute(period.start)
        minute = epoch_minute(now)
        if c is None:
            c = _Client()
            self._load_streak(client, c, minute)  # may raise: nothing is cached then
            self._clients[client] = c
        # A shared store is written by other workers too: their minutes count here from
        # the next minute on (one read per client per minute).
        if c.period_start != start or (self.shared and c.read_minute != minute):
            c.used = self.store.used_minutes(client, period)
            c.period_start, c.read_minute = start, minute
        return c

    def _load_streak(self, client: str, c: _Client, minute: int) -> None:
        recent = self.store.recent_minutes(client, minute - 24 * 60)
        if not recent:
            return
        c.last_counted = recent[-1]
        start = recent[-1]
        for m in reversed(recent[:-1]):
            if start - m > self.streak_gap:
                break
            start = m
        c.streak_start = start

    def state(self, client: str, rules: TimeRules, now: datetime) -> QuotaState:
        c = self._load(client, rules, now)
        return QuotaState(c.used, c.last_counted == epoch_minute(now))

    def note(
        self, client: str, profile: str, rules: TimeRules, now: datetime, activity: Activity
    ) -> QuotaState:
        """Record ``activity`` (only page loads and media count) and return the state."""
        c = self._load(client, rules, now)
        minute = epoch_minute(now)
        if activity.counts and minute != c.last_counted:
            if self.store.record_minute(client, profile, minute):
                # Re-read rather than +1: another proxy process may share the file.
                c.used = self.store.used_minutes(client, quota_period(rules, now))
            if c.last_counted < 0 or minute - c.last_counted > self.streak_gap:
                c.streak_start = minute
            c.last_counted = minute
        return QuotaState(c.used, c.last_counted == minute)

    def streak_minutes(self, client: str, now: datetime) -> int:
        """Length of the current run of use in minutes (0 if the client is idle)."""
        c = self._clients.get(client)
        minute = epoch_minute(now)
        if c is None or c.last_counted < 0 or minute - c.last_counted > self.streak_gap:
            return 0
        return minute - c.streak_start + 1

    def reminder_due(self, client: str, now: datetime, every: int) -> bool:
        """True once each ``every`` minutes of one run of use (then marked as shown)."""
        streak = self.streak_minutes(client, now)
        if every <= 0 or streak < every:
            return False
        c = self._clients[client]
        minute = epoch_minute(now)
        if c.reminded_at >= c.streak_start and minute - c.reminded_at < every:
            return False
        c.reminded_at = minute
        return True

    def remaining(self, client: str, rules: TimeRules, now: datetime, limit: int) -> int:
        return max(0, limit - self.state(client, rules, now).used)

    def forget(self, client: str) -> None:
        """Drop the cached state (after a config reload changes rules)."""
        self._clients.pop(client, None)
