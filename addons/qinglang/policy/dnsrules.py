"""What DNS mode answers for one name, for one profile: pure, no I/O.

The request rules (``decide.decide``) are the same as for the proxy, asked for the name
with the path ``/``; on top of them DNS mode knows three things of its own:

- **canaries**: names a browser or an OS asks to learn whether this network filters.
  ``use-application-dns.net`` (Firefox: a negative answer keeps its DNS over HTTPS off)
  and ``mask.icloud.com`` / ``mask-h2.icloud.com`` (Apple's iCloud Private Relay: a
  negative answer turns it off for this network) get NXDOMAIN for profiles that block
  encrypted DNS;
- **safe search by DNS**: the engines' documented names that force safe search, for
  devices that never go through the proxy (the proxy itself rewrites the request);
- what a refusal becomes in DNS: a blocked name or a closed time gets the block address,
  a DNS-over-HTTPS resolver's name is not resolved at all (NXDOMAIN).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from qinglang.engine.verdict import Action, Decision, Reason

# Names that tell clients whether to use their own encrypted DNS, and the answer that
# says "no". Firefox: https://support.mozilla.org/kb/canary-domain-use-application-dnsnet
# Apple: https://developer.apple.com/support/prepare-your-network-for-icloud-private-relay
CANARIES = frozenset({"use-application-dns.net", "mask.icloud.com", "mask-h2.icloud.com"})

# Safe search by DNS: the engine's own host names answered with a CNAME to the host that
# serves only safe results (each engine documents it for schools and networks).
_GOOGLE = re.compile(r"^(?:www\.)?google\.(?:com|[a-z]{2}|com?\.[a-z]{2})$")
GOOGLE_SAFE = "forcesafesearch.google.com"
YOUTUBE_SAFE = "restrict.youtube.com"
SAFE_HOSTS: dict[str, str] = {
    "www.youtube.com": YOUTUBE_SAFE,
    "m.youtube.com": YOUTUBE_SAFE,
    "youtubei.googleapis.com": YOUTUBE_SAFE,
    "youtube.googleapis.com": YOUTUBE_SAFE,
    "www.youtube-nocookie.com": YOUTUBE_SAFE,
    "www.bing.com": "strict.bing.com",
    "bing.com": "strict.bing.com",
    "duckduckgo.com": "safe.duckduckgo.com",
    "www.duckduckgo.com": "safe.duckduckgo.com",
    "start.duckduckgo.com": "safe.duckduckgo.com",
    "yandex.ru": "familysearch.yandex.ru",
    "www.yandex.ru": "familysearch.yandex.ru",
    "yandex.com": "familysearch.yandex.ru",
    "www.yandex.com": "familysearch.yandex.ru",
}


def safe_host(name: str) -> str | None:
    """The safe-search host that ``name`` (canonical) is answered with, or None."""
    found = SAFE_HOSTS.get(name)
    if found is not None:
        return found
    return GOOGLE_SAFE if _GOOGLE.match(name) else None


class Answer(StrEnum):
    RESOLVE = "resolve"  # ask the upstream resolver
    BLOCK = "block"  # the block address (0.0.0.0 / :: or a block page's)
    NXDOMAIN = "nxdomain"  # no such name: canaries, DoH resolvers
    SAFE = "safe"  # CNAME to the engine's safe-search host, resolved upstream
    REFUSED = "refused"  # a query the filter cannot read


@dataclass(frozen=True, slots=True)
class DnsVerdict:
    answer: Answer
    decision: Decision
    target: str | None = None  # SAFE: the safe-search host

    @property
    def blocked(self) -> bool:
        return self.answer in (Answer.BLOCK, Answer.NXDOMAIN, Answer.REFUSED)


def verdict(
    name: str | None, decision: Decision, *, filtering: bool, block_doh: bool, safe: bool
) -> DnsVerdict:
    """The answer for ``name`` (canonical; None: unreadable), given the request rules'
    ``decision`` for it and the profile's ``filter``, ``bypass.block_doh`` and
    ``safe_search``."""
    if name is None:
        if filtering:  # fail closed: a name we cannot read is not resolved for a child
            return DnsVerdict(Answer.REFUSED, Decision(Action.BLOCK, Reason.ERROR))
        return DnsVerdict(Answer.RESOLVE, decision)
    if block_doh and name in CANARIES and decision.reason != Reason.ALWAYS_ALLOWED:
        return DnsVerdict(Answer.NXDOMAIN, Decision(Action.BLOCK, Reason.DOH, rule=name))
    if decision.action == Action.BLOCK and decision.reason == Reason.DOH:
        return DnsVerdict(Answer.NXDOMAIN, decision)
    if decision.action in (Action.BLOCK, Action.TIMEUP):
        return DnsVerdict(Answer.BLOCK, decision)
    if safe:
        target = safe_host(name)
        if target is not None:
            return DnsVerdict(Answer.SAFE, decision, target)
    return DnsVerdict(Answer.RESOLVE, decision)
