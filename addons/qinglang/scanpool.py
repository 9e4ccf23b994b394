"""Scanning off the event loop: a process pool sized to the cores.

mitmproxy runs every connection on one asyncio loop, so a scan done in a hook stalls them
all; threads do not help because the engine holds the GIL (PROXY-NOTES.md: a 2-process pool
served 473 req/s where threads served 284). Each worker builds its engine once, in the
pool's initializer, from the lists the parent has already validated; with the ``fork``
start method the lists and the normalisation tables are inherited, not pickled.

``workers=0`` scans in a thread of the proxy process instead: for unit tests and very
small machines.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import os
import signal
import threading
import time
from concurrent.futures import Executor, ProcessPoolExecutor, ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool

from . import normalize
from .engine import Engine
from .lists import ListSet
from .scanjob import ScanJob, ScanOutcome, run_job

log = logging.getLogger(__name__)

_engine: Engine | None = None  # one per worker process


def default_workers() -> int:
    return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 1)


def _init_worker(lists: ListSet, parent: int) -> None:
    global _engine
    # The parent (mitmproxy) handles Ctrl-C and SIGTERM and shuts the pool down; a signal
    # reaching a worker must not be written into the parent's inherited wake-up pipe.
    signal.set_wakeup_fd(-1)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    _engine = Engine(lists)
    threading.Thread(target=_exit_with_parent, args=(parent,), daemon=True).start()


def _exit_with_parent(parent: int) -> None:
    # A killed proxy cannot tell its workers to stop; they notice they were orphaned.
    while os.getppid() == parent:
        time.sleep(1.0)
    os._exit(0)


def _work(job: ScanJob) -> ScanOutcome:
    assert _engine is not None
    return run_job(_engine, job)


def _ready() -> int:
    return os.getpid()


class ScanPool:
    """Engines for one version of the lists; ``scan`` is awaited from mitmproxy hooks."""

    def __init__(self, lists: ListSet, workers: int, timeout: float = 30.0) -> None:
        self.lists = lists
        self.workers = workers
        self.timeout = timeout
        self._inline: Engine | None = None
        self._executor = self._make_executor()

    def _make_executor(self) -> Executor:
        if self.workers == 0:
            if self._inline is None:
                self._inline = Engine(self.lists)
            return ThreadPoolExecutor(1, thread_name_prefix="qinglang-scan")
        normalize.tables()  # built once here, inherited by every forked worker
        return ProcessPoolExecutor(
            self.workers,
            mp_context=multiprocessing.get_context("fork"),
            initializer=_init_worker,
            initargs=(self.lists, os.getpid()),
        )

    def _submit(self, job: ScanJob):  # type: ignore[no-untyped-def]
        if self._inline is not None:
            return self._executor.submit(run_job, self._inline, job)
        return self._executor.submit(_work, job)

    async def start(self) -> None:
        """Start the workers and wait until their engines are built."""
        if self._inline is not None:
            return
        futures = [asyncio.wrap_future(self._executor.submit(_ready)) for _ in range(self.workers)]
        await asyncio.gather(*futures)

    async def scan(self, job: ScanJob) -> ScanOutcome:
        try:
            fut = asyncio.wrap_future(self._submit(job))
            return await asyncio.wait_for(fut, self.timeout)
        except TimeoutError:
            return ScanOutcome("error", problem=f"scan took longer than {self.timeout:g} s")
        except BrokenProcessPool:
            # A worker died (out of memory, killed): start a fresh pool for the next flows.
            log.error("qinglang: a scan worker died; restarting the scan workers")
            self._restart()
            return ScanOutcome("error", problem="scan worker died")

    def _restart(self) -> None:
        old = self._executor
        self._executor = self._make_executor()
        old.shutdown(wait=False, cancel_futures=True)

    def close(self) -> None:
        """Let scans already submitted finish, then stop the workers (does not block)."""
        self._executor.shutdown(wait=False)
