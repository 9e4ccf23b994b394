"""Searches read as the engine reads them, through a real mitmdump.

The test lists (e2e/conftest.py) hold 网络赌场 (gambling). A child who types it into Baidu
has it sent as GBK (``ie=gbk``, the charset older Baidu forms use), repeats the
parameter so a checker reading one value sees ``cats``, or searches DuckDuckGo's HTML
version, which sends the query in a POST body. Each must be refused before it reaches
the engine (the recording upstream), and a harmless search in the same form must pass.
"""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import quote, quote_from_bytes

import pytest
from e2e.youth_support import World, events, eventually, youth_world

from .rawhttp import get, post

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(180)]

CHILD, ADULT = "127.0.0.1", "127.0.0.2"
HARM = "网络赌场"
HARMLESS = "天气预报"

CONFIG = """
    lists: [lists]
    profiles:
      child: {}
      adult:
        filter: false
    clients:
      - {match: 127.0.0.2, profile: adult}
    default_profile: child
    events: {db: events.sqlite}
"""


def gbk(text: str) -> str:
    return quote_from_bytes(text.encode("gbk"))


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    with youth_world(tmp_path_factory.mktemp("searches"), CONFIG) as w:
        yield w


def reached(world: World, host: str, needle: str) -> bool:
    return any(s.host == host and needle in s.path for s in world.upstream.seen)


@pytest.mark.parametrize(
    "query",
    [
        "ie=gbk&wd={gbk}",  # GBK, charset named
        "wd={gbk}",  # GBK, no charset: not UTF-8, so read as GBK as Baidu does
        "wd={gbk}&ie=gb2312",
        "oe=gbk&word={gbk}",
        "wd=cats&wd={utf8}",  # a repeated parameter: every value counts
        "wd={utf8}&wd=cats",
        "wd={twice}",  # percent-encoded twice
    ],
)
def test_harmful_baidu_search_in_every_encoding_is_refused(world: World, query: str) -> None:
    q = query.format(gbk=gbk(HARM), utf8=quote(HARM), twice=quote(quote(HARM)))
    status, _ = get(world.proxy, CHILD, "www.baidu.com", f"/s?{q}")
    assert status == 403, q
    assert not reached(world, "www.baidu.com", q)


def test_the_refusal_is_recorded_without_the_search(world: World) -> None:
    q = f"ie=gbk&wd={gbk(HARM)}&marker=1"
    assert get(world.proxy, CHILD, "www.baidu.com", f"/s?{q}")[0] == 403
    rows = eventually(
        lambda: [e for e in events(world.proxy, host="www.baidu.com")
                 if e["reason"] == "search keywords"],
        "a search keywords event",
    )  # fmt: skip
    assert all(HARM not in (e["path"] or "") and "wd=" not in (e["path"] or "") for e in rows)


@pytest.mark.parametrize("query", ["ie=gbk&wd={gbk}", "wd={gbk}", "wd=cats&wd={utf8}"])
def test_harmless_searches_in_the_same_forms_pass(world: World, query: str) -> None:
    q = query.format(gbk=gbk(HARMLESS), utf8=quote(HARMLESS))
    status, _ = get(world.proxy, CHILD, "www.baidu.com", f"/s?{q}")
    assert status == 200
    assert reached(world, "www.baidu.com", q)


def test_post_search_is_read_from_the_body(world: World) -> None:
    form = "application/x-www-form-urlencoded"
    status, _ = post(world.proxy, CHILD, "html.duckduckgo.com", "/html/",
                     f"q={quote(HARM)}&b=".encode(), form)  # fmt: skip
    assert status == 403
    status, _ = post(world.proxy, CHILD, "html.duckduckgo.com", "/html/",
                     f"q={quote(HARMLESS)}&b=".encode(), form)  # fmt: skip
    assert status == 200


def test_json_search_is_read_from_the_body(world: World) -> None:
    body = ('{"operationName":"visionSearchPhoto","variables":{"keyword":"'
            + HARM.encode("unicode_escape").decode() + '","page":"search"}}').encode()  # fmt: skip
    status, _ = post(world.proxy, CHILD, "www.kuaishou.com", "/graphql", body, "application/json")
    assert status == 403


def test_a_profile_that_does_not_filter_searches_freely(world: World) -> None:
    q = f"ie=gbk&wd={gbk(HARM)}"
    assert get(world.proxy, ADULT, "www.baidu.com", f"/s?{q}")[0] == 200
