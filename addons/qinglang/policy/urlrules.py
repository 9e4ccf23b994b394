"""Request rules: may this request go upstream for this profile, and if not, why.

Everything here is decided from the request line and headers, before any upstream
contact: bypass resistance (DNS-over-HTTPS, proxies/VPNs, bare IP addresses), the
profile's allow/deny domains and URL patterns, search engines blocked outright,
payments, the category domain lists, time rules, and keyword checks of search
queries and URLs through the same engine that scans pages.

URL patterns (``deny_urls``) are written ``host/path`` with ``*`` as the only
wildcard (any run of characters); everything else is literal, case does not matter
and a scheme (``https://``) is ignored:

- ``example.com`` or ``*.example.com``: the domain and every name under it;
- ``example.com/games``: that path and everything below it (``/games``,
  ``/games/2``, ``/games?id=1``), not ``/gamesx``;
- ``example.com/pay*``: any path starting ``/pay``; ``*`` may stand anywhere,
  ``*.example.com/*/recharge`` included;
- ``youtube.com/watch?v=abc``: the query string is part of the path.

Paths are compared in every form a server may resolve them to (``urlpath``): as sent,
percent-decoded (``/搜索`` matches ``/%E6%90%9C%E7%B4%A2``), normalised per RFC 3986
(``/a/../games``, ``//games``, ``/%67ames`` and ``/%2e%2e/games`` are ``/games``), with
backslashes as slashes and ``;params`` cut.
"""

from __future__ import annotations

import contextlib
import ipaddress
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal, Protocol
from urllib.parse import unquote_to_bytes

from qinglang.content import searchtext
from qinglang.engine.bilingual import Bilingual
from qinglang.engine.normalize import BOUNDARY
from qinglang.engine.verdict import ALLOW, Action, Decision, Reason
from qinglang.policy import timerules
from qinglang.policy.hosts import canonical, parse_ip, request_host
from qinglang.policy.quota import Activity, classify
from qinglang.policy.safesearch import engine_for, search_query
from qinglang.policy.timerules import QuotaState
from qinglang.policy.urlpath import normalize_escapes, server_views

if TYPE_CHECKING:  # pragma: no cover
    from qinglang.policy.presets import EffectiveRules

# Category names in the domain lists that these rules treat specially.
CAT_PAYMENTS = "payments"
CAT_DOH = "doh"
CAT_PROXIES_VPN = "proxies_vpn"


def _suffixes(host: str) -> Iterable[str]:
    yield host
    # An address covers nothing but itself (``0.0.1`` is no parent of ``127.0.0.1``).
    if ":" in host or (host[-1:].isdigit() and parse_ip(host) is not None):
        return
    i = host.find(".")
    while i >= 0:
        yield host[i + 1 :]
        i = host.find(".", i + 1)


def normalize_domain(text: str) -> str:
    """A listed domain as written (``example.com``, ``.example.com``, ``*.example.com``)
    -> its canonical form. ValueError for anything else (URLs, spaces, empty)."""
    s = text.strip() if isinstance(text, str) else ""
    for prefix in ("*.", "."):
        if s.startswith(prefix):
            s = s[len(prefix) :]
            break
    if not s or "/" in s or any(c.isspace() for c in s) or "*" in s or ":" in s:
        raise Bilingual(
            f"not a domain name: {text!r} (write example.com; it covers subdomains)",
            f"不是域名：{text!r}（写成 example.com，子域名也包括在内）",
        )
    host = canonical(s)
    if host is None or not re.match(r"^[a-z0-9_]([a-z0-9_.-]*[a-z0-9_])?$", host):
        raise Bilingual(f"not a domain name: {text!r}", f"不是域名：{text!r}")
    return host


class DomainSet:
    """Domains that each cover their subdomains. ``match`` gives the most specific
    listed name that covers a host."""

    __slots__ = ("names",)

    def __init__(self, names: Iterable[str] = ()) -> None:
        self.names = frozenset(normalize_domain(n) for n in names)

    def __bool__(self) -> bool:
        return bool(self.names)

    def __len__(self) -> int:
        return len(self.names)

    def match(self, host: str) -> str | None:
        if not self.names:
            return None
        for suffix in _suffixes(host):
            if suffix in self.names:
                return suffix
        return None


