"""Scale-out for a school, end to end: two real mitmdump workers with the qinglang addon
behind a real HAProxy, sharing a real PostgreSQL (events) and a real Redis (quota minutes),
with the config and lists fetched from a URL with a pinned SHA-256. Every server is a
private one on a free port of 127.0.0.1 (scripts/scaleout_services.py), stopped at the end.

Behind HAProxy in TCP mode every worker sees HAProxy's address, so pupils are told apart
by their proxy log-in (``proxyauth``), as a school does; the quota follows the log-in.
A second HAProxy in HTTP mode (``option forwardfor``, connecting from 127.0.0.9, which the
workers trust through ``qinglang_trusted_proxies``) passes on the device's address.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import http.client
import io
import json
import os
import re
import signal
import tarfile
import textwrap
import threading
import time
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import psycopg
import pytest

from qinglang.dashboard import accounts
from qinglang.dashboard.app import create_app
from qinglang.dashboard.settings import Settings
from qinglang.policy.hosts import PROXY_HOST
from qinglang.store import dashdb as db
from qinglang.store import pgevents

from .conftest import LISTS, Proxy
from .youth_support import API, ROUTE, UPSTREAM_PAGE, ZH, RecordingUpstream, TestClock

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(240)]

CONFIG = """
    lists: [lists]
    profiles:
      child:
        deny_domains: [blocked.example.test]
      counted:
        timezone: Asia/Shanghai
        daily_minutes: 2
        deny_domains: [blocked.example.test]
      staff:
        filter: false
    clients:
      - {user: pupil1, profile: counted}
      - {match: 127.0.0.2, profile: staff}
    default_profile: child
    dashboard: {enabled: false}
"""


def bundle_bytes() -> bytes:
    buf = io.BytesIO()
    files = {"qinglang.yaml": textwrap.dedent(CONFIG)}
    files.update({f"lists/{n}": textwrap.dedent(b) for n, b in LISTS.items()})
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for name, text in files.items():
            data = text.encode("utf-8")
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


class BundleServer:
    """The school's intranet: serves the config bundle on 127.0.0.1."""

    def __init__(self, data: bytes) -> None:
        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                self.send_response(200)
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/qinglang-bundle.tar.gz"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@dataclass
class School:
    a: Proxy
    b: Proxy
    haproxy: Any
    http_haproxy: Any
    clock: TestClock
    upstream: RecordingUpstream
    pg: Any
    redis: Any


def fetch(
    port: int,
    url: str,
    user: str,
    headers: dict[str, str] | None = None,
    source: str = "127.0.0.1",
) -> int:
    """Status of one GET of ``url`` through the proxy on ``port``, logged in as ``user``,
    on a connection of its own from ``source``."""
    host = url.split("/")[2]
    auth = base64.b64encode(f"{user}:pw".encode()).decode()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=20, source_address=(source, 0))
    try:
        conn.request(
            "GET",
            url,
            headers={**(headers or ZH), "Host": host, "Proxy-Authorization": f"Basic {auth}",
                     "Connection": "close"},
        )  # fmt: skip
        resp = conn.getresponse()
        body = resp.read()
        if resp.status == 200:
            assert body == UPSTREAM_PAGE
        return resp.status
    finally:
        conn.close()


def fetch_json(port: int, url: str, user: str) -> dict[str, Any]:
    host = url.split("/")[2]
    auth = base64.b64encode(f"{user}:pw".encode()).decode()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=20)
    try:
        conn.request("GET", url, headers={**API, "Host": host,
                                          "Proxy-Authorization": f"Basic {auth}"})  # fmt: skip
        resp = conn.getresponse()
        out: dict[str, Any] = json.loads(resp.read())
        out["_status"] = resp.status
        return out
    finally:
        conn.close()


