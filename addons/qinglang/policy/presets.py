"""Youth mode: a profile's time, URL, search, payment and bypass settings, the age and
games presets, and ``resolve(profile) -> EffectiveRules`` that merges them.

Presets are defaults; anything the profile says explicitly wins. Sources:

- ``age``: 移动互联网未成年人模式建设指南 (Guidelines for the construction of
  minor mode on the mobile internet, Cyberspace Administration of China, final
  version, November 2024): under 16 at most 1 hour a day, 16 to 18 at most 2 hours,
  no service 22:00 to 06:00, a rest reminder after 30 minutes of continuous use.
  ``age_guideline: 2023-draft`` uses the August 2023 draft instead, which gave
  children under 8 at most 40 minutes a day (8 to 16: 1 hour; 16 to 18: 2 hours).
- ``games``: 关于进一步严格管理 切实防止未成年人沉迷网络游戏的通知 (National
  Press and Publication Administration, August 2021): online games for minors only
  on Fridays, Saturdays, Sundays and public holidays, 20:00 to 21:00.
- ``payments`` for under 8: 关于防止未成年人沉迷网络游戏的通知 (NPPA, October
  2019): no paid game services for users under 8. (Its amount limits for older
  children cannot be enforced by a proxy; see docs/youth-mode.md.)

The schema classes are the ``Profile`` fields that config.py takes in through
``YouthSettings``; validation errors read like the rest of the config's.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    StrictStr,
    field_validator,
    model_validator,
)

from qinglang.engine.bilingual import Bilingual
from qinglang.policy import holidays, timerules
from qinglang.policy.safesearch import ENGINES
from qinglang.policy.timerules import DaysPlan, DayValues, KeyedPlan, TimeRules, Window
from qinglang.policy.urlrules import DomainSet, UrlPattern, compile_url_pattern, normalize_domain

# -- small validated types --------------------------------------------------------------


def _time(v: str) -> str:
    timerules.parse_time(v)
    return v.strip()


def _window(v: str) -> str:
    return str(timerules.parse_window(v))


def _day(v: str) -> str:
    return timerules.parse_day(v)


def _domain(v: str) -> str:
    return normalize_domain(v)


def _url(v: str) -> str:
    compile_url_pattern(v)
    return v.strip()


def _engine(v: str) -> str:
    name = v.strip().lower()
    if name not in ENGINES:
        known = ", ".join(sorted(ENGINES))
        raise Bilingual(
            f"unknown search engine {v!r} (known: {known})",
            f"未知的搜索引擎 {v!r}（可用：{'、'.join(sorted(ENGINES))}）",
        )
    return name


def _cidr(v: str) -> str:
    try:
        return str(ipaddress.ip_network(v, strict=False))
    except ValueError:
        raise Bilingual(
            f"not an IP address or CIDR: {v!r}", f"不是 IP 地址或网段（CIDR）：{v!r}"
        ) from None


_RANGE_RE = re.compile(r"^\s*(\d{4}-\d{2}-\d{2})\s*\.\.\s*(\d{4}-\d{2}-\d{2})\s*$")


def _dates(v: Any) -> Any:
    """Dates as YAML gives them, plus ``"2025-10-01..2025-10-08"`` ranges."""
    if not isinstance(v, list):
        return v
    out: list[Any] = []
    for item in v:
        m = _RANGE_RE.match(item) if isinstance(item, str) else None
        if not m:
            out.append(item)
            continue
        try:
            a, b = date.fromisoformat(m.group(1)), date.fromisoformat(m.group(2))
        except ValueError:
            raise Bilingual(
                f"not a date range 'YYYY-MM-DD..YYYY-MM-DD': {item!r}",
                f"不是日期范围 'YYYY-MM-DD..YYYY-MM-DD'：{item!r}",
            ) from None
        if b < a or (b - a).days > 366:
            raise Bilingual(
                f"date range {item!r} runs backwards or is longer than a year",
                f"日期范围 {item!r} 前后颠倒或超过一年",
            )
        out.extend(a + timedelta(days=i) for i in range((b - a).days + 1))
    return out


def _sexagesimal(v: Any) -> Any:
    """YAML 1.1 (PyYAML) reads an unquoted ``4:30`` as the number 270 (base 60): turned
    back into the time it was written as. A whole number is never a valid time here."""
    if isinstance(v, int) and not isinstance(v, bool) and 0 <= v < 1440:
        return f"{v // 60:02d}:{v % 60:02d}"
    return v


TimeText = Annotated[StrictStr, BeforeValidator(_sexagesimal), AfterValidator(_time)]
WindowText = Annotated[StrictStr, AfterValidator(_window)]
DayText = Annotated[StrictStr, AfterValidator(_day)]
DomainText = Annotated[StrictStr, AfterValidator(_domain)]
UrlPatternText = Annotated[StrictStr, AfterValidator(_url)]
EngineName = Annotated[StrictStr, AfterValidator(_engine)]
CidrText = Annotated[StrictStr, AfterValidator(_cidr)]
Minutes = Annotated[StrictInt, Field(ge=0, le=1440)]


def _minutes_or_unlimited(v: Any) -> Any:
    if v == "unlimited" or (isinstance(v, int) and not isinstance(v, bool) and 0 <= v <= 1440):
        return v
    raise Bilingual(
        f"not a number of minutes (0 to 1440) or `unlimited`: {v!r}",
        f"应为分钟数（0 到 1440）或 `unlimited`：{v!r}",
    )


DayMinutes = Annotated[StrictInt | StrictStr, BeforeValidator(_minutes_or_unlimited)]
CategoryKey = Annotated[StrictStr, Field(pattern=r"^[a-z0-9_-]+$")]
Dates = Annotated[list[date], BeforeValidator(_dates)]

DAY_KEYS = (*timerules.DAY_GROUPS, *timerules.DAY_NAMES)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class WindowsByDay(_Strict):
    """``curfew``: a list of windows for every day, or windows per kind of day."""

    daily: list[WindowText] | None = None
    weekdays: list[WindowText] | None = None
    weekends: list[WindowText] | None = None
    holidays: list[WindowText] | None = None
    mon: list[WindowText] | None = None
    tue: list[WindowText] | None = None
    wed: list[WindowText] | None = None
    thu: list[WindowText] | None = None
    fri: list[WindowText] | None = None
    sat: list[WindowText] | None = None
    sun: list[WindowText] | None = None

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, v: Any) -> Any:
        if isinstance(v, str):
            return {"daily": [v]}
        if isinstance(v, list):
            return {"daily": v}
        if isinstance(v, dict):
            return {(_day_key(k) if isinstance(k, str) else k): w for k, w in v.items()}
        return v

    def plan(self) -> KeyedPlan:
        by_key = {
            k: tuple(timerules.parse_window(w) for w in ws)
            for k in DAY_KEYS
            if (ws := getattr(self, k)) is not None
        }
        return KeyedPlan(by_key)


class MinutesByDay(_Strict):
    """``daily_minutes``: one number, or a number per kind of day; ``unlimited``."""

    daily: DayMinutes | None = None
    weekdays: DayMinutes | None = None
    weekends: DayMinutes | None = None
    holidays: DayMinutes | None = None
    mon: DayMinutes | None = None
    tue: DayMinutes | None = None
    wed: DayMinutes | None = None
    thu: DayMinutes | None = None
    fri: DayMinutes | None = None
    sat: DayMinutes | None = None
    sun: DayMinutes | None = None

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, v: Any) -> Any:
        if isinstance(v, int | str) and not isinstance(v, bool):
            return {"daily": v}
        if isinstance(v, dict):
            return {(_day_key(k) if isinstance(k, str) else k): n for k, n in v.items()}
        return v

    def values(self) -> DayValues:
        by_key: dict[str, int | None] = {}
        for k in DAY_KEYS:
            n = getattr(self, k)
            if n is not None:
                by_key[k] = None if n == "unlimited" else n
        return DayValues(by_key)


def _day_key(k: str) -> str:
    try:
        return timerules.parse_day(k)
    except ValueError:
        return k  # left for extra="forbid" to report as an unknown key


class Schedule(_Strict):
    """``category_schedules.<category>`` and payment windows: the days (default: every
    day) and the windows on them (default: the whole day) when it is open."""

    days: list[DayText] | None = None
    windows: list[WindowText] | None = None
    # Sites that belong to this category for this profile, besides the domain lists.
    domains: list[DomainText] = Field(default_factory=list)

    @model_validator(mode="after")
    def _something(self) -> Schedule:
        if self.days is None and self.windows is None:
            raise Bilingual(
                "a schedule needs `days`, `windows` or both",
                "时间安排需要 `days`、`windows` 或两者",
            )
        return self

    def plan(self) -> DaysPlan:
        days = frozenset(self.days) if self.days is not None else None
        windows = tuple(timerules.parse_window(w) for w in self.windows or ())
        return DaysPlan(days, windows)


class Payments(_Strict):
    """``payments: block | allow`` or a window: ``{days: [...], windows: [...]}``."""

    mode: Literal["block", "allow", "window"]
    days: list[DayText] | None = None
    windows: list[WindowText] | None = None

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, v: Any) -> Any:
        if isinstance(v, str):
            if v not in ("block", "allow"):
                raise Bilingual(
                    f"payments is `block`, `allow` or a window {{days: [...], windows: [...]}}, "
                    f"not {v!r}",
                    f"payments 应为 `block`、`allow` 或时间段 {{days: [...], windows: [...]}}，"
                    f"而不是 {v!r}",
                )
            return {"mode": v}
        if isinstance(v, dict) and "mode" not in v:
            return {"mode": "window", **v}
        return v

    @model_validator(mode="after")
    def _window_given(self) -> Payments:
        if self.mode == "window" and not self.windows:
            raise Bilingual(
                "payments in a window need `windows` (and optionally `days`)",
                "按时间段允许支付需要 `windows`（`days` 可选）",
            )
        if self.mode != "window" and (self.days or self.windows):
            raise Bilingual(
                f"payments: {self.mode} takes no `days` or `windows`",
                f"payments: {self.mode} 不能带 `days` 或 `windows`",
            )
        return self


class Bypass(_Strict):
    """Bypass resistance; each defaults to on for filtering profiles, off otherwise."""

    block_doh: StrictBool | None = None
    block_proxies_vpn: StrictBool | None = None
    block_bare_ip: StrictBool | None = None
    allow_ips: list[CidrText] = Field(default_factory=list)


class YouthSettings(BaseModel):
    """The youth-mode fields of a profile (config.py's ``Profile`` inherits them)."""

    age: Annotated[StrictInt, Field(ge=0, le=150)] | None = None
    age_guideline: Literal["2024", "2023-draft"] = "2024"
    games: StrictBool | None = None
    timezone: StrictStr | None = None
    holidays: Dates = Field(default_factory=list)
    workdays: Dates = Field(default_factory=list)
    # China's holiday schedule from the chinesecalendar package (policy/holidays.py).
    public_holidays: Literal["cn", "off"] = "cn"
    curfew: WindowsByDay | None = None
    daily_minutes: MinutesByDay | None = None
    quota_reset: TimeText = "00:00"
    rest_reminder: Minutes | None = None
    category_schedules: dict[CategoryKey, Schedule] = Field(default_factory=dict)
    always_allowed: list[DomainText] = Field(default_factory=list)
    allow_domains: list[DomainText] = Field(default_factory=list)
    deny_domains: list[DomainText] = Field(default_factory=list)
    deny_urls: list[UrlPatternText] = Field(default_factory=list)
    safe_search: StrictBool | None = None
    block_search_engines: list[EngineName] = Field(default_factory=list)
    payments: Payments | None = None
    bypass: Bypass = Field(default_factory=Bypass)

    @field_validator("age_guideline", mode="before")
    @classmethod
    def _guideline(cls, v: Any) -> Any:
        return str(v) if isinstance(v, int) and not isinstance(v, bool) else v

    @field_validator("timezone")
    @classmethod
    def _zone(cls, v: str | None) -> str | None:
        timerules.zone(v)
        return v

    @field_validator("quota_reset")
    @classmethod
    def _reset(cls, v: str) -> str:
        if timerules.parse_time(v) >= 1440:
            raise Bilingual(
                "quota_reset must be a time of day before 24:00",
                "quota_reset 应是 24:00 之前的时间",
            )
        return v


# -- presets ------------------------------------------------------------------------------

GAMES_CATEGORY = "games"
GUIDELINE_2024 = "minor-mode guideline (CAC, final version, Nov 2024)"
GUIDELINE_2023 = "minor-mode guideline (CAC, draft, Aug 2023)"
GAMES_2021 = "online games notice (NPPA, Aug 2021)"
PAYMENTS_2019 = "game spending notice (NPPA, Oct 2019)"

GAMES_PRESET = DaysPlan(frozenset({"fri", "sat", "sun", "holidays"}), (Window(20 * 60, 21 * 60),))
CURFEW_PRESET = KeyedPlan({"daily": (Window(22 * 60, 6 * 60),)})
REST_REMINDER_PRESET = 30


def age_minutes(age: int, guideline: str = "2024") -> int | None:
    """The daily minutes the guideline gives ``age``; None for adults."""
    if age >= 18:
        return None
    if age < 8 and guideline == "2023-draft":
        return 40
    return 60 if age < 16 else 120


@dataclass(frozen=True, slots=True)
class PaymentsRule:
    mode: Literal["block", "allow", "window"] = "allow"
    plan: DaysPlan | None = None


@dataclass(frozen=True, slots=True)
class BypassRule:
    block_doh: bool = False
    block_proxies_vpn: bool = False
    block_bare_ip: bool = False
    allow_ips: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...] = ()


