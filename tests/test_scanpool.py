"""The scan workers: real forked processes, their failures, and what they inherit."""

from __future__ import annotations

import asyncio
import contextlib
import os
import pickle
import signal
import socket
import struct
import textwrap
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from qinglang.content.pipeline import ScanJob, ScanOutcome
from qinglang.engine.lists import ListSet, load_lists
from qinglang.policy.config import Profile
from qinglang.worker.pool import ScanPool

pytestmark = pytest.mark.timeout(120)


@pytest.fixture(scope="module")
def lists(tmp_path_factory: pytest.TempPathFactory) -> ListSet:
    d: Path = tmp_path_factory.mktemp("lists")
    (d / "g.yaml").write_text(
        textwrap.dedent("""
            category: gambling
            terms:
              - {term: 网络赌场, weight: 40}
        """),
        encoding="utf-8",
    )
    return load_lists([d], use_cache=False)


def job(text: str) -> ScanJob:
    return ScanJob(f"<p>{text}</p>".encode(), "text/html", "", "gzip", Profile())


@contextlib.asynccontextmanager
async def started(lists: ListSet, workers: int, timeout: float = 30.0) -> AsyncIterator[ScanPool]:
    """A pool with its workers running, killed afterwards (also when an assertion fails)."""
    pool = ScanPool(lists, workers, timeout)
    await pool.start()
    try:
        yield pool
    finally:
        pool.kill()


def test_workers_scan_in_parallel_and_survive_a_crash(lists: ListSet) -> None:
    async def body() -> None:
        async with started(lists, 2) as pool:
            outs = await asyncio.gather(
                *(pool.scan(job("网络赌场" if i % 2 else "ok")) for i in range(20))
            )
            assert [o.status for o in outs] == ["allow", "mask"] * 10
            pids = {w.pid for w in pool._all}
            assert len(pids) == 2 and os.getpid() not in pids

            victim = next(iter(pool._all))
            os.kill(victim.pid, signal.SIGKILL)  # out of memory, killed by hand...
            outs = await asyncio.gather(*(pool.scan(job("网络赌场")) for _ in range(4)))
            assert {o.status for o in outs} <= {"mask", "error"}
            assert "mask" in {o.status for o in outs}
            for _ in range(100):  # a replacement is started
                if len(pool._all) == 2 and victim not in pool._all:
                    break
                await asyncio.sleep(0.05)
            assert (await pool.scan(job("网络赌场"))).status == "mask"

    asyncio.run(body())


def test_stuck_scan_times_out_and_the_worker_is_replaced(lists: ListSet) -> None:
    async def body() -> None:
        async with started(lists, 1, timeout=1.0) as pool:
            (w,) = pool._all
            os.kill(w.pid, signal.SIGSTOP)  # a scan that never ends
            out = await pool.scan(job("网络赌场"))
            assert out.status == "error" and "longer than 1 s" in (out.problem or "")
            for _ in range(200):
                if pool._all and w not in pool._all and not pool._all[0].jobs:
                    break
                await asyncio.sleep(0.05)
            assert (await pool.scan(job("网络赌场"))).status == "mask"

    asyncio.run(body())


class _Unreadable:
    def __reduce__(self):  # type: ignore[no-untyped-def]
        return (int, ("not a number",))  # unpickling raises ValueError


def test_a_reply_that_cannot_be_read_fails_the_scan_instead_of_hanging(lists: ListSet) -> None:
    async def body() -> None:
        async with started(lists, 1, timeout=60.0) as pool:
            (w,) = pool._all
            os.kill(w.pid, signal.SIGSTOP)  # its own answer never comes...
            scan = asyncio.ensure_future(pool.scan(job("网络赌场")))
            await asyncio.sleep(0.2)
            payload = pickle.dumps(_Unreadable())
            w.data_received(struct.pack("!I", len(payload)) + payload)  # ...this one does
            with pytest.raises(ValueError):
                await asyncio.wait_for(scan, 5)
            for _ in range(200):  # the worker, in an unknown state, is replaced
                if pool._all and w not in pool._all and not pool._all[0].jobs:
                    break
                await asyncio.sleep(0.05)
            assert (await pool.scan(job("网络赌场"))).status == "mask"

    asyncio.run(body())


def test_workers_do_not_hold_the_proxys_connections_open(lists: ListSet) -> None:
    # A client connection open while the workers are forked must still close when the
    # proxy closes it, not when a worker exits.
    async def body() -> None:
        a, b = socket.socketpair()
        async with started(lists, 1):
            a.close()
            b.settimeout(5)
            assert b.recv(1) == b""  # end of file at once
            b.close()

    asyncio.run(body())


