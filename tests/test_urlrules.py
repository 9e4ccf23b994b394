"""Request rules: allow/deny domains and URL patterns, category domain lists, search
engines, payments, bypass resistance, time rules and keyword checks of searches and
URLs through the real engine, with real list files and a controlled clock."""

from __future__ import annotations

import textwrap
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from qinglang.content.pipeline import ScanJob, run_job
from qinglang.engine.lists import load_lists
from qinglang.engine.scanner import Engine
from qinglang.policy.config import Profile
from qinglang.policy.domains import load_domains
from qinglang.policy.presets import resolve
from qinglang.policy.timerules import QuotaState
from qinglang.policy.urlrules import (
    Decision,
    RequestInfo,
    RequestRules,
    compile_url_pattern,
    is_doh_request,
)

SH = ZoneInfo("Asia/Shanghai")
MON_EVENING = datetime(2025, 6, 2, 19, 0, tzinfo=SH)
MON_NIGHT = datetime(2025, 6, 2, 23, 0, tzinfo=SH)
NAV = {"Accept": "text/html,*/*;q=0.8", "Sec-Fetch-Mode": "navigate", "Sec-Fetch-Dest": "document"}

LISTS = {
    "gambling.yaml": """
        category: gambling
        lang: zh
        weight: 10
        terms:
          - 赌博
          - {term: 网络赌场, weight: 60}
          - {term: casino, weight: 60}
    """,
    "health.yaml": """
        category: porn
        weight: 40
        terms:
          - breast
          - {all: [breast, cancer], weight: -40}
    """,
}
DOMAINS = {
    "porn.txt": "badsite.example\n",
    "games.txt": "# online games\ngame.example\n*.mmo.example\n",
    "proxies_vpn.txt": "freevpn.example\n",
    "doh.txt": "dns.private-resolver.example\n",
    "payments.txt": "wallet.example\n",
}


@pytest.fixture
def world(tmp_path: Path) -> dict[str, Any]:
    folder = tmp_path / "lists"
    (folder / "domains").mkdir(parents=True)
    for name, body in LISTS.items():
        (folder / name).write_text(textwrap.dedent(body), encoding="utf-8")
    for name, body in DOMAINS.items():
        (folder / "domains" / name).write_text(body, encoding="utf-8")
    return {
        "engine": Engine(load_lists([folder], use_cache=False)),
        "domains": load_domains([folder]),
    }


def make(world: dict[str, Any], **fields: Any) -> tuple[RequestRules, Profile]:
    profile = Profile.model_validate({"timezone": "Asia/Shanghai", **fields})
    return RequestRules(resolve(profile), world["domains"].categories_for), profile


def get(host: str, path: str = "/", headers: dict[str, str] | None = None) -> RequestInfo:
    return RequestInfo("GET", host, path, headers if headers is not None else NAV)


def reason(d: Decision) -> tuple[str, str]:
    return d.action, d.reason


# -- domains and URL patterns ------------------------------------------------------------


def test_deny_domains_cover_subdomains_and_the_more_specific_listing_wins(world: dict) -> None:
    rules, _ = make(
        world,
        deny_domains=["qq.com", "games.example.org"],
        allow_domains=["docs.qq.com", "example.org"],
    )
    assert reason(rules.check(get("qq.com"), None)) == ("block", "deny_domains")
    assert rules.check(get("v.qq.com"), None).rule == "qq.com"
    assert rules.check(get("docs.qq.com"), None).allowed  # allow is more specific
    assert rules.check(get("a.docs.qq.com"), None).allowed
    assert not rules.check(get("games.example.org"), None).allowed  # deny is more specific
    assert rules.check(get("www.example.org"), None).allowed
    rules, _ = make(world, deny_domains=["x.example"], allow_domains=["x.example"])
    assert not rules.check(get("x.example"), None).allowed  # a tie is a deny


