"""The scan workers: real forked processes, their failures, and what they inherit."""

from __future__ import annotations

import asyncio
import os
import pickle
import signal
import socket
import struct
import textwrap
from pathlib import Path

import pytest

from qinglang.config import Profile
from qinglang.lists import ListSet, load_lists
from qinglang.scanjob import ScanJob
from qinglang.scanpool import ScanPool

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


def test_workers_scan_in_parallel_and_survive_a_crash(lists: ListSet) -> None:
    async def body() -> None:
        pool = ScanPool(lists, 2)
        await pool.start()
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
        pool.kill()

    asyncio.run(body())


def test_stuck_scan_times_out_and_the_worker_is_replaced(lists: ListSet) -> None:
    async def body() -> None:
        pool = ScanPool(lists, 1, timeout=1.0)
        await pool.start()
        (w,) = pool._all
        os.kill(w.pid, signal.SIGSTOP)  # a scan that never ends
        out = await pool.scan(job("网络赌场"))
        assert out.status == "error" and "longer than 1 s" in (out.problem or "")
        for _ in range(200):
            if pool._all and w not in pool._all and not pool._idle.empty():  # type: ignore[union-attr]
                break
            await asyncio.sleep(0.05)
        assert (await pool.scan(job("网络赌场"))).status == "mask"
        pool.kill()

    asyncio.run(body())


class _Unreadable:
    def __reduce__(self):  # type: ignore[no-untyped-def]
        return (int, ("not a number",))  # unpickling raises ValueError


def test_a_reply_that_cannot_be_read_fails_the_scan_instead_of_hanging(lists: ListSet) -> None:
    async def body() -> None:
        pool = ScanPool(lists, 1, timeout=60.0)
        await pool.start()
        (w,) = pool._all
        os.kill(w.pid, signal.SIGSTOP)  # its own answer never comes...
        scan = asyncio.ensure_future(pool.scan(job("网络赌场")))
        await asyncio.sleep(0.2)
        payload = pickle.dumps(_Unreadable())
        w.data_received(struct.pack("!I", len(payload)) + payload)  # ...this one does
        with pytest.raises(ValueError):
            await asyncio.wait_for(scan, 5)
        for _ in range(200):  # the worker, in an unknown state, is replaced
            if pool._all and w not in pool._all and not pool._idle.empty():  # type: ignore[union-attr]
                break
            await asyncio.sleep(0.05)
        assert (await pool.scan(job("网络赌场"))).status == "mask"
        pool.kill()

    asyncio.run(body())


def test_workers_do_not_hold_the_proxys_connections_open(lists: ListSet) -> None:
    # A client connection open while the workers are forked must still close when the
    # proxy closes it, not when a worker exits.
    async def body() -> None:
        a, b = socket.socketpair()
        pool = ScanPool(lists, 1)
        await pool.start()
        a.close()
        b.settimeout(5)
        assert b.recv(1) == b""  # end of file at once
        b.close()
        pool.kill()

    asyncio.run(body())


def test_closed_pool_refuses_new_scans_but_finishes_running_ones(lists: ListSet) -> None:
    async def body() -> None:
        pool = ScanPool(lists, 1)
        await pool.start()
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
        pool = ScanPool(lists, 1)
        await pool.start()
        outs = await asyncio.gather(pool.scan(job(text)), pool.scan(job("网络赌场 ok")))
        assert [o.status for o in outs] == ["mask", "mask"]
        assert outs[0].body == f"<p>{text.replace('网络赌场', '****')}</p>".encode()
        assert outs[1].body == b"<p>**** ok</p>"
        pool.kill()

    asyncio.run(body())


def test_a_client_that_goes_away_does_not_cost_a_worker(lists: ListSet) -> None:
    async def body() -> None:
        pool = ScanPool(lists, 1)
        await pool.start()
        gone = asyncio.ensure_future(pool.scan(job("网络赌场" * 100_000)))
        await asyncio.sleep(0.01)
        gone.cancel()  # the flow was killed while its page was being scanned
        out = await asyncio.wait_for(pool.scan(job("网络赌场")), 30)
        assert out.status == "mask" and gone.cancelled()
        pool.kill()

    asyncio.run(body())
