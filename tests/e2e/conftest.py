"""Fixtures for the end-to-end tests: a real upstream server, a real mitmdump with the
qinglang addon in a subprocess, and HTTP clients that trust the proxy's CA.

Every mitmdump gets its own port, confdir, config and lists; it is stopped at the end even
when a test fails (SIGTERM to its process group, then SIGKILL).
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import ssl
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import httpcore
import httpx
import pytest

from .upstream import Upstream

ROOT = Path(__file__).resolve().parents[2]
ADDON = ROOT / "addons" / "qinglang" / "addon.py"
START_TIMEOUT = 40.0

LISTS = {
    "gambling.yaml": """
        category: gambling
        lang: zh
        weight: 10
        terms:
          - 赌博
          - {term: 网络赌场, weight: 40}
          - {term: casino, weight: 30}
    """,
    "porn.yaml": """
        category: porn
        weight: 60
        terms:
          - 裸聊
    """,
}

CONFIG = """
    lists: [lists]
    profiles:
      child:
        max_scan_bytes: 1048576
        allow_ports: ["1024-65535"]  # the test upstreams listen on ephemeral ports
      adult:
        filter: false
      teen:
        allow_ports: ["1024-65535"]
        block_threshold: 150
        max_scan_bytes: 65536
        on_oversize: pass
        on_error: pass
        passthrough_hosts: [localhost]
    clients:
      - {match: 127.0.0.2, profile: adult}
      - {match: 127.0.0.3, profile: teen}
      - {user: mum, profile: adult}
    default_profile: child
    events: {db: events.sqlite, retention_days: 30}
"""

CHILD, ADULT, TEEN = "127.0.0.1", "127.0.0.2", "127.0.0.3"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def stop_group(proc: subprocess.Popen[bytes]) -> None:
    """Stop a process started with ``start_new_session=True`` and its whole group (a
    mitmdump's scan workers share it): SIGTERM, ten seconds, then SIGKILL for the rest."""
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(10)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(5)


class Proxy:
    """One mitmdump process with the addon, its files and its log."""

    def __init__(self, home: Path, extra: list[str] | None = None) -> None:
        self.home = home
        self.confdir = home / "confdir"
        self.confdir.mkdir(parents=True, exist_ok=True)
        self.lists = home / "lists"
        self.lists.mkdir(exist_ok=True)
        for name, body in LISTS.items():
            (self.lists / name).write_text(textwrap.dedent(body), encoding="utf-8")
        self.config = home / "qinglang.yaml"
        self.config.write_text(textwrap.dedent(CONFIG), encoding="utf-8")
        self.events_db = home / "events.sqlite"
        self.port = free_port()
        self.log_path = home / "mitmdump.log"
        self.extra = extra or []
        self.proc: subprocess.Popen[bytes] | None = None
        self.expect_errors = False  # a test that makes start-up fail on purpose
        self._served_log: str | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ca(self) -> Path:
        return self.confdir / "mitmproxy-ca-cert.pem"

    def log(self) -> str:
        if not self.log_path.exists():
            return ""
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def start(self) -> Proxy:
        cmd = [
            sys.executable,
            "-c",
            "from mitmproxy.tools.main import mitmdump; mitmdump()",
            "-s",
            str(ADDON),
            "--listen-host",
            "127.0.0.1",
            "--listen-port",
            str(self.port),
            "--set",
            f"confdir={self.confdir}",
            "--set",
            "ssl_insecure=true",
            "--set",
            f"qinglang_config={self.config}",
            "--set",
            "qinglang_reload=1",
            "--set",
            "flow_detail=0",
            *self.extra,
        ]
        logf = self.log_path.open("wb")
        self.proc = subprocess.Popen(
            cmd, stdout=logf, stderr=subprocess.STDOUT, start_new_session=True, cwd=self.home
        )
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"mitmdump exited early:\n{self.log()}")
            if "qinglang: filtering proxy listening" in self.log() and self.ca.exists():
                return self
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"mitmdump did not start in {START_TIMEOUT} s:\n{self.log()}")

    def assert_no_errors(self) -> None:
        """Bad input must never crash the addon: no traceback in mitmdump's log."""
        # mitmproxy itself may log a cancelled connection task while it shuts down: only
        # what happened while serving counts.
        log = self._served_log if self._served_log is not None else self.log()
        if self.expect_errors:
            return
        for marker in ("Traceback", "Addon error", "error in script"):
            assert marker not in log, f"{marker!r} in mitmdump's log:\n{log[-5000:]}"

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self._served_log = self.log()
        stop_group(self.proc)

    def client(
        self,
        source: str = CHILD,
        *,
        http2: bool = False,
        auth: tuple[str, str] | None = None,
        timeout: float = 20.0,
    ) -> httpx.Client:
        """An HTTP client bound to ``source`` (a loopback address) that uses this proxy."""
        ctx = ssl.create_default_context(cafile=str(self.ca))
        transport = _BoundProxyTransport(self.port, source, ctx, http2=http2, auth=auth)
        return httpx.Client(transport=transport, timeout=timeout)


class _BoundBackend(httpcore.SyncBackend):
    """Connects from one source address, whatever the caller asks for."""

    def __init__(self, source: str) -> None:
        self.source = source

    def connect_tcp(  # type: ignore[override]
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: object = None,
    ) -> httpcore.NetworkStream:
        return super().connect_tcp(host, port, timeout, self.source, socket_options)  # type: ignore[arg-type]


class _BoundProxyTransport(httpx.HTTPTransport):
    """httpx's proxy transport, connecting from a chosen source address.

    httpx's proxy pool ignores ``local_address`` (httpcore's proxy connections do not pass
    it on), so the pool is built here with a network backend that binds the source.
    """

    def __init__(
        self,
        port: int,
        source: str,
        ctx: ssl.SSLContext,
        *,
        http2: bool,
        auth: tuple[str, str] | None,
    ) -> None:
        super().__init__(verify=ctx, http2=http2)
        self._pool = httpcore.HTTPProxy(
            proxy_url=httpcore.URL(scheme=b"http", host=b"127.0.0.1", port=port, target=b"/"),
            proxy_auth=(auth[0].encode(), auth[1].encode()) if auth else None,
            ssl_context=ctx,
            http1=True,
            http2=http2,
            network_backend=_BoundBackend(source),
        )


@pytest.fixture(scope="session")
def upstream(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Upstream]:
    up = Upstream(tmp_path_factory.mktemp("upstream"))
    yield up
    up.close()


@pytest.fixture(scope="session")
def proxy(tmp_path_factory: pytest.TempPathFactory, upstream: Upstream) -> Iterator[Proxy]:
    """The shared proxy: tests that edit its files use ``fresh_proxy`` instead."""
    p = Proxy(tmp_path_factory.mktemp("proxy"))
    try:
        yield p.start()
    finally:
        p.stop()
    p.assert_no_errors()


@pytest.fixture
def fresh_proxy(tmp_path: Path, upstream: Upstream) -> Iterator[Proxy]:
    """A proxy of its own, not started: the test may change its files or options first."""
    p = Proxy(tmp_path)
    try:
        yield p
    finally:
        p.stop()
    p.assert_no_errors()