@pytest.mark.parametrize(
    ("pattern", "host", "path", "hit"),
    [
        ("example.com/games", "example.com", "/games", True),
        ("example.com/games", "www.example.com", "/games/2?x=1", True),
        ("example.com/games", "example.com", "/games?id=1", True),
        ("example.com/games", "example.com", "/gamesx", False),
        ("example.com/games", "example.com", "/", False),
        ("example.com/games/", "example.com", "/games/anything", True),
        ("example.com/pay*", "example.com", "/payment/ok", True),
        ("*.example.com/*/recharge", "m.example.com", "/u/1/recharge?x", True),
        ("*.example.com/*/recharge", "m.example.com", "/recharge", False),
        ("https://Example.COM/Watch?v=abc", "example.com", "/watch?v=abc&t=1", True),
        ("example.com/watch?v=abc", "example.com", "/watch?v=abcd", False),
        ("example.com", "cdn.example.com", "/anything", True),
        ("example.com", "notexample.com", "/", False),
        ("ads*.example.com", "ads2.example.com", "/", True),
        ("example.com/搜索", "example.com", "/%E6%90%9C%E7%B4%A2/1", True),
    ],
)
def test_url_pattern_syntax(pattern: str, host: str, path: str, hit: bool) -> None:
    assert compile_url_pattern(pattern).matches(host, path) is hit


@pytest.mark.parametrize("bad", ["", "   ", "/only/a/path", "exa mple.com/x", "*"])
def test_bad_url_patterns_say_why(bad: str) -> None:
    with pytest.raises(ValueError, match="URL pattern"):
        compile_url_pattern(bad)


def test_deny_urls_beat_an_allowed_domain(world: dict) -> None:
    rules, _ = make(world, allow_domains=["bilibili.com"], deny_urls=["bilibili.com/pay"])
    d = rules.check(get("www.bilibili.com", "/pay/center"), None)
    assert reason(d) == ("block", "deny_urls") and d.rule == "bilibili.com/pay"
    assert rules.check(get("www.bilibili.com", "/video/1"), None).allowed


# -- category lists ----------------------------------------------------------------------


def test_category_domains_block_and_allow_domains_override(world: dict) -> None:
    rules, _ = make(world)
    d = rules.check(get("www.badsite.example"), None)
    assert (d.action, d.reason, d.category) == ("block", "category", "porn")
    rules, _ = make(world, allow_domains=["badsite.example"])
    assert rules.check(get("www.badsite.example"), None).allowed
    rules, _ = make(world, categories=["gambling"])  # porn not counted by this profile
    assert rules.check(get("badsite.example"), None).allowed
    rules, _ = make(world, filter=False)
    assert rules.check(get("badsite.example"), None).allowed


def test_scheduled_categories_follow_their_schedule(world: dict) -> None:
    rules, _ = make(world, games=True)
    thu = datetime(2025, 6, 5, 20, 30, tzinfo=SH)
    d = rules.check(get("www.game.example"), thu)
    assert (d.action, d.reason, d.category) == ("timeup", "schedule", "games")
    assert d.returns_at == datetime(2025, 6, 6, 20, 0, tzinfo=SH)
    assert rules.check(get("eu.mmo.example"), thu + timedelta(days=1)).allowed
    assert rules.check(get("example.net"), thu).allowed


def test_a_profile_can_put_its_own_sites_in_a_scheduled_category(world: dict) -> None:
    schedule = {"days": ["sat", "sun"], "windows": ["10:00-12:00"], "domains": ["roblox.com"]}
    rules, _ = make(world, category_schedules={"games": schedule})
    d = rules.check(get("www.roblox.com"), MON_EVENING)
    assert (d.action, d.reason, d.category) == ("timeup", "schedule", "games")
    assert d.returns_at == datetime(2025, 6, 7, 10, 0, tzinfo=SH)
    assert rules.check(get("www.roblox.com"), datetime(2025, 6, 7, 11, 0, tzinfo=SH)).allowed


# -- time rules --------------------------------------------------------------------------


def test_curfew_and_quota_give_time_up_and_always_allowed_still_works(world: dict) -> None:
    rules, _ = make(
        world, curfew=["22:00-06:00"], daily_minutes=60, always_allowed=["school.edu.cn"]
    )
    d = rules.check(get("example.net"), MON_NIGHT)
    assert (d.action, d.reason) == ("timeup", "curfew")
    assert d.returns_at == datetime(2025, 6, 3, 6, 0, tzinfo=SH)
    assert reason(rules.check(get("www.school.edu.cn"), MON_NIGHT)) == ("allow", "always_allowed")
    spent = QuotaState(60, False)
    d = rules.check(get("example.net"), MON_EVENING, spent)
    assert (d.action, d.reason) == ("timeup", "quota")
    assert d.returns_at == datetime(2025, 6, 3, 6, 0, tzinfo=SH)  # midnight is in the curfew
    assert rules.check(get("school.edu.cn"), MON_EVENING, spent).allowed
    assert rules.check(get("example.net"), MON_EVENING, QuotaState(59, False)).allowed
    # API calls are refused as well: the same decision, whatever the request.
    api = get("api.example.net", "/poll", {"Accept": "application/json"})
    assert rules.check(api, MON_NIGHT).action == "timeup"


