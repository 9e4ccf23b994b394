"""Scanning off the event loop: worker processes sized to the cores.

mitmproxy runs every connection on one asyncio loop, so a scan done in a hook stalls them
all; threads do not help because the engine holds the GIL (PROXY-NOTES.md: a 2-process pool
served 473 req/s where threads served 284).

Why not ``concurrent.futures.ProcessPoolExecutor``: it talks to its workers through two
helper threads in the proxy process, and every request then hands the GIL back and forth
between them and the event loop (measured here: 0.5 ms of proxy CPU per 100 KB job, and
4-7 ms waits on plain socket writes under load). Here each worker has a socket pair that
the event loop itself reads and writes: no thread in the proxy process. Owning the
processes also lets a stuck scan be killed and replaced.

Bodies cross in a shared memory area of each worker's (an anonymous shared mapping made
before the fork), not through the socket: at saturation, sending a 100 KB page and
reading back the masked one through the socket, with the pickle copies on each side, was
a tenth of mitmdump's time per request. The socket carries the rest of the job and
the answer, and wakes the other side. A body bigger than the area goes through the
socket as before.

A worker holds up to two jobs: the next is sent while it scans the current one, so it
starts the next as soon as it has answered instead of idling until the proxy's event loop
gets round to reading the answer (at saturation the loop is busy for a millisecond or
more at a time; with one job per worker the two cores stood idle 9-12% of the time). Each
of the two has its own half of the shared area. Only a light job (a page of ordinary
size) gets another queued behind it: a small page must not wait behind a 10 MB one.

Each worker is forked from the proxy once the lists are validated, so it inherits them and
the normalisation tables (built in the parent first) instead of unpickling them, builds its
engine once, closes every descriptor it inherited (client connections must close when the
proxy closes them, not when a worker exits), and serves one length-prefixed pickled job at
a time.

``workers=0`` scans in a thread of the proxy process instead: for unit tests and very
small machines.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import mmap
import os
import pickle
import signal
import socket
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from qinglang.content.pipeline import ScanJob, ScanOutcome, run_job
from qinglang.engine import evasion
from qinglang.engine.lists import ListSet
from qinglang.engine.scanner import Engine
from qinglang.pages.risknotice import notice_for
from qinglang.worker import protocol

log = logging.getLogger(__name__)

_DEPTH = 2  # jobs a worker holds: the one it scans and the next
# A job another may queue behind: a body this size scans in a few milliseconds. Compressed
# HTML expands 5-8 times, so a content-encoded body counts as eight times its size.
_LIGHT_BYTES = 256 << 10


def default_workers() -> int:
    return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 1)


def _light(job: ScanJob) -> bool:
    """Whether another job may wait behind this one on its worker."""
    size = len(job.body) * (8 if job.content_encoding else 1)
    return size <= _LIGHT_BYTES


# --- the proxy side -------------------------------------------------------------


@dataclass(slots=True)
class _Sent:
    """A job a worker holds: sent, not yet answered."""

    job: ScanJob
    done: asyncio.Future[ScanOutcome]
    slot: int  # its half of the shared area
    timer: asyncio.TimerHandle | None = None  # the timeout, set once sent

    def stop_timer(self) -> None:
        if self.timer is not None:
            self.timer.cancel()

    def settle(self, out: ScanOutcome | BaseException) -> None:
        self.stop_timer()
        if self.done.done():  # the flow was cancelled
            return
        if isinstance(out, BaseException):
            self.done.set_exception(out)
        else:
            self.done.set_result(out)


class _Worker(asyncio.Protocol):
    """A worker seen from the proxy: the event loop reads its socket through this protocol,
    which hands each complete frame to ``on_frame``.

    Why not ``asyncio.StreamReader`` and a task per job: at saturation each scan then took a
    ``readexactly`` waiter per header and body, a task for ``wait_for``, a task and a
    ``shield`` for the job, and copied a masked body twice more (measured: 300 us of proxy
    CPU per 100 KB page, a fifth of mitmdump's whole cost per request). Here a frame is
    cut from what ``data_received`` got, and one future wakes the flow waiting for it."""

    def __init__(self, pid: int, sock: socket.socket, shared: mmap.mmap) -> None:
        self.pid = pid
        self.sock = sock
        self.shared = shared  # the bodies of the jobs and of their answers, a slot each
        self.transport: asyncio.Transport | None = None
        self.lost = False  # the socket is closed: no frame will come
        # Called with each frame's payload, and with an exception once the socket is lost.
        self.on_frame: Callable[[memoryview | BaseException], None] | None = None
        self.jobs: deque[_Sent] = deque()  # held, in the order they were sent (and answered)
        self._chunks: list[bytes] = []
        self._have = 0  # bytes in _chunks
        self._need = -1  # bytes of the frame being read, header included; -1: unknown yet

    async def connect(self) -> None:
        await asyncio.get_running_loop().create_connection(lambda: self, sock=self.sock)

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self._chunks.append(data)
        self._have += len(data)
        while True:
            if self._need < 0:
                if self._have < protocol.HEADER.size:
                    return
                self._join()
                self._need = protocol.HEADER.size + protocol.HEADER.unpack_from(self._chunks[0])[0]
            if self._have < self._need:
                return
            buf = self._join()
            frame = memoryview(buf)[protocol.HEADER.size : self._need]  # pickle reads it in place
            rest = buf[self._need :]
            self._chunks = [rest] if rest else []
            self._have, self._need = len(rest), -1
            self._deliver(frame)

    def _join(self) -> bytes:
        # Once per frame (and once for a header split across reads): never quadratic.
        if len(self._chunks) > 1:
            self._chunks = [b"".join(self._chunks)]
        return self._chunks[0]

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost = True
        self._deliver(exc or EOFError("scan worker closed its socket"))

    def _deliver(self, frame: memoryview | BaseException) -> None:
        if self.on_frame is not None:
            self.on_frame(frame)

    def next_frame(self) -> asyncio.Future[memoryview]:
        """The next frame the worker sends (its ready message at start-up)."""
        fut: asyncio.Future[memoryview] = asyncio.get_running_loop().create_future()

        def settle(frame: memoryview | BaseException) -> None:
            self.on_frame = None
            if fut.done():
                return
            if isinstance(frame, BaseException):
                fut.set_exception(frame)
            else:
                fut.set_result(frame)

        self.on_frame = settle
        if self.lost:
            self._deliver(EOFError("scan worker closed its socket"))
        return fut

    def can_take(self) -> bool:
        """Free, or scanning a light job with none queued behind it."""
        n = len(self.jobs)
        return n == 0 or (n < _DEPTH and _light(self.jobs[-1].job))

    def free_slot(self) -> int:
        # Two jobs at most: the next takes the slot the last one sent does not use.
        return 1 - self.jobs[-1].slot if self.jobs else 0

    def send(self, payload: bytes) -> bool:
        """Send one job's frame; False if the socket is gone."""
        if self.lost or self.transport is None:
            return False
        for part in protocol.framed(payload):
            self.transport.write(part)
        return True

    def stop(self, kill: bool = False) -> None:
        """Close our end (the worker exits on EOF), or kill it; reap it either way."""
        self.on_frame = None
        if self.transport is not None:
            self.transport.close()
        else:
            self.sock.close()
        if kill:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, signal.SIGKILL)
        self.shared.close()  # ours only: the worker keeps its mapping until it exits
        _reap_later(self.pid)