@pytest.fixture(scope="module")
def school(
    tmp_path_factory: pytest.TempPathFactory, pg_server: Any, redis_server: Any, services: Any
) -> Iterator[School]:
    home = tmp_path_factory.mktemp("school")
    data = bundle_bytes()
    intranet = BundleServer(data)
    upstream = RecordingUpstream(home)
    clock = TestClock(home / "clock.txt")
    clock.set("2025-06-04T10:00:00+08:00")
    confdir = home / "confdir"  # one CA for every worker
    extra = [
        "-s", str(ROUTE),
        "--set", f"test_upstream_http={upstream.http_port}",
        "--set", f"test_upstream_https={upstream.https_port}",
        "--set", f"qinglang_clock={clock.path}",
        "--set", "qinglang_workers=1",
        "--set", "proxyauth=any",
        "--set", f"qinglang_store={pg_server.url}",
        "--set", f"qinglang_state={redis_server.url}",
        "--set", f"qinglang_config_sha256={hashlib.sha256(data).hexdigest()}",
        "--set", "qinglang_trusted_proxies=127.0.0.9",
    ]  # fmt: skip
    workers = [Proxy(home / "worker-a", extra), Proxy(home / "worker-b", extra)]
    haproxy = services.HAProxy([w.port for w in workers])
    http_haproxy = services.HAProxy([w.port for w in workers], mode="http", source="127.0.0.9")
    try:
        for w in workers:
            w.confdir = confdir
            # Proxy passes its config as qinglang_config (mitmproxy refuses a second
            # value): the bundle's URL takes the place of the file.
            w.config = intranet.url  # type: ignore[assignment]
            w.start()
        haproxy.start()
        http_haproxy.start()
        yield School(
            workers[0], workers[1], haproxy, http_haproxy, clock, upstream, pg_server, redis_server
        )
    finally:
        http_haproxy.stop()
        haproxy.stop()
        for w in workers:
            w.stop()
        upstream.close()
        intranet.close()
    for w in workers:
        log = w.log()
        assert pg_server.password not in log and redis_server.password not in log
        w.assert_no_errors()


def test_workers_run_the_pinned_bundle(school: School) -> None:
    for w in (school.a, school.b):
        assert "SHA-256 verified" in w.log()
        assert "postgresql://qinglang:***@127.0.0.1" in w.log()  # where events go, redacted


def test_quota_used_up_through_one_worker_is_enforced_by_the_other(school: School) -> None:
    a, b, clock = school.a.port, school.b.port, school.clock
    url = "http://www.example.test/"
    clock.set("2025-06-04T10:00:00+08:00")
    assert fetch(b, url, "pupil1") == 200  # b has seen the pupil: 1 minute used
    assert fetch(a, url + "next", "pupil1") == 200  # same minute, through a: still 1
    clock.set("2025-06-04T10:01:00+08:00")
    assert fetch(a, url, "pupil1") == 200  # the second and last minute, through a
    clock.set("2025-06-04T10:02:00+08:00")
    assert fetch(b, url, "pupil1") == 403  # b knows: the daily 2 minutes are used up
    answer = fetch_json(b, "http://www.example.test/api", "pupil1")
    assert answer["_status"] == 403 and answer["reason"] == "quota"
    assert fetch(a, url, "pupil1") == 403
    # Through HAProxy, whichever worker answers.
    for _ in range(4):
        assert fetch(school.haproxy.port, url, "pupil1") == 403
    # Another pupil is not affected.
    assert fetch(school.haproxy.port, url, "pupil2") == 200


def test_events_from_both_workers_land_in_one_table(school: School) -> None:
    tag = str(time.time_ns())
    assert fetch(school.a.port, f"http://blocked.example.test/a-{tag}", "pupil3") == 403
    assert fetch(school.b.port, f"http://blocked.example.test/b-{tag}", "pupil3") == 403
    for i in range(6):
        assert fetch(school.haproxy.port, f"http://blocked.example.test/h{i}-{tag}", "p3") == 403
    url = pgevents.store_url(school.pg.url)
    deadline = time.monotonic() + 20
    while True:
        with psycopg.connect(school.pg.url) as c:
            try:
                rows = c.execute(
                    'SELECT id, path, "user", action, reason FROM events WHERE path LIKE %s',
                    (f"%-{tag}",),
                ).fetchall()
            except psycopg.errors.UndefinedTable:  # no worker has written its first batch yet
                rows = []
        if len(rows) >= 8 or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    paths = {r[1] for r in rows}
    assert paths == {f"/a-{tag}", f"/b-{tag}"} | {f"/h{i}-{tag}" for i in range(6)}
    assert all(r[3] == "block" and r[4] == "deny_domains" for r in rows)
    # A parent can look up any of them by the id on the block page, whichever worker wrote it.
    found = pgevents.lookup(url, rows[0][0])
    assert found is not None and found["host"] == "blocked.example.test"


