"""Presets: what `age` and `games` fill in, what explicit settings override, the errors
a parent sees for a wrong value, and the examples of docs/youth-mode.md, which must load
and behave as the text says."""

from __future__ import annotations

import re
import textwrap
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from qinglang.engine.yamlloc import SourceError
from qinglang.policy import timerules as tr
from qinglang.policy.config import ADULT, Profile, load_config, parse_config
from qinglang.policy.presets import GAMES_PRESET, EffectiveRules, Window, resolve, resolve_all

SH = ZoneInfo("Asia/Shanghai")
DOCS = Path(__file__).resolve().parents[1] / "docs" / "youth-mode.md"


def rules(**fields: object) -> EffectiveRules:
    return resolve(Profile.model_validate(fields))


def minutes(r: EffectiveRules, day: tuple[int, int, int] = (2025, 6, 2)) -> int | None:
    return tr.daily_limit(r.time, datetime(*day, 12, 0, tzinfo=SH))


@pytest.mark.parametrize(
    ("age", "guideline", "expected"),
    [
        (5, "2024", 60),
        (5, "2023-draft", 40),
        (8, "2023-draft", 60),
        (10, "2024", 60),
        (15, "2024", 60),
        (16, "2024", 120),
        (17, "2023-draft", 120),
        (18, "2024", None),
    ],
)
def test_age_gives_the_guideline_minutes(age: int, guideline: str, expected: int | None) -> None:
    assert minutes(rules(age=age, age_guideline=guideline, timezone="Asia/Shanghai")) == expected


def test_age_preset_for_a_ten_year_old() -> None:
    r = rules(age=10, timezone="Asia/Shanghai")
    t = r.time
    assert tr.in_curfew(t, datetime(2025, 6, 2, 22, 0, tzinfo=SH))
    assert tr.in_curfew(t, datetime(2025, 6, 3, 5, 59, tzinfo=SH))
    assert not tr.in_curfew(t, datetime(2025, 6, 3, 6, 0, tzinfo=SH))
    assert t.rest_reminder == 30
    assert t.category_schedules["games"] == GAMES_PRESET
    assert GAMES_PRESET.windows == (Window(20 * 60, 21 * 60),)
    assert r.payments.mode == "allow"
    assert r.safe_search and r.bypass.block_doh and r.bypass.block_bare_ip
    assert "guideline (CAC, final version, Nov 2024)" in r.sources["daily_minutes"]
    assert "NPPA, Aug 2021" in r.sources["category_schedules.games"]


def test_under_8_payments_are_blocked_and_adults_get_no_time_presets() -> None:
    assert rules(age=7).payments.mode == "block"
    assert "NPPA, Oct 2019" in rules(age=7).sources["payments"]
    adult = rules(age=30)
    assert adult.time.curfew is None and adult.time.daily_minutes is None
    assert not adult.time.category_schedules and adult.time.rest_reminder is None


def test_explicit_settings_override_every_preset() -> None:
    r = rules(
        age=10,
        timezone="Asia/Shanghai",
        daily_minutes=90,
        curfew=[],
        games=False,
        rest_reminder=0,
        payments="block",
        safe_search=False,
        bypass={"block_doh": False},
    )
    assert minutes(r) == 90 and r.sources["daily_minutes"] == "config"
    assert r.time.curfew is None
    assert "games" not in r.time.category_schedules
    assert r.time.rest_reminder is None
    assert r.payments.mode == "block"
    assert not r.safe_search and not r.bypass.block_doh and r.bypass.block_bare_ip
    # An explicit games schedule replaces the preset's.
    r = rules(age=10, category_schedules={"games": {"days": ["sat"], "windows": ["09:00-10:00"]}})
    assert r.time.category_schedules["games"] != GAMES_PRESET
    assert r.sources["category_schedules.games"] == "config"


def test_games_preset_without_age() -> None:
    r = rules(games=True)
    assert r.time.category_schedules["games"] == GAMES_PRESET
    assert r.time.curfew is None and r.time.daily_minutes is None


def test_defaults_follow_whether_the_profile_filters() -> None:
    child = resolve(Profile())
    assert child.safe_search and child.bypass.block_doh and child.bypass.block_proxies_vpn
    assert not child.time.active
    adult = resolve(ADULT)
    assert not adult.safe_search and not adult.bypass.block_doh and not adult.bypass.block_bare_ip
    assert not adult.filter


def test_resolve_all_names_every_profile() -> None:
    cfg = parse_config("profiles:\n  child: {age: 9}\n  adult: {filter: false}\n", "q.yaml")
    out = resolve_all(cfg)
    assert set(out) == {"child", "adult"}
    assert out["child"].time.daily_minutes is not None