def test_closed_pool_refuses_new_scans_but_finishes_running_ones(lists: ListSet) -> None:
    async def body() -> None:
        async with started(lists, 1) as pool:
            running = asyncio.ensure_future(pool.scan(job("网络赌场")))
            await asyncio.sleep(0)
            pool.close()
            assert (await running).status == "mask"
            with pytest.raises(RuntimeError):
                await pool.scan(job("x"))

    asyncio.run(body())


def test_a_large_masked_page_comes_back_whole(lists: ListSet) -> None:
    # 3 MB out and back: the worker's answer arrives in many reads of the socket.
    text = "今天天气很好。" * 150_000 + "网络赌场" + "再见" * 1000

    async def body() -> None:
        async with started(lists, 1) as pool:
            outs = await asyncio.gather(pool.scan(job(text)), pool.scan(job("网络赌场 ok")))
            assert [o.status for o in outs] == ["mask", "mask"]
            assert outs[0].body == f"<p>{text.replace('网络赌场', '****')}</p>".encode()
            assert outs[1].body == b"<p>**** ok</p>"

    asyncio.run(body())


def test_a_client_that_goes_away_does_not_cost_a_worker(lists: ListSet) -> None:
    async def body() -> None:
        async with started(lists, 1) as pool:
            gone = asyncio.ensure_future(pool.scan(job("网络赌场" * 100_000)))
            await asyncio.sleep(0.01)
            gone.cancel()  # the flow was killed while its page was being scanned
            out = await asyncio.wait_for(pool.scan(job("网络赌场")), 30)
            assert out.status == "mask" and gone.cancelled()

    asyncio.run(body())


def test_scans_waiting_for_a_worker_are_served_in_the_order_they_came(lists: ListSet) -> None:
    # In the proxy a new flow's hook often starts in the same loop pass as a worker's
    # answer, just before it. It must queue behind the scans already waiting: it used to
    # take the freed worker ahead of them, and at saturation a 2 KB page waited over a
    # second, passed over a hundred times.
    async def body() -> None:
        async with started(lists, 1) as pool:
            (w,) = pool._all
            order: list[str] = []

            async def scan(name: str) -> None:
                await pool.scan(job(name))
                order.append(name)

            newcomer: list[asyncio.Future[None]] = []
            answer = w.data_received

            def answer_with_a_new_flow(data: bytes) -> None:
                if not newcomer:
                    newcomer.append(asyncio.ensure_future(scan("C")))
                answer(data)

            w.data_received = answer_with_a_new_flow  # type: ignore[method-assign]
            first = asyncio.ensure_future(scan("A"))
            await asyncio.sleep(0)
            second = asyncio.ensure_future(scan("B"))
            await asyncio.wait_for(asyncio.gather(first, second), 10)
            await asyncio.wait_for(newcomer[0], 10)
            assert order == ["A", "B", "C"]

    asyncio.run(body())


def test_scans_waiting_when_the_pool_closes_are_turned_away_not_left_hanging(
    lists: ListSet,
) -> None:
    # After a reload the old pool closes; a flow still waiting for one of its workers gets
    # the closed pool's error (the addon then asks the new pool), not an endless wait.
    # The worker holds two jobs (the one it scans, the next): those finish.
    async def body() -> None:
        async with started(lists, 1) as pool:
            running = asyncio.ensure_future(pool.scan(job("网络赌场")))
            await asyncio.sleep(0)
            next_one = asyncio.ensure_future(pool.scan(job("网络赌场")))
            await asyncio.sleep(0)
            waiting = asyncio.ensure_future(pool.scan(job("网络赌场")))
            await asyncio.sleep(0)
            pool.close()
            assert (await asyncio.wait_for(running, 10)).status == "mask"
            assert (await asyncio.wait_for(next_one, 10)).status == "mask"
            with pytest.raises(RuntimeError, match="closed"):
                await asyncio.wait_for(waiting, 5)

    asyncio.run(body())


def test_a_worker_handed_to_a_flow_that_went_away_serves_the_next_scan(lists: ListSet) -> None:
    async def body() -> None:
        async with started(lists, 1) as pool:
            (w,) = pool._all
            running = asyncio.ensure_future(pool.scan(job("ok")))
            await asyncio.sleep(0)
            gone = asyncio.ensure_future(pool.scan(job("ok")))
            await asyncio.sleep(0)
            answer = w.data_received

            def answer_then_client_leaves(data: bytes) -> None:
                answer(data)  # the free worker goes to the waiting scan...
                gone.cancel()  # ...whose client disconnects before it runs

            w.data_received = answer_then_client_leaves  # type: ignore[method-assign]
            await asyncio.wait_for(running, 10)
            with pytest.raises(asyncio.CancelledError):
                await gone
            w.data_received = answer  # type: ignore[method-assign]
            assert (await asyncio.wait_for(pool.scan(job("网络赌场")), 5)).status == "mask"

    asyncio.run(body())