def test_http_mode_haproxy_passes_on_the_device_address(school: School) -> None:
    port = school.http_haproxy.port
    tag = str(time.time_ns())
    url = f"http://blocked.example.test/x-{tag}"
    assert fetch(port, url, "anyone", source="127.0.0.2") == 200  # staff, by address
    assert "x-forwarded-for" not in school.upstream.last("blocked.example.test").headers
    assert fetch(port, url, "anyone", source="127.0.0.1") == 403  # a pupil's device
    # A device cannot pass for another: HAProxy's own entry (the last) is what counts ...
    forged = {**ZH, "X-Forwarded-For": "127.0.0.2"}
    assert fetch(port, url, "anyone", forged, source="127.0.0.1") == 403
    # ... and a header from anything but the trusted balancer is not believed.
    assert fetch(school.a.port, url, "anyone", forged, source="127.0.0.1") == 403
    # HTTPS: the address on the CONNECT holds for the whole tunnel.
    through = copy.copy(school.a)
    through.port = port
    with through.client("127.0.0.2", auth=("anyone", "pw")) as c:
        assert c.get(f"https://blocked.example.test/s-{tag}", headers=ZH).status_code == 200
    with through.client("127.0.0.1", auth=("anyone", "pw")) as c:
        assert c.get(f"https://blocked.example.test/s-{tag}", headers=ZH).status_code == 403
    deadline = time.monotonic() + 20
    while True:
        with psycopg.connect(school.pg.url) as conn:
            rows = conn.execute(
                "SELECT client FROM events WHERE path LIKE %s", (f"%-{tag}",)
            ).fetchall()
        if len(rows) >= 4 or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert sorted(r[0] for r in rows) == ["127.0.0.1"] * 4  # the device, never 127.0.0.9


def test_a_report_through_the_balancer_is_on_the_dashboards_reports_page(
    school: School, tmp_path: Path
) -> None:
    """A pupil reports a page through HAProxy (whichever worker takes it, the report is in
    PostgreSQL), and the dashboard's reports page, reading PostgreSQL, lists it."""
    tag = str(time.time_ns())
    page_url = f"http://www.example.test/homework-{tag}"
    query = urlencode({"url": f"{page_url}?q=private", "kind": "harmful"})
    auth = base64.b64encode(f"reporter-{tag}:pw".encode()).decode()
    conn = http.client.HTTPConnection("127.0.0.1", school.haproxy.port, timeout=20)
    try:
        conn.request("GET", f"http://{PROXY_HOST}/report?{query}",
                     headers={"Host": PROXY_HOST, "Proxy-Authorization": f"Basic {auth}",
                              "Accept-Language": "en", "Connection": "close"})  # fmt: skip
        resp = conn.getresponse()
        thanks = resp.read().decode()
    finally:
        conn.close()
    assert resp.status == 200 and "Thank you for your report" in thanks
    with psycopg.connect(school.pg.url) as c:
        rows = c.execute(
            'SELECT "user", profile, kind FROM reports WHERE url = %s', (page_url,)
        ).fetchall()
    assert rows == [(f"reporter-{tag}", "child", "harmful")]  # the query string is not kept

    settings = Settings(
        config_path=None,
        events_db=tmp_path / "events.sqlite",
        state_db=tmp_path / "dashboard.sqlite",
        secret_key_file=tmp_path / "dashboard.key",
    )
    state = db.connect(settings.state_db)
    accounts.set_password(state, "teacher", "correct horse battery")
    state.close()
    app = create_app(settings)
    app.state.dash.store = pgevents.store_url(school.pg.url)  # as DashboardAddon sets it
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from starlette.testclient import TestClient
    with TestClient(app, client=("127.0.0.1", 40000), headers={"accept-language": "en"}) as web:
        form = web.get("/signin").text
        csrf = re.search(r'name="csrf" value="([^"]+)"', form).group(1)  # type: ignore[union-attr]
        web.post("/signin", data={"csrf": csrf, "user": "teacher",
                                  "password": "correct horse battery"})  # fmt: skip
        page = web.get("/reports").text
    assert page_url in page and "harmful" in page.lower()
    assert "private" not in page
    assert not settings.events_db.exists()


