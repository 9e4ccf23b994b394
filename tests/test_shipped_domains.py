"""The shipped domain lists (blocklists/domains/): they load without a warning, and a
fresh install's child profile keeps the games listed to the games preset's window and
blocks the porn and gambling sites listed, while general sites stay open."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest

from qinglang.deploy import datadir
from qinglang.engine.verdict import Action, Reason
from qinglang.policy import youthgate
from qinglang.policy.config import load_config, shipped_lists
from qinglang.policy.domains import load_domains
from qinglang.policy.urlrules import RequestInfo, RequestRules

DOMAINS = shipped_lists() / "domains"

# Monday 2025-03-10 and Saturday 2025-03-15 (neither a holiday), local wall-clock time.
# The fresh config names no time zone, so the proxy's local time applies.
MONDAY_EVENING = datetime(2025, 3, 10, 20, 30).astimezone()
SATURDAY_IN_WINDOW = datetime(2025, 3, 15, 20, 30).astimezone()
SATURDAY_AFTERNOON = datetime(2025, 3, 15, 15, 0).astimezone()

GAME_HOSTS = [
    "store.steampowered.com",
    "login.steampowered.com",
    "cm1-hkg1.steamserver.net",
    "launcher-public-service-prod06.ol.epicgames.com",
    "www.roblox.com",
    "pvp.qq.com",
    "lol.qq.com",
    "www.wegame.com.cn",
    "yys.163.com",
    "ys.mihoyo.com",
    "www.4399.com",
    "www.taptap.cn",
    "account.battle.net",
]


def _fresh_child(tmp_path: Path) -> RequestRules:
    d = datadir.resolve(str(tmp_path / "home"))
    assert datadir.ensure(d)
    cfg = load_config(d.config)
    return youthgate.build(cfg).for_profile("child")


def _check(rules: RequestRules, host: str, now: datetime) -> tuple[Action, str | None]:
    d = rules.check(RequestInfo("GET", host, "/"), now)
    return d.action, d.category


def test_shipped_domain_lists_load_cleanly() -> None:
    lists = load_domains([shipped_lists()])
    assert lists.warnings == []
    counts = lists.counts()
    for category in ("games", "porn", "gambling"):
        assert counts[category][0] >= 30, category
    # Every file says where its entries come from.
    assert (DOMAINS / "README.md").is_file()


@pytest.mark.parametrize("host", GAME_HOSTS)
def test_fresh_install_games_outside_window(tmp_path: Path, host: str) -> None:
    child = _fresh_child(tmp_path)
    for moment in (MONDAY_EVENING, SATURDAY_AFTERNOON):
        action, category = _check(child, host, moment)
        assert (action, category) == (Action.TIMEUP, "games"), (host, moment)
    assert _check(child, host, SATURDAY_IN_WINDOW)[0] == Action.ALLOW


@pytest.mark.parametrize(
    "host", ["www.pornhub.com", "xhamster.com", "anything.xxx", "www.bet365.com", "stake.com"]
)
def test_fresh_install_blocks_porn_and_gambling_sites(tmp_path: Path, host: str) -> None:
    child = _fresh_child(tmp_path)
    d = child.check(RequestInfo("GET", host, "/"), SATURDAY_IN_WINDOW)
    assert (d.action, d.reason) == (Action.BLOCK, Reason.CATEGORY)


@pytest.mark.parametrize(
    "host", ["www.qq.com", "mail.163.com", "www.bilibili.com", "www.baidu.com", "github.com"]
)
def test_fresh_install_leaves_shared_parents_open(tmp_path: Path, host: str) -> None:
    child = _fresh_child(tmp_path)
    assert _check(child, host, MONDAY_EVENING)[0] == Action.ALLOW


def test_parent_profile_untouched(tmp_path: Path) -> None:
    d = datadir.resolve(str(tmp_path / "home"))
    datadir.ensure(d)
    parent = youthgate.build(load_config(d.config)).for_profile("parent")
    assert parent.check(RequestInfo("GET", "pvp.qq.com", "/"), MONDAY_EVENING).action == (
        Action.ALLOW
    )