@dataclass(frozen=True, slots=True)
class EffectiveRules:
    """Everything urlrules/timerules/safesearch need for one profile, presets applied."""

    time: TimeRules = field(default_factory=TimeRules)
    always_allowed: DomainSet = field(default_factory=DomainSet)
    allow_domains: DomainSet = field(default_factory=DomainSet)
    deny_domains: DomainSet = field(default_factory=DomainSet)
    deny_urls: tuple[UrlPattern, ...] = ()
    safe_search: bool = False
    block_search_engines: frozenset[str] = frozenset()
    payments: PaymentsRule = field(default_factory=PaymentsRule)
    bypass: BypassRule = field(default_factory=BypassRule)
    filter: bool = True
    block_threshold: int = 100
    categories: frozenset[str] | None = None  # counted categories (None: all)
    # category -> sites the profile puts in it (category_schedules.<c>.domains)
    extra_categories: Mapping[str, DomainSet] = field(default_factory=dict)
    # setting -> where its value came from: "config", a preset's source, or "default"
    sources: Mapping[str, str] = field(default_factory=dict)

    def counts(self, category: str) -> bool:
        return self.categories is None or category in self.categories


def resolve(profile: Any) -> EffectiveRules:
    """The rules ``profile`` (a config ``Profile``) gets: its explicit settings, then
    its presets (age, games), then the defaults. Pure; call once per profile."""
    src: dict[str, str] = {}
    minor = profile.age is not None and profile.age < 18
    guideline = GUIDELINE_2023 if profile.age_guideline == "2023-draft" else GUIDELINE_2024
    age_src = f"age {profile.age}: {guideline}"
    filtering = bool(profile.filter)

    if profile.curfew is not None:
        curfew: KeyedPlan | None = profile.curfew.plan()
        src["curfew"] = "config"
    elif minor:
        curfew, src["curfew"] = CURFEW_PRESET, age_src
    else:
        curfew, src["curfew"] = None, "default"
    if curfew is not None and not any(curfew.by_key.values()):
        curfew = None

    if profile.daily_minutes is not None:
        minutes: DayValues | None = profile.daily_minutes.values()
        src["daily_minutes"] = "config"
    elif minor:
        minutes = DayValues({"daily": age_minutes(profile.age, profile.age_guideline)})
        src["daily_minutes"] = age_src
    else:
        minutes, src["daily_minutes"] = None, "default"
    if minutes is not None and all(v is None for v in minutes.by_key.values()):
        minutes = None

    if profile.rest_reminder is not None:
        rest: int | None = profile.rest_reminder or None
        src["rest_reminder"] = "config"
    elif minor:
        rest, src["rest_reminder"] = REST_REMINDER_PRESET, age_src
    else:
        rest, src["rest_reminder"] = None, "default"

    schedules = {c: s.plan() for c, s in profile.category_schedules.items()}
    games_on = profile.games if profile.games is not None else minor
    if games_on and GAMES_CATEGORY not in schedules:
        schedules[GAMES_CATEGORY] = GAMES_PRESET
        src["category_schedules.games"] = (
            GAMES_2021 if profile.games else f"age {profile.age}: {GAMES_2021}"
        )
    for c in profile.category_schedules:
        src[f"category_schedules.{c}"] = "config"

    src["public_holidays"] = (
        holidays.official().describe if profile.public_holidays == holidays.SOURCE_CN else "config"
    )
    time = TimeRules(
        tz=timerules.zone(profile.timezone),
        calendar=holidays.calendar(
            frozenset(profile.holidays), frozenset(profile.workdays), profile.public_holidays
        ),
        curfew=curfew,
        daily_minutes=minutes,
        quota_reset=timerules.parse_time(profile.quota_reset),
        category_schedules=schedules,
        rest_reminder=rest,
    )

    if profile.payments is not None:
        p = profile.payments
        plan = Schedule(days=p.days, windows=p.windows).plan() if p.mode == "window" else None
        payments = PaymentsRule(p.mode, plan)
        src["payments"] = "config"
    elif minor and profile.age < 8:
        payments, src["payments"] = PaymentsRule("block"), f"age {profile.age}: {PAYMENTS_2019}"
    else:
        payments, src["payments"] = PaymentsRule("allow"), "default"

    b = profile.bypass

    def flag(name: str) -> bool:
        value = getattr(b, name)
        src[f"bypass.{name}"] = "config" if value is not None else "default"
        return filtering if value is None else value

    bypass = BypassRule(
        block_doh=flag("block_doh"),
        block_proxies_vpn=flag("block_proxies_vpn"),
        block_bare_ip=flag("block_bare_ip"),
        allow_ips=tuple(ipaddress.ip_network(n, strict=False) for n in b.allow_ips),
    )

    if profile.safe_search is not None:
        safe, src["safe_search"] = profile.safe_search, "config"
    else:
        safe, src["safe_search"] = filtering, "default"

    cats = getattr(profile, "categories", None)
    return EffectiveRules(
        time=time,
        always_allowed=DomainSet(profile.always_allowed),
        allow_domains=DomainSet(profile.allow_domains),
        deny_domains=DomainSet(profile.deny_domains),
        deny_urls=tuple(compile_url_pattern(u) for u in profile.deny_urls),
        safe_search=safe,
        block_search_engines=frozenset(profile.block_search_engines),
        payments=payments,
        bypass=bypass,
        filter=filtering,
        block_threshold=int(getattr(profile, "block_threshold", 100)),
        categories=frozenset(cats) if cats is not None else None,
        extra_categories={
            c: DomainSet(s.domains) for c, s in profile.category_schedules.items() if s.domains
        },
        sources=src,
    )


def resolve_all(config: Any) -> dict[str, EffectiveRules]:
    """``resolve`` for every profile of a config, by name."""
    return {name: resolve(p) for name, p in config.profiles.items()}