@dataclass(frozen=True, slots=True)
class UrlPattern:
    text: str
    host_re: re.Pattern[str]
    path_re: re.Pattern[str] | None  # None: any path

    def matches(self, host: str, path: str) -> bool:
        return self.host_re.match(host) is not None and self.matches_path(server_views(path))

    def matches_path(self, views: Iterable[str]) -> bool:
        """Whether the path matches in any of its ``urlpath.server_views``."""
        path_re = self.path_re
        return path_re is None or any(path_re.match(v) for v in views)


_SCHEME_RE = re.compile(r"^[a-z][a-z0-9+.-]*://", re.IGNORECASE)


def _glob(text: str) -> str:
    return ".*".join(re.escape(part) for part in text.split("*"))


def compile_url_pattern(text: str) -> UrlPattern:
    """Compile one ``deny_urls`` entry (syntax in the module doc). ValueError if bad."""
    s = _SCHEME_RE.sub("", text.strip()) if isinstance(text, str) else ""
    if not s or any(c.isspace() for c in s):
        raise Bilingual(
            f"not a URL pattern 'host/path': {text!r}", f"不是网址规则 '主机/路径'：{text!r}"
        )
    host, slash, rest = s.partition("/")
    host = host.lower().rstrip(".")
    if host.startswith("*."):
        host = host[2:]
    if "*" not in host:
        # Compared with canonical hosts: an address in any notation as its dotted quad.
        host = canonical(host) or host
    if not host or not re.match(r"^[\w*.-]+$", host) or host.strip("*.") == "":
        raise Bilingual(
            f"not a URL pattern 'host/path' (the host is missing): {text!r}",
            f"不是网址规则 '主机/路径'（缺少主机）：{text!r}",
        )
    if not host.isascii():
        try:
            host = ".".join(
                p if p == "*" or p.isascii() else p.encode("idna").decode() for p in host.split(".")
            )
        except UnicodeError:
            raise Bilingual(
                f"not a URL pattern: bad host in {text!r}", f"网址规则里的主机无效：{text!r}"
            ) from None
    host_re = re.compile(rf"^(?:.*\.)?{_glob(host)}$")
    path_re = None
    if slash:
        # Spelled as requests are compared (urlpath): ``/%7Euser`` is ``/~user``.
        path = normalize_escapes("/" + rest)
        if path.endswith("*"):
            body = _glob(path) + "$"
        elif path.endswith("/"):
            body = _glob(path)
        else:
            body = _glob(path) + r"(?:$|[/?&#;])"
        path_re = re.compile(body, re.IGNORECASE)
    return UrlPattern(text, host_re, path_re)


# Well-known public DNS-over-HTTPS resolvers. The ``doh`` domain-list category adds
# more; DoH to hosts in neither is still caught by its shape (see is_doh_request).
DOH_HOSTS = DomainSet(
    [
        "dns.google",
        "dns.google.com",
        "cloudflare-dns.com",
        "one.one.one.one",
        "dns.quad9.net",
        "dns9.quad9.net",
        "dns10.quad9.net",
        "dns11.quad9.net",
        "doh.opendns.com",
        "doh.familyshield.opendns.com",
        "dns.adguard.com",
        "dns.adguard-dns.com",
        "dns.nextdns.io",
        "doh.cleanbrowsing.org",
        "doh.pub",
        "dns.pub",
        "dns.alidns.com",
        "doh.360.cn",
        "dns.twnic.tw",
        "doh.dns.sb",
        "dns.controld.com",
        "freedns.controld.com",
        "doh.mullvad.net",
        "dns.mullvad.net",
        "dns.switch.ch",
    ]
)
_DOH_TYPES = ("application/dns-message", "application/dns-json")

# Payment gateways that in-app top-ups, tips and purchases of the big platforms go
# through (Alipay, WeChat Pay/Tenpay, QQ and Midas, UnionPay, PayPal, Google and
# Apple stores' web purchase hosts, Steam checkout, Bilibili and NetEase wallets).
# The ``payments`` domain-list category adds more.
PAYMENT_DOMAINS = DomainSet(
    [
        "alipay.com",
        "tenpay.com",
        "pay.weixin.qq.com",
        "pay.qq.com",
        "unipay.qq.com",
        "95516.com",
        "unionpay.com",
        "paypal.com",
        "pay.google.com",
        "payments.google.com",
        "buy.itunes.apple.com",
        "checkout.steampowered.com",
        "pay.bilibili.com",
        "epay.163.com",
    ]
)

