"""Rules picked up without a restart; broken edits rejected; a broken start never serves."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable

import pytest

from .conftest import ADULT, CHILD, Proxy
from .upstream import MASK_TERM, Upstream

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(120)]


def eventually(check: Callable[[], bool], what: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.3)
    raise AssertionError(f"timed out waiting for: {what}")


def test_list_edit_is_picked_up_and_broken_edit_rejected(
    fresh_proxy: Proxy, upstream: Upstream
) -> None:
    proxy = fresh_proxy.start()
    lst = proxy.lists / "weather.yaml"
    url = upstream.url("/clean.html", True)
    with proxy.client(CHILD) as c:
        assert "天气" in c.get(url).text

        lst.write_text("category: gambling\nterms:\n  - 天气\n", encoding="utf-8")
        eventually(lambda: "天气" not in c.get(url).text, "the new term masks the page")

        # A broken edit: the log says where and why, and the rules in force stay.
        lst.write_text("category: gambling\nterms:\n  - {term: 天气, weight: lots}\n", "utf-8")
        eventually(lambda: "edit rejected" in proxy.log(), "the broken edit is reported")
        assert "weather.yaml:3" in proxy.log()
        assert "天气" not in c.get(url).text
        assert MASK_TERM not in c.get(upstream.url("/mask.html")).text

        lst.unlink()
        eventually(lambda: "天气" in c.get(url).text, "the removed list no longer applies")


def test_config_edit_moves_a_client_to_another_profile(
    fresh_proxy: Proxy, upstream: Upstream
) -> None:
    proxy = fresh_proxy.start()
    url = upstream.url("/mask.html")
    with proxy.client(ADULT) as c:
        assert MASK_TERM in c.get(url).text
        cfg = proxy.config.read_text(encoding="utf-8")
        proxy.config.write_text(cfg.replace("match: 127.0.0.2", "match: 127.0.0.9"), "utf-8")
        eventually(lambda: MASK_TERM not in c.get(url).text, "127.0.0.2 falls to the child")


def test_proxy_auth_user_picks_the_profile(fresh_proxy: Proxy, upstream: Upstream) -> None:
    fresh_proxy.extra = ["--set", "proxyauth=any"]
    proxy = fresh_proxy.start()
    for tls in (False, True):
        url = upstream.url("/mask.html", tls)
        with proxy.client(CHILD, auth=("mum", "pw")) as mum:
            assert MASK_TERM in mum.get(url).text
        with proxy.client(CHILD, auth=("kid", "pw")) as kid:
            assert MASK_TERM not in kid.get(url).text


def test_broken_config_stops_start_up(fresh_proxy: Proxy) -> None:
    fresh_proxy.config.write_text("profiles:\n  child:\n    block_threshold: lots\n", "utf-8")
    fresh_proxy.expect_errors = True  # mitmproxy logs the rejected option with a traceback
    with pytest.raises(RuntimeError, match="exited early"):
        fresh_proxy.start()
    log = fresh_proxy.log()
    assert "qinglang.yaml:3" in log and "block_threshold" in log


def test_qinglang_run_rejects_a_broken_config(tmp_path: object) -> None:
    from pathlib import Path

    cfg = Path(str(tmp_path)) / "q.yaml"
    cfg.write_text("default_profile: nobody\n", encoding="utf-8")
    r = subprocess.run(
        ["qinglang", "run", "--config", str(cfg), "--listen-port", "0"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert r.returncode == 2
    assert "q.yaml:1" in r.stderr and "nobody" in r.stderr
