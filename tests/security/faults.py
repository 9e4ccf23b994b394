"""Test-only mitmproxy script: inject a fault into one stage of qinglang, inside mitmdump.

Loaded with ``-s faults.py --set test_fault_file=FILE`` after the qinglang addon. At load
it wraps the functions of every stage below (by module and name, as the addon looks them
up at call time); a wrapped function raises when FILE names its stage, and otherwise does
what it always did. The test rewrites FILE to move the fault from stage to stage without
restarting the proxy; an empty or missing FILE injects nothing. Never load this outside
the tests.
"""

from __future__ import annotations

import functools
import importlib
import inspect
import sqlite3
from pathlib import Path
from typing import Any

from mitmproxy import ctx

# stage -> (module, attribute path) of what raises in that stage.
STAGES: dict[str, list[tuple[str, str]]] = {
    "identity": [("qinglang.proxy.filtering", "who")],
    "rules": [("qinglang.policy.urlrules", "RequestRules.check")],
    "decide": [("qinglang.proxy.filtering", "decide")],
    "quota_read": [("qinglang.policy.quota", "QuotaTracker.state")],
    "quota_write": [("qinglang.store.quota", "SqliteQuotaStore.record_minute")],
    "quota_disk": [("qinglang.store.quota", "SqliteQuotaStore.used_minutes")],
    "overrides": [("qinglang.store.overrides", "OverrideStore.lookup")],
    "pages": [("qinglang.pages.blockpage", "block_body")],
    "events": [("qinglang.store.events", "EventStore.record")],
    "scan": [("qinglang.worker.pool", "ScanPool.scan")],
    "headplan": [("qinglang.proxy.filtering", "plan_head")],
    "verdict": [("qinglang.proxy.filtering", "verdict")],
    "safesearch": [("qinglang.policy.safesearch", "enforce")],
    "outbound": [("qinglang.proxy.outbound", "find_own_data")],
}


class InjectedFault(Exception):
    """Not a RuntimeError: the addon reads one from the scan pool as "shut down by a
    reload" and retries, which would hide the fault."""


def _error(stage: str) -> Exception:
    if stage in ("quota_write", "quota_disk"):  # what SQLite says when the disk is full
        return sqlite3.OperationalError(f"database or disk is full (injected fault: {stage})")
    return InjectedFault(f"injected fault: {stage}")


class Faults:
    def __init__(self) -> None:
        self._installed = False

    def load(self, loader: Any) -> None:
        loader.add_option("test_fault_file", str, "", "Tests only: the stage to break.")

    def running(self) -> None:
        if not self._installed:
            self._installed = True
            for stage, targets in STAGES.items():
                for module, attr in targets:
                    _patch(stage, module, attr)


def _active() -> str:
    path = ctx.options.test_fault_file
    if not path:
        return ""
    try:
        return Path(path).read_text(encoding="utf-8").strip()
    except OSError:
        return ""


def _patch(stage: str, module: str, attr: str) -> None:
    owner: Any = importlib.import_module(module)
    *parents, name = attr.split(".")
    for p in parents:
        owner = getattr(owner, p)
    original = inspect.getattr_static(owner, name)
    func = original.__func__ if isinstance(original, staticmethod) else original

    if inspect.iscoroutinefunction(func):

        @functools.wraps(func)
        async def broken_async(*args: Any, **kwargs: Any) -> Any:
            if _active() == stage:
                raise _error(stage)
            return await func(*args, **kwargs)

        wrapped: Any = broken_async
    else:

        @functools.wraps(func)
        def broken(*args: Any, **kwargs: Any) -> Any:
            if _active() == stage:
                raise _error(stage)
            return func(*args, **kwargs)

        wrapped = broken
    if isinstance(original, staticmethod):
        wrapped = staticmethod(wrapped)
    setattr(owner, name, wrapped)


addons = [Faults()]