def test_connections_that_are_not_intercepted_get_the_time_rules_at_connect(world: dict) -> None:
    rules, _ = make(world, curfew=["22:00-06:00"])
    assert rules.check_connect("bank.example", 443, now=MON_NIGHT).allowed  # page comes later
    d = rules.check_connect("bank.example", 443, now=MON_NIGHT, intercepted=False)
    assert (d.action, d.reason) == ("timeup", "curfew")


# -- search engines, payments -------------------------------------------------------------


def test_search_engines_can_be_blocked_outright(world: dict) -> None:
    rules, _ = make(world, block_search_engines=["baidu", "sogou"])
    assert reason(rules.check(get("www.baidu.com", "/s?wd=x"), None)) == ("block", "search_engine")
    assert not rules.check(get("m.sogou.com"), None).allowed
    assert rules.check(get("baike.baidu.com", "/item/x"), None).allowed  # not the search engine
    assert rules.check(get("www.bing.com", "/search?q=x"), None).allowed


def test_payments_blocked_under_8_allowed_in_a_window_otherwise(world: dict) -> None:
    rules, _ = make(world, age=7)
    for host in ("pay.bilibili.com", "mclient.alipay.com", "wallet.example"):
        d = rules.check(get(host), MON_EVENING)
        assert (d.action, d.reason) == ("block", "payments"), host
    rules, _ = make(world, age=12)
    assert rules.check(get("pay.bilibili.com"), MON_EVENING).allowed
    rules, _ = make(world, payments={"days": ["sat"], "windows": ["10:00-11:00"]})
    d = rules.check(get("pay.bilibili.com"), MON_EVENING)
    assert (d.action, d.reason) == ("timeup", "payments")
    assert d.returns_at == datetime(2025, 6, 7, 10, 0, tzinfo=SH)
    assert rules.check(get("pay.bilibili.com"), datetime(2025, 6, 7, 10, 30, tzinfo=SH)).allowed


# -- bypass resistance -------------------------------------------------------------------


def test_bare_ip_connects_are_refused_unless_allowed(world: dict) -> None:
    rules, _ = make(world, bypass={"allow_ips": ["203.0.113.0/24"]})
    d = rules.check_connect("93.184.216.34", 443)
    assert (d.action, d.reason, d.rule) == ("block", "bare_ip", "93.184.216.34")
    assert not rules.check_connect("[2606:4700::1111]", 443).allowed
    assert rules.check_connect("203.0.113.7", 443).allowed  # allow_ips
    assert rules.check_connect("192.168.1.1", 443).allowed  # the home network
    assert rules.check_connect("127.0.0.1", 8443).allowed
    assert rules.check_connect("example.com", 443).allowed
    assert not rules.check(get("93.184.216.34", "/"), None).allowed  # plain HTTP too
    rules, _ = make(world, bypass={"block_bare_ip": False})
    assert rules.check_connect("93.184.216.34", 443).allowed


def test_dns_over_https_is_refused_by_host_list_and_by_shape(world: dict) -> None:
    rules, _ = make(world)
    for host in ("dns.google", "mozilla.cloudflare-dns.com", "dns.alidns.com", "doh.pub"):
        d = rules.check_connect(host, 443)
        assert (d.action, d.reason) == ("block", "dns_over_https"), host
    assert not rules.check_connect("dns.private-resolver.example", 443).allowed  # doh category
    doh = RequestInfo(
        "POST", "resolver.example", "/dns-query", {"Content-Type": "application/dns-message"}
    )
    assert reason(rules.check(doh, None)) == ("block", "dns_over_https")
    assert is_doh_request("GET", "/dns-query?dns=AAABAAAB", {})
    assert is_doh_request("GET", "/resolve?name=x", {"Accept": "application/dns-json"})
    assert not is_doh_request("GET", "/dns-query-guide.html", {})


