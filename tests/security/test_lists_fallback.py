"""A conflicting list file never takes the filter down: `qinglang run` restarted with one
starts with the last rules that loaded, says so, records it, and keeps filtering.

The child's move: a list file in the data directory's lists folder (or a parent's
well-meant download) that gives a shipped term another weight. Before, the restart after
it (a power cut, an update) stopped with an error, and whatever was set up to fall back
to a direct connection then had no filter at all.
"""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from e2e.conftest import CHILD, Proxy, free_port, fresh_proxy, stop_group, upstream
from e2e.upstream import Upstream
from e2e.youth_support import events, eventually

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(180)]
__all__ = ["fresh_proxy", "upstream"]  # the e2e fixtures, used here

CONFLICT = "category: gambling\nterms:\n  - {term: 网络赌场, weight: 5}\n"


@contextmanager
def qinglang_run(proxy: Proxy, out: Path) -> Iterator[subprocess.Popen[bytes]]:
    proxy.port = free_port()
    with out.open("wb") as f:
        proc = subprocess.Popen(
            [
                "qinglang", "run", "--config", str(proxy.config),
                "--listen-host", "127.0.0.1", "--listen-port", str(proxy.port),
                "--set", f"confdir={proxy.confdir}", "--set", "ssl_insecure=true",
                "--set", "qinglang_reload=1", "--set", "qinglang_workers=1",
                "--set", "qinglang_dashboard=off",
            ],
            stdout=f, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
    try:
        deadline = time.monotonic() + 40
        while "filtering proxy listening" not in out.read_text("utf-8", "replace"):
            assert proc.poll() is None, out.read_text("utf-8", "replace")
            assert time.monotonic() < deadline, out.read_text("utf-8", "replace")
            time.sleep(0.1)
        yield proc
    finally:
        stop_group(proc)


def status(proxy: Proxy, upstream: Upstream, page: str) -> int:
    with proxy.client(CHILD) as c:
        return c.get(upstream.url(page, True)).status_code


def test_restart_with_a_conflicting_list_keeps_filtering(
    fresh_proxy: Proxy, upstream: Upstream, tmp_path: Path
) -> None:
    with qinglang_run(fresh_proxy, tmp_path / "first.log"):
        assert status(fresh_proxy, upstream, "/block.html") == 403
    saved = fresh_proxy.home / "qinglang-last-good"
    assert (saved / "manifest.json").is_file()

    extra = fresh_proxy.lists / "extra.yaml"
    extra.write_text(CONFLICT, encoding="utf-8")
    out = tmp_path / "second.log"
    with qinglang_run(fresh_proxy, out):
        text = out.read_text("utf-8", "replace")
        assert "the lists do not load" in text and "extra.yaml" in text
        assert "last rules that loaded" in text
        # Still filtering, with the rules that loaded before.
        assert status(fresh_proxy, upstream, "/block.html") == 403
        assert status(fresh_proxy, upstream, "/clean.html") == 200
        state = json.loads((fresh_proxy.home / "qinglang-rules-status.json").read_text("utf-8"))
        assert "extra.yaml" in state["problem"]
        eventually(
            lambda: events(fresh_proxy, reason="last rules that loaded"),
            "an event saying the proxy runs on the last rules that loaded",
        )
        # Fixed without a restart: the real lists are in force again and the notice goes.
        extra.unlink()
        eventually(
            lambda: not (fresh_proxy.home / "qinglang-rules-status.json").exists(),
            "the status cleared once the lists load",
        )
        assert status(fresh_proxy, upstream, "/block.html") == 403
        # The same file added while it runs: rejected, the rules in force stay, and it is
        # said the same way; taking it out again (the same rules as in force) clears it.
        status_file = fresh_proxy.home / "qinglang-rules-status.json"
        extra.write_text(CONFLICT, encoding="utf-8")
        eventually(status_file.exists, "the status written for a rejected edit")
        assert status(fresh_proxy, upstream, "/block.html") == 403
        extra.unlink()
        eventually(lambda: not status_file.exists(), "the status cleared again")


def test_no_saved_rules_still_refuses_to_start(fresh_proxy: Proxy, tmp_path: Path) -> None:
    """Lists that never loaded leave nothing to fall back on: a clear refusal, as before."""
    (fresh_proxy.lists / "extra.yaml").write_text(CONFLICT, encoding="utf-8")
    r = subprocess.run(
        ["qinglang", "run", "--config", str(fresh_proxy.config),
         "--set", f"confdir={fresh_proxy.confdir}"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert r.returncode == 2
    assert "extra.yaml" in r.stderr and "网络赌场" in r.stderr
