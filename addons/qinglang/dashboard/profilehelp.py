"""What the profile form says beside its fields: the time limits in force for a profile
(from its own settings, its age, or none) and what each age preset sets.

Both come from ``presets.resolve``, the function the proxy enforces with, so the form
cannot show a limit the proxy does not apply, or miss one it does."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from qinglang.policy.presets import GAMES_CATEGORY, resolve
from qinglang.policy.timerules import DaysPlan, KeyedPlan, WeekPlan

# One age from each band of the guideline's daily minutes (presets.age_minutes).
AGE_PRESETS = (7, 12, 16)

_KEYS = {
    "daily": ("每天", "every day"),
    "weekdays": ("工作日", "weekdays"),
    "weekends": ("周末", "weekends"),
    "holidays": ("节假日", "holidays"),
}


@dataclass(frozen=True, slots=True)
class InForce:
    daily_minutes: str
    curfew: str


def _hm(m: int) -> str:
    return f"{m // 60:02d}:{m % 60:02d}"


def _zh(lang: str, zh: str, en: str) -> str:
    return zh if lang == "zh" else en


def _key(k: str, lang: str) -> str:
    pair = _KEYS.get(k)
    return k if pair is None else _zh(lang, *pair)


def _minutes(values: Any, lang: str) -> str:
    if values is None:
        return _zh(lang, "不限时", "no limit")
    parts = []
    for k, v in values.by_key.items():
        amount = _zh(lang, "不限", "no limit") if v is None else _zh(lang, f"{v} 分钟", f"{v} min")
        parts.append(f"{_key(k, lang)} {amount}")
    return "，".join(parts) if lang == "zh" else ", ".join(parts)


def _curfew(plan: WeekPlan | None, lang: str) -> str:
    if plan is None:
        return _zh(lang, "没有休息时段", "no rest hours")
    if isinstance(plan, KeyedPlan):
        groups = [(_key(k, lang), w) for k, w in plan.by_key.items() if w]
    elif isinstance(plan, DaysPlan):
        days = sorted(_key(d, lang) for d in plan.days or ("daily",))
        groups = [(" ".join(days), plan.windows)]
    else:  # a plan of another shape: say that there is one
        return _zh(lang, "有休息时段", "rest hours set")
    parts = [f"{k} " + " ".join(f"{_hm(w.start)}-{_hm(w.end)}" for w in ws) for k, ws in groups]
    return "，".join(parts) if lang == "zh" else ", ".join(parts)


def _source(src: str, lang: str) -> str:
    if src == "config":
        return _zh(lang, "本档案的设置", "this profile's setting")
    if src.startswith("age "):
        return _zh(
            lang, f"按年龄 {src[4:].split(':', 1)[0]} 岁", f"from age {src[4:].split(':', 1)[0]}"
        )
    return _zh(lang, "默认", "default")


def in_force(profile: Any, lang: str) -> InForce:
    """The daily minutes and rest hours the proxy applies to ``profile`` now."""
    rules = resolve(profile)
    t, src = rules.time, rules.sources
    left, right = ("（", "）") if lang == "zh" else (" (", ")")

    def where(key: str) -> str:
        return f"{left}{_source(src.get(key, ''), lang)}{right}"

    return InForce(
        _minutes(t.daily_minutes, lang) + where("daily_minutes"),
        _curfew(t.curfew, lang) + where("curfew"),
    )


def preset_summary(age: int, lang: str) -> str:
    """What setting ``age`` on a profile with no time settings of its own applies."""
    from qinglang.policy.config import Profile

    rules = resolve(Profile(age=age))
    t = rules.time
    parts = [
        _minutes(t.daily_minutes, lang),
        _zh(lang, "休息时段 ", "rest hours ") + _curfew(t.curfew, lang),
    ]
    if t.rest_reminder:
        parts.append(
            _zh(
                lang,
                f"每 {t.rest_reminder} 分钟提醒休息",
                f"a break reminder every {t.rest_reminder} min",
            )
        )
    if GAMES_CATEGORY in t.category_schedules:
        parts.append(
            _zh(
                lang,
                "游戏只在周五、周末和节假日 20:00-21:00",
                "games only Fri, weekends and holidays 20:00-21:00",
            )
        )
    if rules.payments.mode == "block":
        parts.append(_zh(lang, "不能付款", "no payments"))
    return " · ".join(parts)


def preset_label(age: int, lang: str) -> str:
    if age < 8:
        return _zh(lang, "8 岁以下", "under 8")
    if age < 16:
        return _zh(lang, "8-15 岁", "8 to 15")
    return _zh(lang, "16-17 岁", "16 and 17")