def test_scans_fail_instead_of_waiting_when_no_worker_can_be_started(
    lists: ListSet, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Out of memory: the only worker is killed and fork fails. Waiting flows get an error
    # outcome (the profile's error policy then blocks or passes), not an endless wait.
    async def body() -> None:
        async with started(lists, 1) as pool:
            (w,) = pool._all
            os.kill(w.pid, signal.SIGSTOP)  # busy with the first scan...
            first = asyncio.ensure_future(pool.scan(job("网络赌场")))
            await asyncio.sleep(0.1)
            queued = asyncio.ensure_future(pool.scan(job("网络赌场")))
            await asyncio.sleep(0.1)

            def no_memory() -> int:
                raise OSError(12, "Cannot allocate memory")

            monkeypatch.setattr(os, "fork", no_memory)
            os.kill(w.pid, signal.SIGKILL)  # ...and then killed
            outs = await asyncio.wait_for(asyncio.gather(first, queued), 10)
            assert [o.status for o in outs] == ["error", "error"]
            assert "could be started" in (outs[1].problem or "")
            later = await asyncio.wait_for(pool.scan(job("网络赌场")), 5)
            assert later.status == "error" and "no scan worker" in (later.problem or "")

    asyncio.run(body())


def test_bodies_too_big_for_the_shared_area_go_through_the_socket(lists: ListSet) -> None:
    # Pages up to a couple of megabytes cross in shared memory, bigger ones inline: both
    # come back masked, whole, and a small page after a big one is not mixed with it.
    async def body() -> None:
        async with started(lists, 1) as pool:
            filler = "好" * (1 << 20)  # 3 MB of UTF-8
            big = await pool.scan(job(f"网络赌场{filler}网络赌场"))
            assert big.status == "mask"
            assert big.body == f"<p>****{filler}****</p>".encode()
            small = await pool.scan(job("网络赌场!"))
            assert small.status == "mask" and small.body == b"<p>****!</p>"

    asyncio.run(body())


def test_the_job_queued_behind_a_dead_workers_scan_is_scanned_by_another(
    lists: ListSet,
) -> None:
    # A worker holds the job it scans and the next one; when it dies or hangs, only the
    # first fails (the profile's on_error), the second never started and is scanned anew.
    async def two_on_a_stopped_worker(
        pool: ScanPool, tag: str
    ) -> tuple[int, asyncio.Future[list[ScanOutcome]]]:
        (w,) = pool._all
        os.kill(w.pid, signal.SIGSTOP)
        first = asyncio.ensure_future(pool.scan(job("网络赌场")))
        await asyncio.sleep(0)
        second = asyncio.ensure_future(pool.scan(job(f"网络赌场 {tag}")))
        await asyncio.sleep(0.1)
        assert len(w.jobs) == 2  # both went to the worker
        return w.pid, asyncio.gather(first, second)

    async def body() -> None:
        async with started(lists, 1, timeout=2.0) as pool:
            _, both = await two_on_a_stopped_worker(pool, "again")  # it hangs
            outs = await asyncio.wait_for(both, 20)
            assert outs[0].status == "error" and "longer than 2 s" in (outs[0].problem or "")
            assert outs[1].status == "mask" and outs[1].body == b"<p>**** again</p>"

            pid, both = await two_on_a_stopped_worker(pool, "too")
            os.kill(pid, signal.SIGKILL)  # it dies
            outs = await asyncio.wait_for(both, 20)
            assert outs[0].status == "error" and outs[0].problem == "scan worker died"
            assert outs[1].status == "mask" and outs[1].body == b"<p>**** too</p>"

    asyncio.run(body())


def test_small_pages_never_wait_behind_a_big_one(lists: ListSet) -> None:
    # The worker scanning a big page takes no second job: small pages go to the other
    # worker (two deep) or wait for the first free one.
    async def body() -> None:
        async with started(lists, 2) as pool:
            busy = pool._all[0]  # free workers are taken in order: it gets the big page
            os.kill(busy.pid, signal.SIGSTOP)  # a scan that takes its time
            big = asyncio.ensure_future(pool.scan(job("网络赌场" + "好" * 200_000)))
            await asyncio.sleep(0)
            assert len(busy.jobs) == 1
            small = [asyncio.ensure_future(pool.scan(job(f"网络赌场 {i}"))) for i in range(6)]
            outs = await asyncio.wait_for(asyncio.gather(*small), 20)
            assert [o.body for o in outs] == [f"<p>**** {i}</p>".encode() for i in range(6)]
            assert not big.done() and len(busy.jobs) == 1
            os.kill(busy.pid, signal.SIGCONT)
            assert (await asyncio.wait_for(big, 20)).status == "mask"

    asyncio.run(body())
