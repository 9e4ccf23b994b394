"""The dashboard inside a real mitmdump: its own listener, closed to filtered devices
directly and through the proxy, and the child's pages answered by the proxy."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from e2e.conftest import ADULT, TEEN, Proxy, free_port

from qinglang.dashboard import asks
from qinglang.policy.hosts import PROXY_HOST
from qinglang.store import dashdb as db

pytestmark = pytest.mark.e2e


@pytest.fixture
def proxy(tmp_path: Path) -> Iterator[tuple[Proxy, int]]:
    port = free_port()
    p = Proxy(tmp_path, extra=["--set", f"qinglang_dashboard=127.0.0.1:{port}"])
    p.start()
    deadline = time.monotonic() + 20
    while "qinglang: dashboard on" not in p.log() and time.monotonic() < deadline:
        time.sleep(0.1)
    try:
        yield p, port
    finally:
        p.stop()
    p.assert_no_errors()


def _direct(source: str) -> httpx.Client:
    return httpx.Client(transport=httpx.HTTPTransport(local_address=source), timeout=20)


def test_filtered_device_cannot_reach_the_dashboard(proxy: tuple[Proxy, int]) -> None:
    p, port = proxy
    url = f"http://127.0.0.1:{port}/signin"
    with _direct(TEEN) as c:  # teen is a filtered profile
        assert c.get(url).status_code == 403
    with p.client(TEEN) as c:
        r = c.get(url, headers={"accept-language": "en"})
        # A page a child understands, not the proxy's "502 Connection killed".
        assert r.status_code == 403 and "signin" not in r.text.lower()
        assert "This page is for parents" in r.text
        r = c.get(f"http://localhost:{port}/signin")
        assert r.status_code == 403 and "这个页面是给家长用的" in r.text
    with _direct(ADULT) as c:  # the adult profile is not filtered
        assert c.get(url).status_code == 200
    with p.client(ADULT) as c:
        assert c.get(url).status_code == 200


def test_child_asks_through_the_proxy(proxy: tuple[Proxy, int]) -> None:
    p, _port = proxy
    with p.client(TEEN) as c:
        form = c.get(
            f"http://{PROXY_HOST}/ask",
            params={"kind": "time", "url": "https://school.example/work"},
            headers={"accept-language": "en"},
        )
        assert form.status_code == 200 and "Ask a parent" in form.text
        token = re.search(r'name="token" value="([^"]+)"', form.text).group(1)
        sent = c.post(
            f"http://{PROXY_HOST}/ask",
            data={"token": token, "kind": "time", "url": "https://school.example/work"},
            headers={"accept-language": "en"},
        )
        assert sent.status_code == 200 and "request was sent" in sent.text
    conn = db.connect(p.confdir / "qinglang-dashboard.sqlite")
    [row] = asks.open_requests(conn)
    conn.close()
    assert row["client"] == TEEN and row["profile"] == "teen" and row["host"] == "school.example"