def test_proxies_and_vpns_are_refused(world: dict) -> None:
    rules, _ = make(world)
    d = rules.check_connect("www.freevpn.example", 443)
    assert (d.action, d.reason, d.category) == ("block", "proxies_vpn", "proxies_vpn")


def test_profiles_that_do_not_filter_get_no_bypass_rules(world: dict) -> None:
    rules, _ = make(world, filter=False)
    assert rules.check_connect("dns.google", 443).allowed
    assert rules.check_connect("93.184.216.34", 443).allowed
    assert rules.check_connect("freevpn.example", 443).allowed


# -- keywords in searches and URLs --------------------------------------------------------


def test_a_search_for_a_blocked_term_is_blocked_on_every_engine(world: dict) -> None:
    rules, profile = make(world)
    engine = world["engine"]
    for host, path in [
        ("www.baidu.com", "/s?wd=%E7%BD%91%E4%B8%8A%E8%B5%8C%E5%8D%9A"),
        ("www.google.com", "/search?q=%E8%B5%8C%E5%8D%9A"),
        ("www.sogou.com", "/web?query=%E8%B5%8C+%E5%8D%9A"),  # split by a space: still found
        ("www.douyin.com", "/search/%E8%B5%8C%E5%8D%9A"),
        ("api.bilibili.com", "/x/web-interface/search/all?keyword=%E8%B5%8C%E5%8D%9A"),
    ]:
        d = rules.check_keywords(get(host, path, {"Accept": "application/json"}), engine, profile)
        assert (d.action, d.reason, d.category) == ("block", "search keywords", "gambling"), host
        assert d.rule == "赌博"
    ok = rules.check_keywords(get("www.baidu.com", "/s?wd=%E6%95%B0%E5%AD%A6"), engine, profile)
    assert ok.allowed


def test_search_texts_can_go_through_the_scan_workers_job(world: dict) -> None:
    # The proxy scans in worker processes; a ScanJob's outcome is judged the same way.
    rules, profile = make(world)
    [target] = rules.keyword_targets(get("www.baidu.com", "/s?wd=%E8%B5%8C%E5%8D%9A", {}))
    job = ScanJob(target.text.encode(), "text/plain; charset=utf-8", None, None, profile)
    d = rules.judge(target, run_job(world["engine"], job))
    assert d is not None and (d.reason, d.category, d.rule) == (
        "search keywords",
        "gambling",
        "赌博",
    )


def test_context_terms_keep_an_innocent_search_open(world: dict) -> None:
    rules, profile = make(world)
    d = rules.check_keywords(
        get("www.bing.com", "/search?q=breast+cancer"), world["engine"], profile
    )
    assert d.allowed
    d = rules.check_keywords(get("www.bing.com", "/search?q=breast"), world["engine"], profile)
    assert not d.allowed


def test_urls_are_blocked_only_when_they_score_like_a_page(world: dict) -> None:
    rules, profile = make(world)
    engine = world["engine"]
    bad = get("news.example", "/casino/%E7%BD%91%E7%BB%9C%E8%B5%8C%E5%9C%BA-bonus")
    d = rules.check_keywords(bad, engine, profile)
    assert (d.action, d.reason, d.category) == ("block", "url keywords", "gambling")
    one_term = get("news.example", "/2025/anti-casino-law")  # 60 < 100
    assert rules.check_keywords(one_term, engine, profile).allowed
    # Only page loads: the same URL fetched as an image is not scanned.
    img = get(
        "news.example",
        bad.path,
        {"Accept": "image/*", "Sec-Fetch-Dest": "image", "Sec-Fetch-Mode": "no-cors"},
    )
    assert rules.check_keywords(img, engine, profile).allowed


def test_no_keyword_checks_for_adults_or_always_allowed_sites(world: dict) -> None:
    search = get("www.baidu.com", "/s?wd=%E8%B5%8C%E5%8D%9A")
    rules, _ = make(world, filter=False)
    assert rules.keyword_targets(search) == []
    rules, _ = make(world, always_allowed=["baidu.com"])
    assert rules.keyword_targets(search) == []