_PRIVATE_NETS = [
    ipaddress.ip_network(n)
    for n in (
        "10.0.0.0/8",
        "172.16.0.0/12",
        "192.168.0.0/16",
        "127.0.0.0/8",
        "169.254.0.0/16",
        "100.64.0.0/10",
        "::1/128",
        "fc00::/7",
        "fe80::/10",
    )
]


def _header(headers: Mapping[str, str], name: str) -> str:
    v = headers.get(name)
    if v is None:
        v = headers.get(name.lower())
    return v or ""


def is_doh_request(method: str, path: str, headers: Mapping[str, str]) -> bool:
    """RFC 8484 DNS-over-HTTPS by its shape: the ``application/dns-message`` media type
    (or Google's JSON variant) in Content-Type or Accept, or a GET to ``/dns-query``
    with a ``dns=`` parameter."""
    ctype = _header(headers, "Content-Type").lower()
    accept = _header(headers, "Accept").lower()
    if any(t in ctype or t in accept for t in _DOH_TYPES):
        return True
    route, _, query = path.partition("?")
    return route.rstrip("/").endswith("/dns-query") and (
        method.upper() == "POST" or "dns=" in query
    )


@dataclass(frozen=True, slots=True)
class RequestInfo:
    """What the rules look at. ``path`` includes the query string."""

    method: str
    host: str
    path: str = "/"
    headers: Mapping[str, str] = field(default_factory=dict)
    port: int = 443

    @classmethod
    def of(cls, request: Any) -> RequestInfo:
        """From a ``mitmproxy.http.Request``."""
        return cls(
            request.method, request_host(request), request.path, request.headers, request.port
        )


@dataclass(frozen=True, slots=True)
class KeywordTarget:
    kind: Literal["search", "url"]
    text: str
    engine: str | None = None


class Scanner(Protocol):
    """``Engine`` (engine.py) or anything with its ``scan``."""

    def scan(self, doc: str, kind: Any, profile: Any) -> Any: ...


_URL_SEPARATORS = re.compile(r"[/?&=+#;:,]+")
_MAX_URL_TEXT = 2048


def url_text(host: str, path: str) -> str:
    """A URL as words for the keyword engine: decoded as the server may read it (UTF-8,
    else GBK, see ``searchtext.readings``), separators as spaces."""
    raw = unquote_to_bytes(f"{host}{path}".replace("+", " ").encode("utf-8", "surrogateescape"))
    decoded = BOUNDARY.join(searchtext.readings(raw[: _MAX_URL_TEXT * 4])) or ""
    return _URL_SEPARATORS.sub(" ", decoded)[:_MAX_URL_TEXT].strip()


