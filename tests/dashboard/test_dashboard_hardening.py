"""The dashboard under attack: guessing in parallel, a copied cookie after sign-out, its
database file's mode, and a report export pointed at the home network or a slow server."""

from __future__ import annotations

import asyncio
import http.server
import ipaddress
import os
import socketserver
import stat
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from qinglang.dashboard import reports
from qinglang.dashboard.app import SESSION_COOKIE, create_app
from qinglang.dashboard.fetch import NotPublic, fetch_page, is_public
from qinglang.store import dashdb as db
from qinglang.store import lastgood
from qinglang.store.reports import Report, add_report

from .conftest import PASSWORD, Home, TestClient, csrf_of, sign_in


def test_parallel_guesses_get_five_checks(home: Home) -> None:
    """30 wrong passwords sent at once from one address: 5 are checked, 25 refused."""

    async def attack() -> list[int]:
        transport = httpx.ASGITransport(app=create_app(home.settings), client=("10.0.0.2", 1))
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
            token = csrf_of((await c.get("/signin")).text)
            form = {"csrf": token, "user": "mum", "password": "wrong-guess"}
            replies = await asyncio.gather(*(c.post("/signin", data=form) for _ in range(30)))
            right = await c.post("/signin", data={**form, "password": PASSWORD})
            return [r.status_code for r in replies] + [right.status_code]

    codes = asyncio.run(attack())
    assert codes[:30].count(401) == 5 and codes[:30].count(429) == 25
    assert codes[30] == 429  # the right password waits too, until the window passes


def test_sign_out_ends_the_session_on_the_server(
    make_client: Callable[..., TestClient], home: Home
) -> None:
    parent = make_client()
    stolen = parent.cookies.get(SESSION_COOKIE)
    assert stolen
    copy = make_client(signed_in=False)
    copy.cookies.set(SESSION_COOKIE, stolen)
    assert copy.get("/", follow_redirects=False).status_code == 200  # a copy works...
    token = csrf_of(parent.get("/").text)
    parent.post("/signout", data={"csrf": token})
    r = copy.get("/", follow_redirects=False)  # ...until the parent signs out
    assert r.status_code == 303 and r.headers["location"] == "/signin"
    # Signing in again makes a new session; the old cookie stays dead.
    sign_in(parent)
    assert parent.get("/", follow_redirects=False).status_code == 200
    fresh = make_client(signed_in=False)
    fresh.cookies.set(SESSION_COOKIE, stolen)
    assert fresh.get("/", follow_redirects=False).status_code == 303


def test_database_file_is_private(home: Home, make_client: Callable[..., TestClient]) -> None:
    make_client()  # signed in: the file has been written through WAL
    for f in [home.settings.state_db, *home.root.glob("dashboard.sqlite-*")]:
        assert stat.S_IMODE(f.stat().st_mode) == 0o600, f


def test_an_old_database_file_is_made_private(tmp_path: Path) -> None:
    path = tmp_path / "dashboard.sqlite"
    db.connect(path).close()
    os.chmod(path, 0o644)
    db.connect(path).close()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/",
        "http://localhost:8080/admin",
        "http://0x7f.1/",
        "http://2130706433/",
        "http://[::1]/",
        "http://[::ffff:192.168.1.1]/",
        "http://192.168.1.1/",
        "http://10.0.0.1/",
        "http://169.254.169.254/latest/meta-data/",
        "http://100.64.0.1/",
        "http://0.0.0.0/",
    ],
)
def test_export_fetches_only_public_addresses(url: str) -> None:
    with pytest.raises(NotPublic):
        fetch_page(url)


def test_public_means_global() -> None:
    assert is_public(ipaddress.ip_address("8.8.8.8"))
    assert not is_public(ipaddress.ip_address("::ffff:127.0.0.1"))
    assert not is_public(ipaddress.ip_address("224.0.0.1"))


class _Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True


@pytest.fixture
def upstream() -> Iterator[str]:
    """A page that redirects to the router, and one that drips a byte every 0.2 s."""

    class Handler(http.server.BaseHTTPRequestHandler):
        def log_message(self, *a: object) -> None:
            pass

        def do_GET(self) -> None:
            if self.path == "/redirect":
                self.send_response(302)
                self.send_header("Location", "http://127.0.0.2:9/router")
                self.end_headers()
                return
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.end_headers()
            try:
                for _ in range(200):
                    self.wfile.write(b"x")
                    self.wfile.flush()
                    time.sleep(0.2)
            except OSError:
                pass

    srv = _Server(("127.0.0.1", 0), Handler)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{srv.server_address[1]}"
    srv.shutdown()
    srv.server_close()


def _only_first_loopback(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    # Stands for "the public Internet": 127.0.0.1 is allowed, 127.0.0.2 is "the router".
    return str(ip) == "127.0.0.1"


def test_a_redirect_cannot_lead_to_a_private_address(upstream: str) -> None:
    with pytest.raises(NotPublic):
        fetch_page(upstream + "/redirect", allowed=_only_first_loopback)


def test_a_dripping_server_is_cut_at_the_deadline(upstream: str) -> None:
    start = time.monotonic()
    with pytest.raises(ValueError, match="too long"):
        fetch_page(upstream + "/drip", until=start + 1.0, allowed=_only_first_loopback)
    assert time.monotonic() - start < 3.0


def test_export_stops_at_its_deadline(home: Home, tmp_path: Path) -> None:
    for n in (1, 2):
        add_report(home.events_db, Report("10.0.0.7", "harmful", f"https://a.example/{n}",
                                          "a.example", ts=time.time() + n))  # fmt: skip
    conn = reports.connect(home.events_db, home.settings.state_db)
    fetched: list[str] = []

    def fetch(url: str) -> tuple[bytes, str | None]:
        fetched.append(url)
        return b"<p>page</p>", "text/html"

    out = reports.export(conn, tmp_path / "out", fetch, until=time.monotonic() - 1)
    assert fetched == [] and len(out.failed) == 2 and not out.written
    assert len(reports.queue(conn, "open")) == 2  # left open for the next export
    conn.close()


def test_overview_says_the_proxy_runs_on_the_last_rules_that_loaded(
    make_client: Callable[..., TestClient], home: Home
) -> None:
    c = make_client()
    assert 'id="rules-fallback"' not in c.get("/").text
    lastgood.write_status(
        str(home.config),
        lastgood.Status("lists/extra.yaml:3 gives '网络赌场' weight 5", time.time(), None),
    )
    page = c.get("/").text
    assert 'id="rules-fallback"' in page and "lists/extra.yaml:3" in page
    assert "last rules that loaded" in page
    lastgood.write_status(str(home.config), None)
    assert 'id="rules-fallback"' not in c.get("/").text
