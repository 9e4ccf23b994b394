"""Safe search through a real mitmdump: each engine's own switch, checked on the request as
it reaches the (stand-in) engine upstream."""

from __future__ import annotations

from collections.abc import Iterator
from http.cookies import SimpleCookie

import pytest

from .youth_support import PAGE, World, youth_world

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(180)]

CHILD, ADULT, OPTED_OUT = "127.0.0.1", "127.0.0.2", "127.0.0.3"

CONFIG = """
    lists: [lists]
    profiles:
      child: {}
      adult: {filter: false}
      opted_out: {safe_search: false}
    clients:
      - {match: 127.0.0.2, profile: adult}
      - {match: 127.0.0.3, profile: opted_out}
    default_profile: child
    events: {db: events.sqlite}
"""


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    with youth_world(tmp_path_factory.mktemp("youth-safesearch"), CONFIG) as w:
        yield w


def fetch(world: World, source: str, url: str, headers: dict[str, str] | None = None):  # type: ignore[no-untyped-def]
    """GET ``url`` through the proxy; the request as the upstream received it."""
    host, _, rest = url.removeprefix("https://").partition("/")
    with world.proxy.client(source) as c:
        assert c.get(url, headers={**PAGE, **(headers or {})}).status_code == 200
    return world.upstream.last(host, "/" + rest.split("?")[0])


def test_google_gets_safe_active(world: World) -> None:
    seen = fetch(world, CHILD, "https://www.google.com/search?q=cats&safe=off")
    assert seen.query["safe"] == ["active"] and seen.query["q"] == ["cats"]
    assert seen.headers["prefer"] == "safe"
    seen = fetch(world, CHILD, "https://www.google.com.hk/search?q=cats")
    assert seen.query["safe"] == ["active"]
    home = fetch(world, CHILD, "https://www.google.com/")  # not a search: left alone
    assert "safe" not in home.query


def test_bing_gets_adlt_strict_and_the_preference_cookie(world: World) -> None:
    seen = fetch(world, CHILD, "https://www.bing.com/search?q=cats&adlt=off")
    assert seen.query["adlt"] == ["strict"]
    assert SimpleCookie(seen.headers["cookie"])["SRCHHPGUSR"].value == "ADLT=STRICT"
    # The user's own preferences stay; only the SafeSearch setting is forced.
    seen = fetch(
        world,
        CHILD,
        "https://cn.bing.com/search?q=cats",
        {"Cookie": "SRCHHPGUSR=SRCHLANG=zh-Hans&ADLT=OFF; MUID=1"},
    )
    cookie = SimpleCookie(seen.headers["cookie"])
    assert cookie["SRCHHPGUSR"].value == "SRCHLANG=zh-Hans&ADLT=STRICT"
    assert cookie["MUID"].value == "1"
    assert seen.query["adlt"] == ["strict"] and seen.headers["prefer"] == "safe"


def test_duckduckgo_gets_kp_1(world: World) -> None:
    seen = fetch(world, CHILD, "https://duckduckgo.com/?q=cats&kp=-2")
    assert seen.query["kp"] == ["1"]
    seen = fetch(world, CHILD, "https://html.duckduckgo.com/html/?q=cats")
    assert seen.query["kp"] == ["1"]


def test_youtube_gets_the_restrict_header_on_every_request(world: World) -> None:
    for url in (
        "https://www.youtube.com/results?search_query=cats",
        "https://m.youtube.com/watch?v=abc",
        "https://youtubei.googleapis.com/youtubei/v1/search",
    ):
        seen = fetch(world, CHILD, url, {"YouTube-Restrict": "Moderate"})
        assert seen.headers["youtube-restrict"] == "Strict", url


def test_yahoo_and_yandex_get_their_strict_parameters(world: World) -> None:
    assert fetch(world, CHILD, "https://search.yahoo.com/search?p=cats").query["vm"] == ["r"]
    seen = fetch(world, CHILD, "https://yandex.ru/search/?text=cats")
    assert seen.query["family"] == ["yes"]


def test_profiles_without_safe_search_are_left_alone(world: World) -> None:
    for source in (ADULT, OPTED_OUT):
        seen = fetch(world, source, "https://www.google.com/search?q=cats&safe=off")
        assert seen.query["safe"] == ["off"] and "prefer" not in seen.headers
        seen = fetch(world, source, "https://www.youtube.com/results?search_query=cats")
        assert "youtube-restrict" not in seen.headers
