"""The scan workers' side and the wire between them and the proxy.

A job and its answer cross a socket pair as one length-prefixed pickle (``framed``), with
the body, when it fits, in the job's slot of an anonymous shared mapping made before the
fork (``pack``/``unpack``): a copy into shared memory instead of two pickle copies through
the socket. ``worker_main`` is a worker process's whole life: build the engine once from
the lists it inherited, say ``READY``, then scan one job at a time with the pipeline
(``content.pipeline.run_job``) until the proxy closes its end or dies.
"""

from __future__ import annotations

import gc
import mmap
import os
import pickle
import resource
import signal
import socket
import struct
import threading
import time
from dataclasses import replace
from typing import Any, TypeVar

from qinglang.content.pipeline import ScanJob, ScanOutcome, run_job
from qinglang.engine.lists import ListSet
from qinglang.engine.scanner import Engine
from qinglang.pages.risknotice import notice_for

HEADER = struct.Struct("!I")
READY = b"ready"
JOIN_BELOW = 1 << 20  # bytes: frames smaller than this go in one write
# Per job a worker holds (two), for the body of the job and then of its answer. Only the
# pages a body touches are ever resident.
SHARED_BYTES = 2 << 20
Msg = TypeVar("Msg", ScanJob, ScanOutcome)


def recv_exact(sock: socket.socket, n: int) -> bytes | None:
    buf = bytearray(n)
    view = memoryview(buf)
    got = 0
    while got < n:
        k = sock.recv_into(view[got:])
        if k == 0:
            return None
        got += k
    return bytes(buf)


def framed(payload: bytes) -> tuple[bytes, ...]:
    """The writes of one frame: a single one, since each write wakes the other process
    (measured: two writes were a quarter of the proxy's CPU on small pages), except that a
    big body is not copied just to save one wake-up."""
    head = HEADER.pack(len(payload))
    return (head + payload,) if len(payload) < JOIN_BELOW else (head, payload)


def pack(shared: mmap.mmap, slot: int, msg: Msg) -> bytes:
    """A job or an answer as the socket carries it: its body copied into the job's slot of
    the shared area (the pickle says where and how long), or inline when there is none or
    it does not fit."""
    body = msg.body
    if body is None or len(body) > SHARED_BYTES:
        return pickle.dumps((slot, -1, msg), protocol=pickle.HIGHEST_PROTOCOL)
    at = slot * SHARED_BYTES
    shared[at : at + len(body)] = body
    return pickle.dumps((slot, len(body), replace(msg, body=b"")), protocol=pickle.HIGHEST_PROTOCOL)


def unpack(shared: mmap.mmap, payload: bytes | memoryview) -> tuple[int, Any]:
    """The slot and the message ``pack`` sent, its body read back from the shared area."""
    slot, n, msg = pickle.loads(payload)
    if n < 0:
        return slot, msg
    at = slot * SHARED_BYTES
    return slot, replace(msg, body=shared[at : at + n])


def send_frame(sock: socket.socket, payload: bytes) -> None:
    for part in framed(payload):
        sock.sendall(part)


def worker_main(sock: socket.socket, shared: mmap.mmap, lists: ListSet, parent: int) -> None:
    # Objects inherited from the proxy are never collected here, so no finalizer of theirs
    # runs (and pages of memory stay shared with the parent).
    gc.freeze()
    # The proxy handles Ctrl-C and SIGTERM; a signal reaching a worker must not be written
    # into the proxy's inherited wake-up pipe.
    signal.set_wakeup_fd(-1)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    keep = sock.fileno()
    os.closerange(3, keep)
    os.closerange(keep + 1, min(resource.getrlimit(resource.RLIMIT_NOFILE)[0], 1 << 20))
    threading.Thread(target=_exit_with_parent, args=(parent,), daemon=True).start()
    try:
        engine = Engine(lists)
    except Exception as e:
        send_frame(sock, pickle.dumps(f"cannot build the engine: {type(e).__name__}: {e}"))
        return
    send_frame(sock, READY)
    while True:
        head = recv_exact(sock, HEADER.size)
        if head is None:
            return  # the proxy closed our socket: stop
        data = recv_exact(sock, HEADER.unpack(head)[0])
        if data is None:
            return
        slot, job = unpack(shared, data)
        send_frame(sock, pack(shared, slot, run_job(engine, job, notice_for)))


def _exit_with_parent(parent: int) -> None:
    # A killed proxy cannot tell its workers to stop; they notice they were orphaned.
    while os.getppid() == parent:
        time.sleep(1.0)
    os._exit(0)
