"""`qinglang run`: the proxy started the documented way, with mitmdump options passed on."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import pytest

from .conftest import CHILD, Proxy, free_port, stop_group
from .upstream import MASK_TERM, Upstream

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(120)]


def test_qinglang_run_filters_and_says_how_to_install_the_ca(
    fresh_proxy: Proxy, upstream: Upstream, tmp_path: Path
) -> None:
    port = free_port()
    out = tmp_path / "run.log"
    with out.open("wb") as f:
        proc = subprocess.Popen(
            [
                "qinglang",
                "run",
                "--config",
                str(fresh_proxy.config),
                "--listen-host",
                "127.0.0.1",
                "--listen-port",
                str(port),
                "--set",
                f"confdir={fresh_proxy.confdir}",
                "--set",
                "ssl_insecure=true",
            ],
            stdout=f,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + 40
        while "filtering proxy listening" not in out.read_text("utf-8", "replace"):
            assert proc.poll() is None, out.read_text("utf-8", "replace")
            assert time.monotonic() < deadline, out.read_text("utf-8", "replace")
            time.sleep(0.1)
        text = out.read_text("utf-8", "replace")
        assert f"127.0.0.1:{port}" in text
        assert "http://qinglang.home.arpa/setup" in text and "mitmproxy-ca-cert.pem" in text
        fresh_proxy.port = port  # the client helper talks to this process
        with fresh_proxy.client(CHILD) as c:
            r = c.get(upstream.url("/mask.html", True))
        assert r.status_code == 200 and MASK_TERM not in r.text and "****" in r.text
    finally:
        stop_group(proc)
    assert proc.returncode == 0
    # The child's browsing is not printed: mitmdump's one line per request is off unless
    # asked for (the event log says what was decided).
    assert "/mask.html" not in out.read_text("utf-8", "replace")
