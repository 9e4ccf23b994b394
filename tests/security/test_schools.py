"""Schools (issue 19, item 8), through real mitmdumps: a parent's grant belongs to the pupil
who asked (their proxy log-in), not to the address pupils share; the dashboard's requests
and overview name the pupil; and a worker without a dashboard of its own
(``qinglang_dashboard=off``) enforces grants from the shared state and offers the same
"ask" link on its block page.

The proxy's clock is the real time (grants expire in real time).
"""

from __future__ import annotations

import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from e2e.conftest import Proxy, free_port
from e2e.test_dashboard_flow import _ask_through_the_proxy, _grant, _href, _signed_in
from e2e.youth_support import EN, ROUTE, UPSTREAM_PAGE, RecordingUpstream, eventually

from qinglang.dashboard import accounts
from qinglang.store import dashdb as db

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(180)]

PUPILS = "127.0.0.1"  # every pupil comes from this address (a school's NAT, a balancer)
PASSWORD = "correct horse battery"  # e2e.test_dashboard_flow's parent
CONFIG = """
    lists: [lists]
    profiles:
      child:
        deny_domains: [games.example.test]
      adult:
        filter: false
    clients:
      - {{match: 127.0.0.2, profile: adult}}
    default_profile: child
    events: {{db: events.sqlite}}
    dashboard:
      listen: 127.0.0.1:{port}
      admin_networks: ["::1/128"]
"""


def _start(
    home: Path, upstream: RecordingUpstream, port: int, confdir: Path, extra: list[str]
) -> Proxy:
    proxy = Proxy(
        home,
        extra=[
            "-s", str(ROUTE),
            "--set", f"test_upstream_http={upstream.http_port}",
            "--set", f"test_upstream_https={upstream.https_port}",
            "--set", "qinglang_workers=1",
            "--set", "proxyauth=any",
            *extra,
        ],
    )  # fmt: skip
    proxy.confdir = confdir
    proxy.config.write_text(textwrap.dedent(CONFIG.format(port=port)), "utf-8")
    return proxy.start()


@pytest.fixture(scope="module")
def school(
    tmp_path_factory: pytest.TempPathFactory, redis_server: Any
) -> Iterator[tuple[Proxy, Proxy, int]]:
    """Worker a runs the dashboard; worker b (the same machine, the same confdir) runs
    with ``qinglang_dashboard=off``; both share their state in Redis."""
    home = tmp_path_factory.mktemp("school")
    upstream = RecordingUpstream(home)
    confdir = home / "confdir"
    confdir.mkdir()
    conn = db.connect(confdir / "qinglang-dashboard.sqlite")
    accounts.set_password(conn, "mum", PASSWORD)
    conn.close()
    port = free_port()
    state = ["--set", f"qinglang_state={redis_server.url}"]
    workers: list[Proxy] = []
    try:
        workers.append(_start(home / "a", upstream, port, confdir, state))
        eventually(lambda: "qinglang: dashboard on" in workers[0].log(), "the dashboard")
        off = [*state, "--set", "qinglang_dashboard=off"]
        workers.append(_start(home / "b", upstream, port, confdir, off))
        yield workers[0], workers[1], port
    finally:
        for w in workers:
            w.stop()
        upstream.close()
    for w in workers:
        w.assert_no_errors()


def _pupil(proxy: Proxy, name: str) -> httpx.Client:
    return proxy.client(PUPILS, auth=(name, "pw"))


def test_a_grant_belongs_to_the_pupil_who_asked(school: tuple[Proxy, Proxy, int]) -> None:
    a, b, port = school
    game = "https://games.example.test/play"
    with _pupil(b, "mei") as mei, _pupil(b, "lei") as lei:
        # Worker b has no dashboard, yet its block page asks a parent like a's does.
        blocked = mei.get(game, headers=EN)
        assert blocked.status_code == 403
        ask = _href(blocked.text, "qinglang.home.arpa/ask?event=")
        # Lei, at the same address, cannot ask in Mei's name with her event's link.
        assert eventually(
            lambda: lei.get(ask, headers=EN).status_code == 404, "lei refused mei's event"
        )
        _ask_through_the_proxy(mei, ask)  # through worker b
        with _signed_in(port) as parent:
            asks = parent.get("/asks").text
            assert "(mei)" in asks  # the request names the pupil
            _grant(parent, "games.example.test", "site-hour")
            assert "127.0.0.1 (mei)" in parent.get("/asks").text
        # The grant reaches worker b through Redis, for Mei only.
        eventually(lambda: mei.get(game, headers=EN).content == UPSTREAM_PAGE, "mei let in")
        assert lei.get(game, headers=EN).status_code == 403
    with _pupil(a, "mei") as mei_a, _pupil(a, "lei") as lei_a:
        assert mei_a.get(game, headers=EN).content == UPSTREAM_PAGE
        assert lei_a.get(game, headers=EN).status_code == 403


def test_the_overview_names_the_pupil(school: tuple[Proxy, Proxy, int]) -> None:
    a, _, port = school
    with _pupil(a, "tao") as tao:
        assert tao.get("https://games.example.test/tao", headers=EN).status_code == 403
    with _signed_in(port) as parent:
        eventually(
            lambda: "tao @ 127.0.0.1" in parent.get("/?period=today").text,
            "the pupil in the overview's per-device table",
        )
