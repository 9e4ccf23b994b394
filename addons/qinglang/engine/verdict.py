"""One vocabulary for a verdict, from the engine to the event log.

``Action`` is what happens to a request or response, ``Reason`` why, and ``Decision``
carries both with what decided it. The engine decides on a document (keywords, personal
information), the content pipeline on a body it could not check, the request rules on a
request, the proxy acts on the decision, the pages put the reason into words and the event
log records it: all with these values. Both are ``StrEnum``: a member is its string
(``Reason.QUOTA == "quota"``), so it goes into JSON, SQLite and PostgreSQL as the plain
word that the event log and users' scripts have always seen.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum


class Action(StrEnum):
    ALLOW = "allow"  # served unchanged
    MASK = "mask"  # served with words or personal data hidden
    BLOCK = "block"  # replaced by the block page (or a 403 for programs)
    TIMEUP = "timeup"  # a time rule: the time-up page says when access returns
    PASS = "pass"  # let through unscanned by the profile's policy (on_error, on_oversize)


class Reason(StrEnum):
    # The engine: what a document holds.
    KEYWORDS = "keywords"
    PII = "personal information exposure"
    # The content pipeline: a body that could not be checked.
    OVERSIZE = "too large to check"
    ERROR = "could not be checked"
    PARTIAL = "partial content"
    EVENT_STREAM = "event stream"
    # Passed on without a scan, and why (``qinglang scan``, ``scan --flows``).
    NOT_SCANNED = "not scanned"  # images, fonts, scripts: nothing a reader sees as text
    NO_BODY = "no body"  # HEAD, 204, 304
    NOT_FILTERED = "not filtered"  # the profile filters nothing
    PASSTHROUGH = "pass-through host"  # the profile's passthrough_hosts
    # The proxy itself.
    UNCONFIGURED = "filter not ready"
    RULES_FALLBACK = "last rules that loaded"  # the lists do not load: the saved ones hold
    OWN_DATA = "own personal information"  # the outbound guard
    INTERNAL = "internal error"  # a hook failed: the flow was stopped (proxy/guard.py)
    BAD_REQUEST = "bad request"  # a request whose destination cannot be told (400)
    # Tunnels (proxy/tunnels.py): a port the profile does not allow, or a connection that
    # carries something other than TLS or HTTP (ssh, a VPN, QUIC, raw TCP or UDP).
    PORT = "port"
    TUNNEL = "tunnel"
    # Request rules, decided before anything is fetched.
    ALWAYS_ALLOWED = "always_allowed"
    ALLOWED_DOMAIN = "allow_domains"
    DENY_DOMAIN = "deny_domains"
    DENY_URL = "deny_urls"
    CATEGORY = "category"
    SEARCH_ENGINE = "search_engine"
    SEARCH_KEYWORDS = "search keywords"
    URL_KEYWORDS = "url keywords"
    PAYMENTS = "payments"
    DOH = "dns_over_https"
    PROXIES_VPN = "proxies_vpn"
    BARE_IP = "bare_ip"
    # Time rules.
    CURFEW = "curfew"
    QUOTA = "quota"
    SCHEDULE = "schedule"


@dataclass(frozen=True, slots=True)
class Decision:
    action: Action
    reason: Reason | None = None
    category: str | None = None  # the category that decided (the top-scoring one)
    rule: str | None = None  # the listed domain, pattern or term names that decided it
    returns_at: datetime | None = None  # timeup: when access returns (None: not soon)

    @property
    def allowed(self) -> bool:
        return self.action == Action.ALLOW


ALLOW = Decision(Action.ALLOW)
