"""Rules (config + lists) loaded as one unit, and picked up again when their files change.

The watcher polls file metadata (cheap), and only when something moved reads and
validates everything again, off the event loop. A broken edit is rejected with the
reason logged, and the rules in force stay; a touch that changes no content rebuilds
nothing (content digests are compared).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

from qinglang.engine.lists import ListSet, list_files, load_lists
from qinglang.policy.clients import ClientMap
from qinglang.policy.config import Config, default_config, load_config

log = logging.getLogger(__name__)

Signature = tuple[tuple[str, int, int, int], ...]


@dataclass(frozen=True, slots=True)
class Rules:
    config: Config
    lists: ListSet
    clients: ClientMap
    digest: str  # of the validated config and the lists' bytes
    source: str | None  # the config file, or None for the built-in default


def load_rules(path: str | None) -> Rules:
    """Read and validate a config and its lists; raises ``SourceError`` (a ValueError)."""
    cfg = load_config(path) if path else default_config()
    lists = load_lists(cfg.lists)
    h = hashlib.sha256(cfg.model_dump_json().encode())
    h.update(lists.digest.encode())
    return Rules(cfg, lists, ClientMap(cfg), h.hexdigest(), path)


def _stat(path: str | Path) -> tuple[str, int, int, int]:
    try:
        st = os.stat(path)
    except OSError:
        return (str(path), -1, -1, -1)
    return (str(path), st.st_mtime_ns, st.st_size, st.st_ino)


def signature(config_path: str | None, list_dirs: list[str]) -> Signature:
    """Metadata of every file the rules were read from (and of the list folders)."""
    out = []
    if config_path:
        out.append(_stat(config_path))
    for d in list_dirs:
        out.append(_stat(d))
    try:
        files = list_files(list_dirs)
    except ValueError:  # a list folder disappeared: the load will say so
        files = []
    out.extend(_stat(f) for f in files)
    return tuple(out)


class Reloader:
    """Polls the rules' files every ``interval`` seconds; calls ``apply`` with new rules."""

    def __init__(
        self,
        rules: Rules,
        interval: float,
        apply: Callable[[Rules], Awaitable[None]],
        outcome: Callable[[str | None], None] | None = None,
    ) -> None:
        self.rules = rules
        self.interval = interval
        self.apply = apply
        # Told after each read of edited files: why they do not load, or None when they do
        # (also when they load to the rules already in force).
        self.outcome = outcome
        self._sig = signature(rules.source, rules.config.lists)
        # WireGuard listeners start with the process only (wireguard.run_args).
        self._listening = {(d.name, d.wireguard_port) for d in rules.config.wireguard_devices}

    async def run(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            try:
                await self.check()
            except asyncio.CancelledError:
                raise
            except Exception:  # keep watching whatever happened to one attempt
                log.exception("qinglang: checking the rules for edits failed")

    def _tell(self, problem: str | None) -> None:
        if self.outcome is not None:
            try:
                self.outcome(problem)
            except Exception:  # the watch goes on whatever the listener does
                log.exception("qinglang: recording the reload's outcome failed")

    async def check(self) -> bool:
        """One poll; True when new rules were applied."""
        cur = self.rules
        sig = await asyncio.to_thread(signature, cur.source, cur.config.lists)
        if sig == self._sig:
            return False
        # Taken before reading: an edit made while loading shows up on the next poll.
        # Set now, so that a broken edit is reported once, not on every poll.
        self._sig = sig
        try:
            new = await asyncio.to_thread(load_rules, cur.source)
        except ValueError as e:
            log.error("qinglang: edit rejected, the previous rules stay in force: %s", e)
            self._tell(str(e))
            return False
        if new.digest == cur.digest:
            self._tell(None)
            return False
        try:
            await self.apply(new)
        except Exception as e:
            log.error("qinglang: new rules could not be started, the previous stay: %s", e)
            return False
        self.rules = new
        self._tell(None)
        log.info(
            "qinglang: rules reloaded (%d terms from %d list files)",
            len(new.lists.terms),
            len(new.lists.files),
        )
        waiting = [
            f"{d.name} (UDP {d.wireguard_port})"
            for d in new.config.wireguard_devices
            if (d.name, d.wireguard_port) not in self._listening
        ]
        if waiting:
            log.warning(
                "qinglang: WireGuard listener not started yet for %s: restart qinglang to start it",
                ", ".join(waiting),
            )
        return True