def test_a_killed_worker_loses_only_its_in_flight_requests(school: School) -> None:
    """The last test on the school's workers: worker a is killed with SIGKILL a quarter of
    the way through a bounded load (8 clients, 480 requests, each on a connection of its
    own) through HAProxy, by the client whose request completes the 120th."""
    port = school.haproxy.port
    total, clients, kill_at = 480, 8, 120
    lock = threading.Lock()
    state = {"next": 0, "in_flight": 0, "done": 0, "failed": 0, "after_kill_ok": 0}
    at_kill: dict[str, int] = {}

    def kill_worker_a() -> None:
        # Under the lock: no request starts or ends between the count and the kill.
        at_kill.update(in_flight=state["in_flight"], failed=state["failed"])
        assert school.a.proc is not None
        os.killpg(os.getpgid(school.a.proc.pid), signal.SIGKILL)
        # SIGKILL lands a moment later: until the worker is gone (its port closed), a new
        # request could still be accepted by it and lost without having been in flight.
        school.a.proc.wait(timeout=30)

    def client() -> None:
        while True:
            with lock:
                if state["next"] >= total:
                    return
                n = state["next"]
                state["next"] += 1
                state["in_flight"] += 1
            try:
                ok = fetch(port, f"http://www.example.test/load/{n}", "loader") == 200
            except (OSError, http.client.HTTPException):
                ok = False
            with lock:
                state["in_flight"] -= 1
                state["done"] += 1
                state["failed"] += 0 if ok else 1
                if at_kill and ok:
                    state["after_kill_ok"] += 1
                if state["done"] == kill_at:
                    kill_worker_a()

    threads = [threading.Thread(target=client, daemon=True) for _ in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not any(t.is_alive() for t in threads)
    assert at_kill, "the load never reached the kill"
    assert at_kill["failed"] == 0  # nothing lost before the kill
    assert state["done"] == total
    # Lost: at most the requests in flight at the kill (some of them were on worker b) ...
    assert state["failed"] <= at_kill["in_flight"], (state, at_kill, school.haproxy.log())
    # ... and every other request after the kill was served, by worker b.
    assert state["after_kill_ok"] == total - kill_at - state["failed"]
    assert fetch(port, "http://www.example.test/after", "loader") == 200


DOWN_CONFIG = """
    lists: [lists]
    profiles:
      child:
        timezone: Asia/Shanghai
        daily_minutes: 60
        deny_domains: [blocked.example.test]
      relaxed:
        timezone: Asia/Shanghai
        daily_minutes: 60
        on_error: pass
        deny_domains: [blocked.example.test]
    clients:
      - {match: 127.0.0.2, profile: relaxed}
    default_profile: child
    dashboard: {enabled: false}
"""


def test_with_postgresql_and_redis_down_filtering_goes_on(tmp_path: Path, services: Any) -> None:
    """Neither server answers (nothing listens on their ports): the worker starts, keeps
    filtering, and each profile's on_error decides about the minutes it cannot count."""
    dead_pg, dead_redis = services.free_port(), services.free_port()
    upstream = RecordingUpstream(tmp_path)
    worker = Proxy(
        tmp_path / "worker",
        [
            "-s", str(ROUTE),
            "--set", f"test_upstream_http={upstream.http_port}",
            "--set", f"test_upstream_https={upstream.https_port}",
            "--set", "qinglang_workers=1",
            "--set", f"qinglang_store=postgresql://q:hunter2pg@127.0.0.1:{dead_pg}/q",
            "--set", f"qinglang_state=redis://:hunter2redis@127.0.0.1:{dead_redis}/0",
        ],
    )  # fmt: skip
    worker.config.write_text(textwrap.dedent(DOWN_CONFIG), encoding="utf-8")
    try:
        worker.start()
        url = "http://www.example.test/"
        # Fail-closed (on_error: block, the default): minutes cannot be counted, so no.
        assert fetch(worker.port, url, "x", source="127.0.0.1") == 403
        # Fail-open (on_error: pass): through, uncounted.
        assert fetch(worker.port, url, "x", source="127.0.0.2") == 200
        # Rules that need no shared state still apply.
        assert fetch(worker.port, "http://blocked.example.test/", "x", source="127.0.0.2") == 403
    finally:
        worker.stop()
        upstream.close()
    log = worker.log()
    assert "hunter2pg" not in log and "hunter2redis" not in log
    assert "is unreachable" in log
    worker.assert_no_errors()