class RequestRules:
    """One profile's request rules, compiled once. Pure: give it the moment and the
    client's quota state; it never reads a clock or a database itself.

    ``categories_for(host)`` gives a host's categories from the domain lists
    (``domains.DomainLists.categories_for``); without it only the built-in DoH and
    payment lists and the profile's own lists apply."""

    def __init__(
        self,
        rules: EffectiveRules,
        categories_for: Callable[[str], Iterable[str]] | None = None,
    ) -> None:
        self.rules = rules
        self.categories_for = categories_for
        self._minute = -1
        self._host_patterns: dict[str, tuple[UrlPattern, ...]] = {}
        self._verdicts: dict[tuple[frozenset[str], QuotaState | None], Decision | None] = {}

    # -- the parts -------------------------------------------------------------------

    def _categories(self, host: str) -> frozenset[str]:
        cats: set[str] = set()
        if self.categories_for is not None:
            # A broken lookup must neither open nor close the whole network.
            with contextlib.suppress(Exception):
                cats.update(self.categories_for(host))
        for c, listed in self.rules.extra_categories.items():
            if listed.match(host):
                cats.add(c)
        return frozenset(cats)

    def _bypass(self, host: str, cats: frozenset[str], req: RequestInfo | None) -> Decision | None:
        b = self.rules.bypass
        if b.block_bare_ip:
            ip = parse_ip(host)
            if ip is not None and not any(ip in n for n in _PRIVATE_NETS + list(b.allow_ips)):
                return Decision(Action.BLOCK, Reason.BARE_IP, rule=str(ip))
        if b.block_doh:
            listed = DOH_HOSTS.match(host)
            if listed or CAT_DOH in cats:
                return Decision(Action.BLOCK, Reason.DOH, CAT_DOH, rule=listed or CAT_DOH)
            if req is not None and is_doh_request(req.method, req.path, req.headers):
                return Decision(Action.BLOCK, Reason.DOH, CAT_DOH, rule="request shape")
        if b.block_proxies_vpn and CAT_PROXIES_VPN in cats:
            return Decision(Action.BLOCK, Reason.PROXIES_VPN, CAT_PROXIES_VPN)
        return None

    def _patterns_for(self, host: str) -> tuple[UrlPattern, ...]:
        """The deny_urls patterns whose host part covers ``host`` (cached per host)."""
        found = self._host_patterns.get(host)
        if found is None:
            if len(self._host_patterns) > 10_000:
                self._host_patterns.clear()
            found = tuple(p for p in self.rules.deny_urls if p.host_re.match(host))
            self._host_patterns[host] = found
        return found

    def _lists(self, host: str, path: str, cats: frozenset[str]) -> Decision | None:
        r = self.rules
        patterns = self._patterns_for(host)
        if patterns:
            views = server_views(path)  # the path as every kind of server resolves it
            for pattern in patterns:
                if pattern.matches_path(views):
                    return Decision(Action.BLOCK, Reason.DENY_URL, rule=pattern.text)
        allowed, denied = r.allow_domains.match(host), r.deny_domains.match(host)
        # The more specific listing wins; a tie is a deny.
        if denied and (not allowed or len(denied) >= len(allowed)):
            return Decision(Action.BLOCK, Reason.DENY_DOMAIN, rule=denied)
        engine = engine_for(host)
        if engine is not None and engine.name in r.block_search_engines:
            return Decision(Action.BLOCK, Reason.SEARCH_ENGINE, rule=engine.name)
        if allowed:
            return Decision(Action.ALLOW, Reason.ALLOWED_DOMAIN, rule=allowed)
        if r.filter:
            for c in sorted(cats):
                if c in _SPECIAL or c in r.time.category_schedules:
                    continue
                if r.counts(c):
                    return Decision(Action.BLOCK, Reason.CATEGORY, c, rule=c)
        return None

    def _payments(self, host: str, cats: frozenset[str], now: datetime | None) -> Decision | None:
        p = self.rules.payments
        if p.mode == "allow":
            return None
        listed = PAYMENT_DOMAINS.match(host)
        if not listed and CAT_PAYMENTS not in cats:
            return None
        rule = listed or CAT_PAYMENTS
        if p.mode == "block" or p.plan is None:
            return Decision(Action.BLOCK, Reason.PAYMENTS, CAT_PAYMENTS, rule=rule)
        if now is None:
            return None
        t = self.rules.time
        if timerules.active_span(p.plan, t.calendar, t.tz, now) is not None:
            return None
        opens = timerules.plan_next_start(p.plan, t.calendar, t.tz, now)
        return Decision(Action.TIMEUP, Reason.PAYMENTS, CAT_PAYMENTS, rule=rule, returns_at=opens)

    def _time(
        self, cats: frozenset[str], now: datetime | None, quota: QuotaState | None
    ) -> Decision | None:
        if now is None or not self.rules.time.active:
            return None
        scheduled = frozenset(c for c in cats if c in self.rules.time.category_schedules)
        # Every time rule is minute-grained, so one answer serves a whole minute.
        minute = int(now.timestamp()) // 60
        if minute != self._minute:
            self._minute, self._verdicts = minute, {}
        key = (scheduled, quota)
        if key not in self._verdicts:
            v = timerules.check_time(self.rules.time, now, categories=scheduled, quota=quota)
            self._verdicts[key] = (
                None
                if v is None
                else Decision(Action.TIMEUP, v.reason, v.category, returns_at=v.returns_at)
            )
        return self._verdicts[key]

    # -- the checks the proxy calls -------------------------------------------------

    def check(
        self, req: RequestInfo, now: datetime | None, quota: QuotaState | None = None
    ) -> Decision:
        """Every rule but the keyword checks, in this order: always_allowed, bypass
        resistance, deny_urls, allow/deny domains, blocked search engines, category
        lists, payments, time rules (curfew, quota, category schedules).
        ``now=None`` skips the time rules."""
        host = canonical(req.host)
        if host is None:
            return ALLOW
        listed = self.rules.always_allowed.match(host)
        if listed:
            return Decision(Action.ALLOW, Reason.ALWAYS_ALLOWED, rule=listed)
        cats = self._categories(host)
        return (
            self._bypass(host, cats, req)
            or _unless_allowed(self._lists(host, req.path, cats))
            or self._payments(host, cats, now)
            or self._time(cats, now, quota)
            or ALLOW
        )

    def check_connect(
        self,
        host: str,
        port: int = 443,
        *,
        now: datetime | None = None,
        quota: QuotaState | None = None,
        intercepted: bool = True,
    ) -> Decision:
        """A CONNECT (or a TLS ClientHello's SNI): bypass resistance only, so blocked
        pages still get a readable block page after interception. For connections that
        are not intercepted (``passthrough_hosts``) the host-level rules and time
        rules are applied here, since no request will be seen."""
        h = canonical(host)
        if h is None:
            return ALLOW
        listed = self.rules.always_allowed.match(h)
        if listed:
            return Decision(Action.ALLOW, Reason.ALWAYS_ALLOWED, rule=listed)
        cats = self._categories(h)
        d = self._bypass(h, cats, None)
        if d is not None or intercepted:
            return d or ALLOW
        return (
            _unless_allowed(self._lists(h, "/", cats))
            or self._payments(h, cats, now)
            or self._time(cats, now, quota)
            or ALLOW
        )

    def keyword_targets(self, req: RequestInfo, body: bytes = b"") -> list[KeywordTarget]:
        """Texts to run through the keyword engine: the search text of a request to a
        known search engine (pages, suggestions and search APIs alike, ``body`` for those
        that search by POST), and the URL of page loads. Empty for profiles that do not
        filter."""
        if not self.rules.filter:
            return []
        host = canonical(req.host) or ""
        if self.rules.always_allowed.match(host):
            return []
        out: list[KeywordTarget] = []
        q = search_query(host, req.path, body, _header(req.headers, "Content-Type") or None)
        if q is not None:
            out.append(KeywordTarget("search", q.text, q.engine))
        if classify(req.method, req.path, req.headers) is Activity.PAGE:
            out.append(KeywordTarget("url", url_text(host, req.path)))
        return out

    def judge(self, target: KeywordTarget, result: Any) -> Decision | None:
        """A block decision from the engine's ``ScanResult`` (or the scan pool's
        ``ScanOutcome``) for ``target``, or None.

        A search is blocked when any counted term scores (score > 0): a search box
        holds a few words, so one harmful term is the whole query. A URL is blocked
        when it scores like a page would (score >= block_threshold)."""
        if target.kind == "search":
            hit = result.score > 0
            reason = Reason.SEARCH_KEYWORDS
        else:
            hit = result.score >= self.rules.block_threshold
            reason = Reason.URL_KEYWORDS
        if not hit:
            return None
        # engine.ScanResult has decided_by(); scanjob.ScanOutcome (the worker pool's) a tuple.
        names = result.decided_by() if callable(result.decided_by) else result.decided_by
        terms = ", ".join(list(names)[:5]) or None
        return Decision(Action.BLOCK, reason, result.top_category, rule=terms)

    def check_keywords(self, req: RequestInfo, scanner: Scanner, profile: Any) -> Decision:
        """``keyword_targets`` scanned with ``scanner`` (synchronously) and judged."""
        for target in self.keyword_targets(req):
            d = self.judge(target, scanner.scan(target.text, "text", profile))
            if d is not None:
                return d
        return ALLOW


_SPECIAL = frozenset({CAT_PAYMENTS, CAT_DOH, CAT_PROXIES_VPN})


def _unless_allowed(d: Decision | None) -> Decision | None:
    """An explicit allow from the lists ends the URL checks but not the later ones."""
    if d is not None and d.action == Action.ALLOW:
        return None
    return d
