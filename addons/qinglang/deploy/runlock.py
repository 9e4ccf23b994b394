"""One ``qinglang run`` per data directory, and no restore under a running proxy.

``qinglang run`` holds an advisory lock (flock) on ``qinglang-run.lock`` in the data
directory for as long as it runs, with its process id in the file. ``qinglang restore``
takes the same lock for the time it moves files: while the proxy runs it refuses (a
running proxy would go on writing to the moved-aside stores and enforcing the old
rules), and no proxy can start half-way through a restore. The kernel drops the lock
when the process ends, however it ends, so a crash leaves nothing to clean up.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Iterator
from pathlib import Path

LOCK_NAME = "qinglang-run.lock"


class Running(Exception):
    """The data directory is in use by another process (``pid``: 0 if unknown)."""

    def __init__(self, root: Path, pid: int) -> None:
        super().__init__(f"{root} is in use by qinglang run (pid {pid or '?'})")
        self.root = root
        self.pid = pid


def _open(root: Path) -> int:
    path = root / LOCK_NAME
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    # Made by root (a restore for the service): leave it the service user's, as the folder.
    if os.geteuid() == 0:
        st = root.stat()
        with contextlib.suppress(OSError):
            os.fchown(fd, st.st_uid, st.st_gid)
    return fd


def _pid_in(fd: int) -> int:
    with contextlib.suppress(OSError, ValueError):
        return int(os.pread(fd, 32, 0).decode("ascii").strip() or 0)
    return 0


def acquire(root: Path) -> int:
    """Lock the data directory for this process; returns the descriptor to keep open.

    Raises Running when another process holds it, OSError when the file cannot be made."""
    fd = _open(root)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        pid = _pid_in(fd)
        os.close(fd)
        raise Running(root, pid) from None
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"{os.getpid()}\n".encode("ascii"), 0)
    return fd


@contextlib.contextmanager
def held(root: Path) -> Iterator[None]:
    """The lock for the duration of a block (restore); raises Running if it is taken."""
    fd = acquire(root)
    try:
        yield
    finally:
        os.ftruncate(fd, 0)
        os.close(fd)
