"""Before ``qinglang run`` starts mitmdump: is each port it needs free, and if not, which
program holds it.

mitmdump alone reports a taken port as ``Address already in use (os error 98)`` without
the port, and the dashboard's failure came after a banner that had already printed its
address. Each port is tried here first (bound and closed at once), so the banner names
only what can listen and a taken port is named with what wanted it and what holds it.
"""

from __future__ import annotations

import contextlib
import errno
import os
import socket
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

Transport = Literal["tcp", "udp"]
# /proc/net state column: LISTEN for TCP, a bound ("closed") socket for UDP.
_BOUND_STATE = {"tcp": "0A", "udp": "07"}


@dataclass(frozen=True, slots=True)
class Wanted:
    what: str  # for the person reading: "the proxy (HTTP(S) proxy)", "the dashboard"
    host: str  # "" = every address
    port: int
    transport: Transport


def is_taken(w: Wanted) -> bool:
    """Whether binding ``w`` fails because something else has the port. Every address
    (host "") is tried on IPv4 and IPv6, as mitmproxy listens on both."""
    if w.port == 0:
        return False
    host = w.host.strip("[]") if w.host not in ("", "*") else ""
    if host:
        return _bind_fails(host, w.port, w.transport)
    return _bind_fails("0.0.0.0", w.port, w.transport) or (
        socket.has_ipv6 and _bind_fails("::", w.port, w.transport)
    )


def _bind_fails(host: str, port: int, transport: Transport) -> bool:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    kind = socket.SOCK_STREAM if transport == "tcp" else socket.SOCK_DGRAM
    try:
        s = socket.socket(family, kind)
    except OSError:  # no IPv6 on this machine: nothing can hold an IPv6 port
        return False
    with s:
        if transport == "tcp":
            # As asyncio binds: a port in TIME_WAIT from a previous run is not taken.
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if family == socket.AF_INET6:
            s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        try:
            s.bind((host, port))
        except OSError as e:
            return e.errno == errno.EADDRINUSE
    return False


def _inodes(port: int, transport: Transport) -> set[str]:
    found: set[str] = set()
    for table in (f"/proc/net/{transport}", f"/proc/net/{transport}6"):
        with contextlib.suppress(OSError):
            for line in Path(table).read_text().splitlines()[1:]:
                cols = line.split()
                if len(cols) < 10 or cols[3] != _BOUND_STATE[transport]:
                    continue
                if int(cols[1].rpartition(":")[2], 16) == port:
                    found.add(cols[9])
    return found


def holder(port: int, transport: Transport) -> str | None:
    """``pid 123: mitmdump …`` for the process holding the port, if this user may see it
    (Linux's /proc; a process of another user shows no file descriptors)."""
    inodes = {f"socket:[{i}]" for i in _inodes(port, transport)}
    if not inodes:
        return None
    me = os.getpid()
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit() or int(proc.name) == me:
            continue
        try:
            fds = list((proc / "fd").iterdir())
        except OSError:
            continue
        for fd in fds:
            with contextlib.suppress(OSError):
                if os.readlink(fd) in inodes:
                    return f"pid {proc.name}: {_command(proc)}"
    return None


def _command(proc: Path) -> str:
    try:
        args = (proc / "cmdline").read_bytes().split(b"\0")
    except OSError:
        return "?"
    words = [Path(a.decode("utf-8", "replace")).name for a in args[:1]]
    words += [a.decode("utf-8", "replace") for a in args[1:4] if a]
    # One line, printable: a command line can hold anything (newlines, escapes).
    text = " ".join("".join(c if c.isprintable() else " " for c in " ".join(words)).split())
    return text[:80] + ("…" if len(text) > 80 else "")


def describe(w: Wanted) -> str:
    """One line for a taken port: which, for what, held by whom."""
    by = holder(w.port, w.transport)
    where = f"{w.host}:{w.port}" if w.host not in ("", "*") else str(w.port)
    who = f" (used by {by})" if by else " (used by another program)"
    return f"{w.transport.upper()} port {where} for {w.what} is already in use{who}"
