"""Safe search: which hosts are search engines, what was searched, and forcing each
engine's own safe-search switch on a request before it goes upstream.

A proxy sees the whole request, so it can use the switch each engine documents
(a URL parameter, a cookie, a header) instead of DNS-level host rewrites. Engines
with no switch (several mainland ones) are still recognised so their queries can be
checked by the keyword engine (see urlrules), or blocked per profile.

Where each mechanism comes from is in the manual (docs/youth-mode.md, "Search engines").
The rewrite functions take a ``mitmproxy.http.Request`` but need nothing else from
mitmproxy, so this module imports it only for type checking.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING
from urllib.parse import unquote_to_bytes, urlsplit

from qinglang.content import searchtext
from qinglang.engine.normalize import BOUNDARY
from qinglang.policy.hosts import request_host

if TYPE_CHECKING:  # pragma: no cover
    from mitmproxy.http import Request

# RFC 8674: the "safe" preference. Bing documents honouring it; it is a hint to any site.
PREFER_SAFE = "safe"
YOUTUBE_RESTRICT = "YouTube-Restrict"


@dataclass(frozen=True, slots=True)
class SearchEngine:
    name: str  # the name profiles use (block_search_engines)
    label: str  # for people
    host_re: re.Pattern[str]
    params: tuple[str, ...]  # query parameters that carry the search text, in order
    # Paths (prefixes) where ``params`` are a search; None: any path on the host.
    search_paths: tuple[str, ...] | None = None
    # A path prefix after which the search text is the next path segment (/search/<text>).
    path_query: str | None = None
    mechanism: str = "none: queries are checked by the keyword engine"
    rewrite: Callable[[Request], bool] | None = None

    @property
    def has_switch(self) -> bool:
        return self.rewrite is not None

    def matches(self, host: str) -> bool:
        return self.host_re.match(host) is not None


@dataclass(frozen=True, slots=True)
class SearchQuery:
    engine: str
    text: str
    param: str  # where it was found: a parameter name or "path"


@dataclass(frozen=True, slots=True)
class Enforced:
    """What ``enforce`` did to a request."""

    engine: str | None  # None: not a known search engine
    changed: bool = False
    has_switch: bool = False  # False: the engine has no switch; rely on keyword checks


def _hosts(pattern: str) -> re.Pattern[str]:
    return re.compile(rf"^(?:{pattern})$", re.IGNORECASE)


def _set_param(req: Request, name: str, value: str) -> bool:
    """Make ``name=value`` the only value of the parameter; True if that changed anything."""
    current = req.query.get_all(name)
    if current == [value]:
        return False
    req.query[name] = value
    return True


def _path_only(req: Request) -> str:
    return req.path.split("?", 1)[0]


def _prefer_safe(req: Request) -> bool:
    prefer = req.headers.get("Prefer", "")
    tokens = [t.strip().split("=", 1)[0].strip().lower() for t in prefer.split(",") if t.strip()]
    if PREFER_SAFE in tokens:
        return False
    req.headers["Prefer"] = f"{prefer}, {PREFER_SAFE}" if prefer.strip() else PREFER_SAFE
    return True


_GOOGLE_PATHS = ("/search", "/webhp", "/imghp", "/images", "/complete/search")


def _google(req: Request) -> bool:
    # Google documents safe=active (the Programmable Search `safe` enum; Chrome's
    # ForceGoogleSafeSearch policy appends the same parameter). A SafeSearch page
    # is a search path or the home page with a query.
    path = _path_only(req)
    if path not in ("/", *_GOOGLE_PATHS) and not path.startswith("/complete/"):
        return False
    if path == "/" and "q" not in req.query:
        return False
    return _set_param(req, "safe", "active")


def _youtube(req: Request) -> bool:
    # Google's "Restrict YouTube content on your network": the YouTube-Restrict
    # header (Strict or Moderate) on requests to the YouTube hosts.
    if req.headers.get(YOUTUBE_RESTRICT) == "Strict":
        return False
    req.headers[YOUTUBE_RESTRICT] = "Strict"
    return True


_BING_SEARCH = re.compile(r"^/(?:search|images/search|videos/search|news/search|images/async)")


def _bing(req: Request) -> bool:
    # Bing: the adlt=strict parameter (Microsoft's 2009 note to filter vendors) on
    # searches, and the preference cookie SRCHHPGUSR with ADLT=STRICT, where Bing keeps
    # the SafeSearch setting, on every Bing request so pages that read the cookie agree.
    changed = False
    if _BING_SEARCH.match(_path_only(req)):
        changed |= _set_param(req, "adlt", "strict")
    raw = req.cookies.get("SRCHHPGUSR")
    if raw is None:
        req.cookies["SRCHHPGUSR"] = "ADLT=STRICT"
        return True
    parts = [p for p in raw.split("&") if p]
    out = [p for p in parts if p.split("=", 1)[0].upper() != "ADLT"] + ["ADLT=STRICT"]
    if out != parts:
        req.cookies["SRCHHPGUSR"] = "&".join(out)
        changed = True
    return changed


_DDG_PATHS = ("/", "/html", "/html/", "/lite", "/lite/", "/d.js", "/i.js", "/v.js", "/news.js")


def _duckduckgo(req: Request) -> bool:
    # DuckDuckGo's help page on URL parameters: kp=1 is strict safe search.
    if "q" not in req.query and _path_only(req) not in _DDG_PATHS:
        return False
    return _set_param(req, "kp", "1")


def _yahoo(req: Request) -> bool:
    # Yahoo keeps no public parameter list; vm=r is the strict setting its search
    # result links carry and that filtering products use.
    return _set_param(req, "vm", "r")


def _yandex(req: Request) -> bool:
    # Yandex's family search ("семейный поиск"): family=yes on the search URL; some
    # filters also send fyandex=1, harmless where ignored.
    path = _path_only(req)
    if not (path.startswith("/search") or "/search" in path):
        return False
    changed = _set_param(req, "family", "yes")
    return _set_param(req, "fyandex", "1") or changed


_GOOGLE_TLD = r"google\.(?:com|[a-z]{2}|com?\.[a-z]{2})"

ENGINES: dict[str, SearchEngine] = {
    e.name: e
    for e in (
        SearchEngine(
            "google",
            "Google",
            _hosts(rf"(?:www\.)?{_GOOGLE_TLD}"),
            ("q",),
            ("/search", "/complete/search", "/webhp", "/images"),
            mechanism="`safe=active` URL parameter on search requests",
            rewrite=_google,
        ),
        SearchEngine(
            "youtube",
            "YouTube",
            _hosts(
                r"(?:www\.|m\.)?youtube\.com|youtubei\.googleapis\.com"
                r"|youtube\.googleapis\.com|www\.youtube-nocookie\.com"
            ),
            ("search_query", "q"),
            ("/results", "/complete/search"),
            mechanism="`YouTube-Restrict: Strict` request header on every YouTube request",
            rewrite=_youtube,
        ),
        SearchEngine(
            "bing",
            "Bing (必应)",
            _hosts(r"(?:[a-z0-9-]+\.)?bing\.com"),
            ("q",),
            ("/search", "/images/search", "/videos/search", "/news/search", "/AS/Suggestions"),
            mechanism="`adlt=strict` URL parameter on searches and `ADLT=STRICT` in the "
            "`SRCHHPGUSR` preference cookie on every Bing request",
            rewrite=_bing,
        ),
        SearchEngine(
            "duckduckgo",
            "DuckDuckGo",
            _hosts(r"(?:[a-z0-9-]+\.)?duckduckgo\.com"),
            ("q",),
            None,
            mechanism="`kp=1` URL parameter (strict)",
            rewrite=_duckduckgo,
        ),
        SearchEngine(
            "yahoo",
            "Yahoo",
            _hosts(r"(?:[a-z0-9-]+\.)*search\.yahoo\.com"),
            ("p",),
            None,
            mechanism="`vm=r` URL parameter (strict)",
            rewrite=_yahoo,
        ),
        SearchEngine(
            "yandex",
            "Yandex",
            _hosts(r"(?:www\.)?(?:yandex\.(?:ru|com|com\.tr|by|kz|uz|ua)|ya\.ru)"),
            ("text",),
            None,
            mechanism="`family=yes` (and `fyandex=1`) URL parameters on searches",
            rewrite=_yandex,
        ),
        SearchEngine(
            "baidu",
            "Baidu (百度)",
            _hosts(r"(?:www\.|m\.|image\.|suggestion\.)?baidu\.com"),
            ("wd", "word", "kw"),
        ),
        SearchEngine(
            "sogou",
            "Sogou (搜狗)",
            _hosts(r"(?:www\.|m\.|wap\.|weixin\.)?sogou\.com"),
            ("query", "keyword"),
        ),
        SearchEngine("so360", "360 Search (360搜索)", _hosts(r"(?:www\.|m\.)?so\.com"), ("q",)),
        SearchEngine("shenma", "Shenma (神马)", _hosts(r"(?:[a-z0-9-]+\.)*sm\.cn"), ("q",)),
        SearchEngine(
            "toutiao", "Toutiao search (头条搜索)", _hosts(r"so\.toutiao\.com"), ("keyword",)
        ),
        SearchEngine(
            "bilibili",
            "Bilibili (哔哩哔哩)",
            _hosts(r"(?:search|api|m)\.bilibili\.com"),
            ("keyword",),
            ("/", "/all", "/video", "/x/web-interface/search", "/x/web-interface/wbi/search"),
        ),
        SearchEngine(
            "douyin",
            "Douyin (抖音)",
            _hosts(r"(?:www\.)?douyin\.com"),
            ("keyword",),
            ("/aweme/v1/web/search", "/aweme/v1/web/general/search", "/search"),
            path_query="/search/",
        ),
        SearchEngine(
            "kuaishou",
            "Kuaishou (快手)",
            _hosts(r"(?:www\.)?kuaishou\.com"),
            ("searchKey", "keyword"),
            ("/search", "/graphql"),  # the web app searches by POST to /graphql
        ),
        SearchEngine("weibo", "Weibo search (微博搜索)", _hosts(r"s\.weibo\.com"), ("q",)),
        SearchEngine(
            "zhihu",
            "Zhihu search (知乎搜索)",
            _hosts(r"(?:www\.)?zhihu\.com"),
            ("q",),
            ("/search", "/api/v4/search_v3"),
        ),
        SearchEngine(
            "xiaohongshu",
            "Xiaohongshu (小红书)",
            _hosts(r"(?:www\.|edith\.)?xiaohongshu\.com"),
            ("keyword",),
            ("/search_result", "/api/sns/web/v1/search"),
        ),
    )
}


@lru_cache(maxsize=8192)
def engine_for(host: str) -> SearchEngine | None:
    h = host.rstrip(".").lower()
    for engine in ENGINES.values():
        if engine.matches(h):
            return engine
    return None


def search_query(
    host: str, path: str, body: bytes = b"", content_type: str | None = None
) -> SearchQuery | None:
    """The search text of a request to a known engine (``path`` includes the query
    string; ``body`` is a POST's), or None. Empty searches are None.

    Read as the engine reads it (``content.searchtext``): every value of every search
    parameter, in the charset the request names and in GBK when the bytes are not UTF-8,
    and the parameters of a form or JSON body; the readings are joined by block
    separators, so a term never spans two of them."""
    engine = engine_for(host)
    if engine is None:
        return None
    parts = urlsplit(path)
    route = parts.path or "/"
    raw_query = parts.query.encode("utf-8", "surrogateescape")
    charsets = searchtext.declared(searchtext.fields(raw_query))
    texts: list[str] = []
    where: str | None = None
    if engine.path_query and route.startswith(engine.path_query):
        seg = route[len(engine.path_query) :].split("/", 1)[0]
        texts = searchtext.readings(unquote_to_bytes(seg.encode("utf-8", "surrogateescape")))
        where = "path" if texts else None
    if engine.search_paths is None or route.startswith(engine.search_paths):
        first, found = searchtext.query_values(raw_query, engine.params)
        where, texts = where or first, texts + found
        first, found = searchtext.body_values(body, content_type, engine.params, charsets)
        where, texts = where or first, texts + found
    if where is None or not texts:
        return None
    return SearchQuery(engine.name, BOUNDARY.join(dict.fromkeys(texts)), where)


def enforce(req: Request) -> Enforced:
    """Force the engine's safe-search switch on ``req`` (in place) and add RFC 8674's
    ``Prefer: safe``. Requests to other hosts are left alone."""
    engine = engine_for(request_host(req))
    if engine is None:
        return Enforced(None)
    if engine.rewrite is None:
        return Enforced(engine.name, False, False)
    changed = engine.rewrite(req)
    changed = _prefer_safe(req) or changed
    return Enforced(engine.name, changed, True)
