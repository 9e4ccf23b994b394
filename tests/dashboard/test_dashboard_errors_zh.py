"""Issue 23, item 7: a config error a parent meets on the dashboard is in Chinese on a
Chinese page (its place in the file as it is), and exactly the English as before on an
English one. Invalid forms go through the real app to the real config file."""

from __future__ import annotations

import html
import re
from collections.abc import Callable

import pytest
from test_config_errors_zh import english_left

from .conftest import Home, TestClient, csrf_of

PROFILE = {"filter": "on", "mask": "on", "block_threshold": "100", "pii": "mask"}

# (what is posted, where, the English the en page shows after the place, as before)
CASES: list[tuple[str, dict[str, str], str, str]] = [
    ("/profiles/child", {"curfew": "25:00-06:00"}, "profiles.child.curfew.daily[0]",
     "not a time window 'HH:MM-HH:MM' (24-hour clock): '25:00-06:00'"),
    ("/profiles/child", {"block_threshold": "0"}, "profiles.child.block_threshold",
     "Input should be greater than or equal to 1"),
    ("/profiles/child", {"pii": "maybe"}, "profiles.child.pii",
     "Input should be 'mask' or 'off'"),
    ("/profiles/child", {"daily_minutes": "{weekdays: lots}"},
     "profiles.child.daily_minutes.weekdays",
     "not a number of minutes (0 to 1440) or `unlimited`: 'lots'"),
    ("/profiles/child", {"deny_domains": "http://games.example/x"},
     "profiles.child.deny_domains[0]",
     "not a domain name: 'http://games.example/x' (write example.com; it covers subdomains)"),
    ("/profiles/child", {"daily_minutes": "{weekdays: 60, sometimes: 5}"},
     "profiles.child.daily_minutes.sometimes", "unknown key `sometimes`"),
    ("/profiles/child", {"categories": "Gambling!"}, "profiles.child.categories[0]",
     "String should match pattern '^[a-z0-9_-]+$'"),
    ("/profiles/child", {"block_threshold": "zero"}, "", "not a whole number: 'zero'"),
    ("/profiles/child", {"curfew": "[22:00-06:00"}, "", "not a valid value: '[22:00-06:00'"),
    ("/profiles", {"name": "my kid"}, "", "a profile name is 1-40 letters, digits, - or _"),
    ("/profiles", {"name": "child"}, "", "there is already a profile 'child'"),
    ("/clients", {"count": "0", "kind0": "match", "value0": "not-an-ip", "profile0": "child"},
     "clients[0].match", "not an IP address or CIDR: 'not-an-ip'"),
    ("/clients", {"count": "0", "kind0": "user", "value0": "sam", "profile0": "nobody"},
     "", "client rule names unknown profile 'nobody'"),
]  # fmt: skip


def _post(c: TestClient, url: str, extra: dict[str, str]) -> str:
    page = c.get(url).text
    digest = re.search(r'name="digest" value="([^"]+)"', page)
    assert digest
    data = {"csrf": csrf_of(page), "digest": digest.group(1)}
    if url.startswith("/profiles/"):
        data.update(PROFILE)
    r = c.post(url, data={**data, **extra})
    assert r.status_code == 400, r.text[:300]
    m = re.search(r'<p class="error" role="alert" id="error">(.*?)</p>', r.text, re.S)
    assert m, r.text[:500]
    return html.unescape(m.group(1))


def _reason(shown: str, title: str) -> str:
    """What follows the heading, the file's place and the setting's location."""
    text = shown.removeprefix(title + ": ")
    return re.sub(r"^\S*qinglang\.yaml:\d+: (?:[\w.\[\]]+: )?", "", text)


@pytest.mark.parametrize(("url", "extra", "where", "english"), CASES)
def test_a_rejected_edit_is_said_in_the_page_language(
    make_client: Callable[..., TestClient],
    home: Home,
    url: str,
    extra: dict[str, str],
    where: str,
    english: str,
) -> None:
    before = home.config.read_text(encoding="utf-8")
    en = _post(make_client(lang="en"), url, extra)
    zh = _post(make_client(lang="zh-CN,zh;q=0.9"), url, extra)
    assert home.config.read_text(encoding="utf-8") == before  # nothing was written
    # English: as before, word for word, after its place.
    assert en.startswith("Not saved: ") and en.endswith(english), en
    if where:
        assert f"{home.config}:" in en and f"{where}: {english}" in en
    # Chinese: the same place, the reason in Chinese, no English sentence left.
    assert zh.startswith("无法保存: ") and english not in zh, zh
    if where:
        assert f"{home.config}:" in zh and f": {where}: " in zh
    reason = _reason(zh, "无法保存")
    assert re.search(r"[\u4e00-\u9fff]", reason), zh
    assert english_left(reason) is None, zh


def test_a_broken_config_file_is_said_in_chinese(
    make_client: Callable[..., TestClient], home: Home
) -> None:
    home.config.write_text(
        home.config.read_text(encoding="utf-8").replace("daily_minutes: 60", "daily_mins: 60"),
        encoding="utf-8",
    )
    pages = {}
    for lang in ("en", "zh"):
        r = make_client(lang=lang).get("/profiles/child")
        m = re.search(r'role="alert"><strong>.*?</strong> <span>(.*?)</span>', r.text)
        assert m, r.text[:500]
        pages[lang] = html.unescape(m.group(1))
    assert pages["en"] == f"{home.config}:6: profiles.child.daily_mins: unknown key `daily_mins`"
    assert pages["zh"] == f"{home.config}:6: profiles.child.daily_mins: 未知的键 `daily_mins`"


def test_an_edit_over_a_changed_file_is_said_in_chinese(
    make_client: Callable[..., TestClient], home: Home
) -> None:
    c = make_client(lang="zh")
    page = c.get("/profiles/child").text
    digest = re.search(r'name="digest" value="([^"]+)"', page)
    assert digest
    home.config.write_text(home.config.read_text(encoding="utf-8") + "# edited by hand\n")
    r = c.post(
        "/profiles/child",
        data={"csrf": csrf_of(page), "digest": digest.group(1), **PROFILE},
    )
    assert r.status_code == 400 and "请刷新页面后重新编辑" in r.text
    assert "changed meanwhile" not in r.text