def _reap_later(pid: int, tries: int = 50) -> None:
    """Collect an exited worker without blocking; kill it if it lingers (about 10 s)."""
    try:
        done, _ = os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        return
    if done:
        return
    if tries == 0:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:  # no loop any more (shutting down): wait for it here
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, 0)
        return
    loop.call_later(0.2, _reap_later, pid, max(tries - 1, 0))


class ScanPool:
    """Engines for one version of the lists; ``scan`` is awaited from mitmproxy hooks."""

    def __init__(self, lists: ListSet, workers: int, timeout: float = 30.0) -> None:
        self.lists = lists
        self.workers = workers
        self.timeout = timeout
        self.closed = False
        self.problem: str | None = None  # why the workers could not start
        self._inline: Engine | None = None
        self._thread: ThreadPoolExecutor | None = None
        if workers == 0:
            self._inline = Engine(lists)
            self._thread = ThreadPoolExecutor(1, thread_name_prefix="qinglang-scan")
        self._all: list[_Worker] = []  # running, in the order they started
        # The scans waiting for a worker in the order they came. A worker that frees takes
        # the first waiting job at once, from the callback that read its answer: handing it
        # the worker through a future instead left it idle until the waiting flow's task
        # ran, after everything else the event loop had ready (with the loop kept busy,
        # 259-279 against 342-405 jobs/s of 100 KB pages). Not an asyncio.Queue either: a
        # scan arriving just as a worker frees took it ahead of the one Queue woke.
        self._waiting: deque[tuple[ScanJob, asyncio.Future[ScanOutcome]]] = deque()
        self._spawning = 0  # workers forked and not yet ready
        self._starting: asyncio.Task[None] | None = None

    # lifecycle

    async def start(self) -> None:
        """Fork the workers and wait until each has built its engine."""
        if self._inline is not None:
            return
        if self._starting is None:
            self._starting = asyncio.get_running_loop().create_task(self._start())
        await asyncio.shield(self._starting)
        if self.problem:
            raise RuntimeError(self.problem)

    async def _start(self) -> None:
        evasion.build_tables()  # built once here, inherited by every worker
        results = await asyncio.gather(
            *(self._spawn() for _ in range(self.workers)), return_exceptions=True
        )
        errors = [r for r in results if isinstance(r, BaseException)]
        if errors and len(errors) == len(results):
            self.problem = f"scan workers failed to start: {errors[0]}"

    async def _spawn(self) -> None:
        self._spawning += 1
        try:
            await self._fork()
        finally:
            self._spawning -= 1

    async def _fork(self) -> None:
        parent_end, child_end = socket.socketpair()
        shared = None
        try:
            # Anonymous and shared: the same pages in the worker after the fork.
            shared = mmap.mmap(-1, _DEPTH * protocol.SHARED_BYTES)
            pid = os.fork()
        except OSError:
            parent_end.close()
            child_end.close()
            if shared is not None:
                shared.close()
            raise
        if pid == 0:  # the worker
            try:
                parent_end.close()
                protocol.worker_main(child_end, shared, self.lists, os.getppid())
            finally:
                os._exit(0)
        child_end.close()
        w = _Worker(pid, parent_end, shared)
        try:
            await w.connect()
            ready = bytes(await asyncio.wait_for(w.next_frame(), max(self.timeout, 60.0)))
        except BaseException:
            w.stop(kill=True)
            raise
        if ready != protocol.READY:
            w.stop(kill=True)
            raise RuntimeError(pickle.loads(ready))
        w.on_frame = functools.partial(self._on_frame, w)
        self._all.append(w)
        self._fill(w)

    def close(self) -> None:
        """Stop the workers; scans already sent finish first (does not block), and scans
        still waiting for a worker get the RuntimeError of a closed pool at once (after a
        reload, the caller then asks the new pool)."""
        self.closed = True
        if self._thread is not None:
            self._thread.shutdown(wait=False)
        self._fail_waiting(RuntimeError("scan pool closed"))
        for w in [w for w in self._all if not w.jobs]:
            self._all.remove(w)
            w.stop()

    def kill(self) -> None:
        """Stop every worker now (mitmproxy is shutting down)."""
        self.close()
        for w in list(self._all):
            self._all.remove(w)
            for sent in w.jobs:
                sent.stop_timer()
            w.stop(kill=True)

    # scanning

    async def scan(self, job: ScanJob) -> ScanOutcome:
        if self._inline is not None:
            assert self._thread is not None
            loop = asyncio.get_running_loop()
            fut = loop.run_in_executor(self._thread, run_job, self._inline, job, notice_for)
            try:
                return await asyncio.wait_for(fut, self.timeout)
            except TimeoutError:
                return self._timed_out()
        if self.closed:
            raise RuntimeError("scan pool closed")
        try:
            await self.start()
        except RuntimeError as e:
            return ScanOutcome("error", problem=str(e))
        if not self._all and not self._spawning:
            return ScanOutcome("error", problem="no scan worker is running")
        done: asyncio.Future[ScanOutcome] = asyncio.get_running_loop().create_future()
        w = None if self._waiting else self._taker()
        if w is not None:
            self._dispatch(w, job, done)
        else:
            self._waiting.append((job, done))
        try:
            # RuntimeError when the pool closes before a worker took the job.
            return await done
        except _NoWorkers as e:
            return ScanOutcome("error", problem=str(e))

    def _taker(self) -> _Worker | None:
        """A free worker, else one that can queue the job behind a light one."""
        behind = None
        for w in self._all:
            if not w.jobs:
                return w
            if behind is None and w.can_take():
                behind = w
        return behind

    def _dispatch(self, w: _Worker, job: ScanJob, done: asyncio.Future[ScanOutcome]) -> None:
        """Send ``job`` to ``w``; its answer settles ``done``. The job stays with the worker
        until the worker answers: the callbacks run from the event loop, so if the flow is
        cancelled (the client went away) the worker still frees when its answer comes. The
        timeout counts from here, not from when the job began waiting."""
        slot = w.free_slot()
        try:
            payload = protocol.pack(w.shared, slot, job)
        except (pickle.PickleError, TypeError, AttributeError) as e:
            done.set_result(ScanOutcome("error", problem=f"cannot send the job: {e}"))
            return
        sent = _Sent(job, done, slot)
        sent.timer = asyncio.get_running_loop().call_later(self.timeout, self._expired, w)
        w.jobs.append(sent)
        if not w.send(payload):
            self._lost(w, _died())

    def _on_frame(self, w: _Worker, frame: memoryview | BaseException) -> None:
        """A worker's answer to its oldest job, or the news that its socket is gone."""
        try:
            if isinstance(frame, BaseException):
                raise frame
            if not w.jobs:
                raise EOFError("an answer to no job")
            slot, out = protocol.unpack(w.shared, frame)
            if slot != w.jobs[0].slot or not isinstance(out, ScanOutcome):
                raise EOFError("an answer out of step")
        except (OSError, EOFError, pickle.PickleError) as e:
            log.error("qinglang: a scan worker died (%s); starting another", type(e).__name__)
            self._lost(w, _died())
            return
        except Exception as e:
            # Anything else still reaches the flow that waits (its timer is cancelled: it
            # would wait for ever), and the worker, in an unknown state, is replaced.
            self._lost(w, e)
            return
        w.jobs.popleft().settle(out)
        self._fill(w)

    def _fill(self, w: _Worker) -> None:
        """Hand ``w`` the longest-waiting jobs it can take now."""
        while self._waiting and w.can_take():
            job, done = self._waiting.popleft()
            if not done.done():  # a cancelled flow's future is done
                self._dispatch(w, job, done)
        if self.closed and not w.jobs and w in self._all:
            self._all.remove(w)
            w.stop()

    def _expired(self, w: _Worker) -> None:
        # An older job's timer fires first, and answering a job cancels its timer: the one
        # that fires is the oldest job's, the one the worker is stuck on.
        if w in self._all:
            self._lost(w, self._timed_out())

    def _timed_out(self) -> ScanOutcome:
        return ScanOutcome("error", problem=f"scan took longer than {self.timeout:g} s")

    def _lost(self, w: _Worker, head: ScanOutcome | BaseException) -> None:
        """Kill a worker that is stuck, dead or broken and start a fresh one in its place.
        The job it was scanning gets ``head``; jobs queued behind it never started, so
        they go back to the front of the queue."""
        jobs = list(w.jobs)
        w.jobs.clear()
        for sent in jobs:
            sent.stop_timer()
        if jobs:
            jobs[0].settle(head)
        self._waiting.extendleft((s.job, s.done) for s in reversed(jobs[1:]))
        if w in self._all:
            self._all.remove(w)
        w.stop(kill=True)
        if self.closed:
            self._fail_waiting(RuntimeError("scan pool closed"))
            return
        task = asyncio.get_running_loop().create_task(self._spawn())
        task.add_done_callback(self._spawned)
        for other in list(self._all):  # the requeued jobs need not wait for the new worker
            self._fill(other)

    def _spawned(self, task: asyncio.Task[None]) -> None:
        if task.cancelled() or task.exception() is None:
            return
        log.error("qinglang: could not start a scan worker: %s", task.exception())
        if self._all or self._spawning:
            return
        # None is left to answer the scans waiting: they fail now (the profile's error
        # policy decides), not when their timeout never comes.
        self._fail_waiting(_NoWorkers("no scan worker could be started"))

    def _fail_waiting(self, error: Exception) -> None:
        """Every scan still waiting for a worker gets ``error`` now."""
        while self._waiting:
            _, done = self._waiting.popleft()
            if not done.done():  # a cancelled flow's future is done
                done.set_exception(error)


def _died() -> ScanOutcome:
    return ScanOutcome("error", problem="scan worker died")


class _NoWorkers(Exception):
    """Every worker died and none could be started in its place."""
