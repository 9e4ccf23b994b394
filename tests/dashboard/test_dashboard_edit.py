"""Profiles and clients edited in the browser: validated, written atomically with a
backup, comments kept; reports exported as a corpus ``qinglang lists test`` reads."""

from __future__ import annotations

import http.server
import re
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from qinglang.dashboard import reports
from qinglang.listtools.corpus import discover
from qinglang.policy.config import load_config
from qinglang.store.reports import Report, add_report

from .conftest import Home, TestClient, blocked, csrf_of


def _form(page: str) -> dict[str, str]:
    digest = re.search(r'name="digest" value="([^"]+)"', page).group(1)
    return {"csrf": csrf_of(page), "digest": digest}


def test_profile_edit_is_written_back(make_client: Callable[..., TestClient], home: Home) -> None:
    c = make_client()
    page = c.get("/profiles/child").text
    data = {
        **_form(page),
        "filter": "on",
        "mask": "on",
        "block_threshold": "80",
        "pii": "mask",
        "categories": "",
        "age": "",
        "daily_minutes": "{weekdays: 45, weekends: 90}",
        "curfew": "21:30-06:30",
        "safe_search": "on",
        "deny_domains": "games.example\nvideo.example",
    }
    r = c.post("/profiles/child", data=data)
    assert r.status_code == 200 and "Saved" in r.text
    text = home.config.read_text(encoding="utf-8")
    assert "# the family's proxy" in text and "# the children" in text and "# dad's phone" in text
    cfg = load_config(home.config)
    child = cfg.profiles["child"]
    assert child.block_threshold == 80 and child.safe_search is True
    assert child.deny_domains == ["games.example", "video.example"]
    assert child.daily_minutes is not None and child.daily_minutes.weekdays == 45
    backup = home.config.with_name("qinglang.yaml.bak")
    assert "block_threshold: 100" in backup.read_text(encoding="utf-8")
    assert "profile changed" in c.get("/audit").text


def test_a_bad_edit_is_rejected_with_the_reason(
    make_client: Callable[..., TestClient], home: Home
) -> None:
    before = home.config.read_text(encoding="utf-8")
    c = make_client()
    page = c.get("/profiles/child").text
    r = c.post(
        "/profiles/child",
        data={**_form(page), "filter": "on", "block_threshold": "100", "pii": "mask",
              "curfew": "25:00-06:00"},
    )  # fmt: skip
    assert r.status_code == 400
    assert "curfew" in r.text and "qinglang.yaml:" in r.text
    assert home.config.read_text(encoding="utf-8") == before
    assert 'value="25:00-06:00"' in r.text  # what was typed stays in the form
    r = c.post("/profiles/child", data={**_form(page), "block_threshold": "zero"})
    assert r.status_code == 400 and "not a whole number" in r.text


def test_a_concurrent_edit_is_not_lost(make_client: Callable[..., TestClient], home: Home) -> None:
    c = make_client()
    page = c.get("/profiles/child").text
    home.config.write_text(home.config.read_text(encoding="utf-8") + "# edited by hand\n")
    r = c.post("/profiles/child", data={**_form(page), "block_threshold": "70", "pii": "mask"})
    assert r.status_code == 400 and "changed meanwhile" in r.text
    assert "# edited by hand" in home.config.read_text(encoding="utf-8")


def test_clients_and_new_profile(make_client: Callable[..., TestClient], home: Home) -> None:
    c = make_client()
    page = c.get("/profiles").text
    c.post("/profiles", data={**_form(page), "name": "teen"})
    page = c.get("/clients").text
    r = c.post(
        "/clients",
        data={
            **_form(page), "count": "2",
            "kind0": "match", "value0": "10.0.0.2", "profile0": "adult",
            "kind1": "match", "value1": "10.0.0.0/24", "profile1": "child", "remove1": "on",
            "kind2": "user", "value2": "sam", "profile2": "teen",
            "default_profile": "child",
        },
    )  # fmt: skip
    assert r.status_code == 200, r.text
    cfg = load_config(home.config)
    assert [(x.match, x.user, x.profile) for x in cfg.clients] == [
        ("10.0.0.2", None, "adult"),
        (None, "sam", "teen"),
    ]
    assert "# dad's phone" in home.config.read_text(encoding="utf-8")
    page = c.get("/clients").text
    r = c.post("/clients", data={**_form(page), "count": "0", "kind0": "match",
                                  "value0": "not-an-ip", "profile0": "child"})  # fmt: skip
    assert r.status_code == 400 and "not an IP address or CIDR" in r.text


class _Pages(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = f"<html><body>page {self.path}</body></html>".encode()
        self.send_response(200)
        self.send_header("content-type", "text/html; charset=utf-8")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def upstream() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Pages)
    t = threading.Thread(target=server.serve_forever, daemon=True)
    t.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_reports_export_as_a_corpus(
    make_client: Callable[..., TestClient], home: Home, upstream: str, tmp_path: Path
) -> None:
    ev = blocked("127.0.0.1", path="/homework")
    home.events(ev)
    now = time.time()
    # Recorded by the proxy's report entry, in the event database.
    add_report(home.events_db, Report("10.0.0.7", "mistake", f"{upstream}/homework",
                                      "127.0.0.1", event_id=ev.id, ts=now))  # fmt: skip
    add_report(home.events_db, Report("10.0.0.7", "harmful", f"{upstream}/bad", "127.0.0.1",
                                      ts=now + 1))  # fmt: skip
    c = make_client()
    page = c.get("/reports").text
    assert "/homework" in page and "网络赌场" in page and "blocked by mistake" in page
    conn = reports.connect(home.events_db, home.settings.state_db)
    out = tmp_path / "corpus"
    result = reports.export(conn, out, lambda url: (f"<p>{url}</p>".encode(), "text/html"))
    conn.close()
    assert sorted(result.written) == ["allow/report-1.html", "block/report-2.html"]
    docs = discover(out, ["gambling"])
    assert sorted((d.expect, d.name) for d in docs) == [
        ("allow", "allow/report-1.html"),
        ("block", "block/report-2.html"),
    ]
    assert "网络赌场" in (out / "reports.json").read_text(encoding="utf-8")
    assert "No open reports" in c.get("/reports").text


def test_reports_export_download(
    make_client: Callable[..., TestClient], home: Home, upstream: str
) -> None:
    import io
    import zipfile

    add_report(home.events_db, Report("10.0.0.7", "harmful", f"{upstream}/bad", "127.0.0.1",
                                      ts=time.time()))  # fmt: skip
    c = make_client()
    page = c.get("/reports").text
    r = c.post("/reports/export", data={"csrf": csrf_of(page)})
    assert r.headers["content-type"] == "application/zip"
    z = zipfile.ZipFile(io.BytesIO(r.content))
    # The reported address is on this machine, not a public one: the export does not
    # fetch it (a report could point it at the router), and the report stays open.
    assert not [n for n in z.namelist() if n.endswith(".html")]
    assert "/bad" in c.get("/reports").text
    assert "0 written, 1 failed" in c.get("/audit").text