@pytest.mark.parametrize(
    ("yaml", "line", "message"),
    [
        (
            "profiles:\n  child:\n    curfew: ['22:00-26:00']\n",
            3,
            "profiles.child.curfew.daily[0]: not a time window 'HH:MM-HH:MM' (24-hour clock)",
        ),
        (
            "profiles:\n  child:\n    curfew:\n      weekdays: ['21:30-06:30']\n"
            "      satday: ['22:00-07:00']\n",
            5,
            "profiles.child.curfew.satday: unknown key `satday`",
        ),
        (
            "profiles:\n  child:\n    block_search_engines: [baidu, altavista]\n",
            3,
            "unknown search engine 'altavista' (known: baidu, bilibili, bing,",
        ),
        (
            "profiles:\n  child:\n    deny_domains: ['https://qq.com/x']\n",
            3,
            "profiles.child.deny_domains[0]: not a domain name",
        ),
        (
            "profiles:\n  child:\n    payments: sometimes\n",
            3,
            "payments is `block`, `allow` or a window",
        ),
        (
            "profiles:\n  child:\n    payments: {days: [sat]}\n",
            3,
            "payments in a window need `windows`",
        ),
        (
            "profiles:\n  child:\n    timezone: Beijing\n",
            3,
            "unknown time zone 'Beijing' (an IANA name such as Asia/Shanghai)",
        ),
        ("profiles:\n  child:\n    quota_reset: '7am'\n", 3, "not a time of day 'HH:MM'"),
        (
            "profiles:\n  child:\n    holidays: ['2025-10-08..2025-10-01']\n",
            3,
            "runs backwards",
        ),
        (
            "profiles:\n  child:\n    age: 7\n    age_guideline: 2023\n",
            4,
            "profiles.child.age_guideline: Input should be '2024' or '2023-draft'",
        ),
        (
            "profiles:\n  child:\n    daily_minutes: {weekdays: 30, weekend: 2000}\n",
            3,
            "not a number of minutes (0 to 1440) or `unlimited`: 2000",
        ),
        (
            "profiles:\n  child:\n    category_schedules:\n"
            "      games: {days: [caturday], windows: ['20:00-21:00']}\n",
            4,
            "not a day: 'caturday' (use mon..sun, weekdays, weekends, holidays or daily)",
        ),
        (
            "profiles:\n  child:\n    category_schedules:\n      games: {}\n",
            4,
            "a schedule needs `days`, `windows` or both",
        ),
        (
            "profiles:\n  child:\n    bypass: {allow_ips: [nope]}\n",
            3,
            "not an IP address or CIDR: 'nope'",
        ),
        (
            "profiles:\n  child:\n    deny_urls: ['/x']\n",
            3,
            "not a URL pattern 'host/path' (the host is missing)",
        ),
    ],
)
def test_wrong_values_name_the_file_line_and_problem(yaml: str, line: int, message: str) -> None:
    with pytest.raises(SourceError) as e:
        parse_config(yaml, "qinglang.yaml")
    assert e.value.path == "qinglang.yaml" and e.value.line == line
    assert message in str(e.value)
    assert str(e.value).startswith(f"qinglang.yaml:{line}: ")


def test_holiday_ranges_and_plain_dates() -> None:
    cfg = parse_config(
        "profiles:\n  child:\n    holidays: ['2025-10-01..2025-10-03', 2026-01-01]\n", "q.yaml"
    )
    days = sorted(d.isoformat() for d in cfg.profiles["child"].holidays)
    assert days == ["2025-10-01", "2025-10-02", "2025-10-03", "2026-01-01"]


def doc_examples() -> list[str]:
    text = DOCS.read_text(encoding="utf-8")
    blocks = re.findall(r"```yaml\n(.*?)```", text, flags=re.S)
    # The youth-mode examples (the proxy section's snippets show single keys).
    youth = ("age:", "curfew", "daily_minutes", "category_schedules")
    return [b for b in blocks if b.startswith("profiles:") and any(k in b for k in youth)]


def test_every_config_example_in_the_docs_loads(tmp_path: Path) -> None:
    examples = doc_examples()
    assert len(examples) >= 2
    for i, example in enumerate(examples):
        path = tmp_path / f"example{i}.yaml"
        path.write_text(textwrap.dedent(example), encoding="utf-8")
        cfg = load_config(path)
        for p in cfg.profiles.values():
            resolve(p)


def test_the_parents_example_does_what_the_docs_say(tmp_path: Path) -> None:
    path = tmp_path / "qinglang.yaml"
    path.write_text(next(b for b in doc_examples() if "category_schedules" in b), encoding="utf-8")
    cfg = load_config(path)
    r = resolve(cfg.profiles["child"]).time
    thu, fri, sat, sun = (2025, 6, 5), (2025, 6, 6), (2025, 6, 7), (2025, 6, 8)
    # 21:00-07:00 on school nights; Friday and Saturday nights 22:00-08:00.
    assert tr.in_curfew(r, datetime(*thu, 21, 30, tzinfo=SH))
    assert not tr.in_curfew(r, datetime(*fri, 21, 30, tzinfo=SH))
    assert tr.in_curfew(r, datetime(*sat, 7, 30, tzinfo=SH))
    assert tr.in_curfew(r, datetime(*sun, 21, 30, tzinfo=SH))
    # 60 minutes on weekdays, 120 at weekends.
    assert tr.daily_limit(r, datetime(*thu, 12, tzinfo=SH)) == 60
    assert tr.daily_limit(r, datetime(*sat, 12, tzinfo=SH)) == 120
    # Games on Saturday and Sunday, 10-12 and 19-20 only; not on Friday evening.
    assert tr.category_allowed(r, "games", datetime(*sat, 10, 30, tzinfo=SH))
    assert tr.category_allowed(r, "games", datetime(*sun, 19, 30, tzinfo=SH))
    assert not tr.category_allowed(r, "games", datetime(*sat, 13, 0, tzinfo=SH))
    assert not tr.category_allowed(r, "games", datetime(*fri, 20, 30, tzinfo=SH))
    assert cfg.clients[0].profile == "child"
