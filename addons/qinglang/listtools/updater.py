"""The running proxy's list subscriptions: fetched in the background when due, and put
where the proxy's reload picks them up (it swaps the rules in whole, so no connection is
dropped). A failed fetch is logged and the previous copy stays; nothing here can stop
the proxy from starting or serving (docs/domain-lists.md#list-subscriptions).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from qinglang.listtools import subscribe
from qinglang.policy.config import Config

log = logging.getLogger(__name__)

# (the config in force, the path of its file) or None before it is loaded.
Source = Callable[[], tuple[Config, str] | None]


class SubscriptionUpdater:
    """A mitmproxy addon (it only uses the loader and the lifecycle hooks)."""

    def __init__(self, source: Source) -> None:
        self.source = source
        self.every = 300.0
        self._task: asyncio.Task[None] | None = None

    def load(self, loader: Any) -> None:
        loader.add_option(
            "qinglang_subscriptions_check",
            int,
            300,
            "Seconds between checks whether a list subscription is due (each has its own "
            "interval); 0 turns background updates off.",
        )

    def configure(self, updated: set[str]) -> None:
        with contextlib.suppress(Exception):
            from mitmproxy import ctx

            self.every = float(ctx.options.qinglang_subscriptions_check)

    async def running(self) -> None:
        if self.every > 0 and self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._loop())

    def done(self) -> None:
        if self._task is not None:
            self._task.cancel()
            self._task = None

    async def _loop(self) -> None:
        await asyncio.sleep(min(self.every, 5.0))  # let the proxy start serving first
        while True:
            try:
                await self.check()
            except asyncio.CancelledError:
                raise
            except Exception:  # one bad round must not end the updates
                log.exception("qinglang: list subscriptions: update failed")
            await asyncio.sleep(self.every)

    async def check(self) -> None:
        found = self.source()
        if found is None:
            return
        cfg, path = found
        if not cfg.subscriptions or not path:
            return
        results = await asyncio.to_thread(subscribe.update, cfg, path)
        for r in results:
            if r.status == "failed":
                log.warning("qinglang: list subscription %s", r)
            elif r.status == "updated":
                log.info("qinglang: list subscription %s", r)
        lists_dir, _state = subscribe.folders(path)
        if lists_dir.is_dir() and str(lists_dir) not in cfg.lists:
            # The folder is new: the config is read again so that it joins `lists`.
            with contextlib.suppress(OSError):
                os.utime(Path(path))
