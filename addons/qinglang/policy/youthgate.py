"""Youth mode as the proxy holds it: every profile's request rules, built from a config.

Built when the config is loaded or reloaded and swapped in with the rest of the rules, so
a request sees the old rules or the new ones, never a mix. Building reads the domain lists
(``<list dir>/domains/*.txt``); an unreadable list or a bad rule raises ``ValueError``
(``SourceError`` with file and line) and the rules in force stay.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from qinglang.policy import presets
from qinglang.policy.config import Config
from qinglang.policy.domains import DomainLists, domain_files, load_domains
from qinglang.policy.presets import EffectiveRules
from qinglang.policy.reload import Reloader, Rules, Signature
from qinglang.policy.safesearch import ENGINES, search_query
from qinglang.policy.timerules import Clock, FileClock, SystemClock
from qinglang.policy.urlrules import RequestRules

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class YouthRules:
    """One ``RequestRules`` per profile, over one set of domain lists."""

    requests: Mapping[str, RequestRules]
    domains: DomainLists
    default_profile: str

    def for_profile(self, name: str | None) -> RequestRules:
        # After a reload the profile may be gone: the default then applies (as for scans).
        found = self.requests.get(name) if name else None
        return found if found is not None else self.requests[self.default_profile]


def build(cfg: Config) -> YouthRules:
    """Resolve every profile's presets and compile its request rules."""
    effective: dict[str, EffectiveRules] = presets.resolve_all(cfg)
    lists = load_domains(cfg.lists)
    requests = {
        name: RequestRules(rules, lists.categories_for) for name, rules in effective.items()
    }
    return YouthRules(requests, lists, cfg.default_profile)


def make_clock(path: str) -> Clock:
    """The proxy's clock: the system's, or (tests only) the moment written in ``path``."""
    return FileClock(path) if path else SystemClock()


def event_path(host: str, path: str) -> str:
    """The path as the event log keeps it: the query string goes (events.py), and so does
    a search text that an engine carries in the path (``/search/<text>``)."""
    q = search_query(host, path)
    if q is not None and q.param == "path":
        engine = ENGINES[q.engine]
        if engine.path_query and path.startswith(engine.path_query):
            return engine.path_query
    return path


def _stat(path: Path) -> tuple[str, int, int, int]:
    try:
        st = os.stat(path)
    except OSError:
        return (str(path), -1, -1, -1)
    return (str(path), st.st_mtime_ns, st.st_size, st.st_ino)


def domain_signature(list_dirs: list[str]) -> Signature:
    """Metadata of the domain lists (and their folders, so added or removed files show)."""
    folders = [Path(d) / "domains" for d in list_dirs]
    try:
        files = domain_files(list_dirs)
    except ValueError:  # a list folder disappeared: the keyword lists' reload says so
        files = []
    return tuple(_stat(p) for p in [*folders, *files])


class YouthReloader(Reloader):
    """``reload.Reloader`` that also watches the domain lists (``domains/*.txt``), which
    the keyword lists' signature and digest do not cover. An edit there re-applies the
    rules in force, so ``apply`` rebuilds the request rules; a broken list keeps the old."""

    def __init__(
        self,
        rules: Rules,
        interval: float,
        apply: Callable[[Rules], Awaitable[None]],
        outcome: Callable[[str | None], None] | None = None,
    ) -> None:
        super().__init__(rules, interval, apply, outcome)
        self._domains = domain_signature(rules.config.lists)

    async def check(self) -> bool:
        if await super().check():
            self._domains = await asyncio.to_thread(domain_signature, self.rules.config.lists)
            return True
        sig = await asyncio.to_thread(domain_signature, self.rules.config.lists)
        if sig == self._domains:
            return False
        self._domains = sig  # a broken edit is reported once, not on every poll
        try:
            await self.apply(self.rules)
        except Exception as e:
            log.error("qinglang: domain list edit rejected, the previous rules stay: %s", e)
            self._tell(str(e))
            return False
        self._tell(None)
        log.info("qinglang: domain lists reloaded")
        return True
