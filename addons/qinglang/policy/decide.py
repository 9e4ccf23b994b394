"""May this request go upstream: every request check, in the order they apply.

1. A parent's grant (the dashboard's overrides) for this page or site: it passes with no
   other rule and no scan. The host the proxy dials must be granted too, so a forged Host
   header cannot borrow a granted site.
2. The client's minutes today, when the profile counts them. A store that cannot be used
   (Redis unreachable, the SQLite file's disk failing) applies the profile's
   ``on_error``: ``block`` (the default) refuses the request, ``pass`` lets it on
   uncounted.
3. Extra minutes a parent granted are taken off what was used.
4. The request rules (``urlrules.RequestRules.check``: bypass resistance, lists, payments,
   categories, time rules), for the Host header's name and, when the proxy dials another
   name, for that one too: the stricter verdict holds.
5. A curfew or category schedule that a parent lifted for a while (the daily quota still
   holds).

``decide`` reads the stores only through the protocols below (``store/`` implements them)
and returns plain data; ``proxy/`` acts on it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Protocol

from qinglang.engine.verdict import ALLOW, Action, Decision, Reason
from qinglang.policy import timerules
from qinglang.policy.hosts import canonical, parse_ip
from qinglang.policy.quota import QuotaTracker, StateUnavailable
from qinglang.policy.timerules import QuotaState
from qinglang.policy.urlrules import RequestInfo, RequestRules


class Grant(Protocol):
    @property
    def id(self) -> int: ...


class Overrides(Protocol):
    """What the proxy asks of a parent's answers: the dashboard's SQLite file
    (``store.overrides.OverrideStore``) or, for several workers, Redis
    (``store.redisstate.RedisOverrides``)."""

    def lookup(
        self, client: str, host: str, url: str, now: float, user: str | None = None
    ) -> Grant | None: ...

    def extra_minutes(self, client: str, now: float, user: str | None = None) -> int: ...

    def time_lifted(self, client: str, now: float, user: str | None = None) -> bool: ...

    def close(self) -> None: ...


@dataclass(frozen=True, slots=True)
class Who:
    """Who is asking, as the rules know them."""

    profile: str
    client: str  # the device: its address, or ``wg:NAME`` on its own WireGuard listener
    user: str | None = None  # the proxy log-in, when there is one

    @property
    def key(self) -> str:
        """Whose minutes: the proxy log-in, which follows a child across devices, else the
        device (the ``client`` column of the quota database)."""
        return self.user or self.client


@dataclass(frozen=True, slots=True)
class Asked:
    """The answer to one request."""

    decision: Decision
    quota: QuotaState | None = None  # the client's minutes, when the profile counts them
    counts: bool = False  # the request may count a minute (the store is up, time is kept)
    grant: int | None = None  # the id of a parent's grant that let it through
    problem: str | None = None  # why it was refused when no rule did (for the event log)


def decide(
    rules: RequestRules,
    info: RequestInfo,
    who: Who,
    now: datetime,
    *,
    dialed: str | None = None,
    also: Sequence[str] = (),
    tracker: QuotaTracker | None = None,
    overrides: Overrides | None = None,
    on_error: str = "block",
) -> Asked:
    """The verdict on a request (see the module's docstring for the order). ``dialed``: the
    host the proxy connects to, when it is a name other than ``info.host``
    (``other_name``); ``also``: other names the request goes to (``destination.where_to``:
    the request line's authority, the TLS server name), each judged like ``dialed``;
    ``tracker``: the quota, None when the profile counts no time (``counts_time``)."""
    ts = now.timestamp()
    others = [n for n in ([dialed] if dialed else []) + list(also) if n != info.host]
    if overrides is not None:
        grant = overrides.lookup(who.client, info.host, info.path, ts, who.user)
        if grant is not None and all(
            overrides.lookup(who.client, n, info.path, ts, who.user) for n in others
        ):
            return Asked(ALLOW, grant=grant.id)
    counts = tracker is not None
    try:
        quota = quota_state(tracker, who.key, rules, now) if counts else None
    except StateUnavailable:
        if on_error == "block":
            return Asked(
                Decision(Action.BLOCK, Reason.ERROR),
                problem="the quota store cannot be used (unreachable, or its disk failed)",
            )
        quota, counts = None, False  # on_error: pass, uncounted while it is down
    if overrides is not None:
        quota = with_extra(overrides, quota, who, ts)
    d = rules.check(info, now, quota)
    for name in dict.fromkeys(others):
        # The rules read the Host header, which the client writes; the proxy dials the
        # CONNECT (or absolute-URL) host, and a server may pick its site by the TLS name
        # or an absolute-form target. A Host header naming an allowed site must not open
        # a blocked one.
        d = stricter(d, rules.check(replace(info, host=name), now, quota))
    if overrides is not None:
        d = lift(d, rules, now, quota, overrides, who)
    return Asked(d, quota, counts)


def counts_time(rules: RequestRules) -> bool:
    """Whether requests of this profile are counted: it has a daily limit or a reminder."""
    t = rules.rules.time
    return t.daily_minutes is not None or bool(t.rest_reminder)


def quota_state(
    tracker: QuotaTracker | None, key: str, rules: RequestRules, now: datetime
) -> QuotaState | None:
    """The client's usage when the profile has a daily limit (None: nothing to look up).
    Raises ``StateUnavailable`` when a shared store cannot be reached."""
    if tracker is None or rules.rules.time.daily_minutes is None:
        return None
    return tracker.state(key, rules.rules.time, now)


def with_extra(
    overrides: Overrides, quota: QuotaState | None, who: Who, ts: float
) -> QuotaState | None:
    """The quota state with granted minutes taken off what was used (limit + extra)."""
    if quota is None:
        return None
    extra = overrides.extra_minutes(who.client, ts, who.user)
    return replace(quota, used=max(0, quota.used - extra)) if extra else quota


def lift(
    d: Decision,
    rules: RequestRules,
    now: datetime,
    quota: QuotaState | None,
    overrides: Overrides,
    who: Who,
) -> Decision:
    """A curfew or schedule verdict, lifted while granted minutes last; the daily quota
    (with the granted minutes added) still holds."""
    if d.action != Action.TIMEUP or d.reason not in (Reason.CURFEW, Reason.SCHEDULE):
        return d
    if not overrides.time_lifted(who.client, now.timestamp(), who.user):
        return d
    t = rules.rules.time
    if timerules.quota_exhausted(t, now, quota):
        return Decision(Action.TIMEUP, Reason.QUOTA, returns_at=timerules.next_reset(t, now))
    return ALLOW


def other_name(dialed: str, shown: str, *, written: bool = False) -> str | None:
    """``dialed`` (the host the proxy connects to) when it is a name other than ``shown``
    (the Host header or TLS server name); None when they agree or it is an address (in
    transparent mode the dialled host is the server's IP and only the name says more).
    ``written``: the client wrote the dialled host itself (an absolute URL to the proxy),
    so an address there counts too: ``GET http://134744072/`` with ``Host: example.com``
    is a request to 8.8.8.8."""
    if not dialed or (not written and parse_ip(dialed) is not None):
        return None
    a = canonical(dialed)
    return a if a is not None and a != canonical(shown) else None


def stricter(a: Decision, b: Decision) -> Decision:
    """Of two verdicts on one request, the one that refuses; else the one that counts
    (always-allowed only when both are)."""
    if not a.allowed:
        return a
    if not b.allowed:
        return b
    return b if a.reason == Reason.ALWAYS_ALLOWED else a
