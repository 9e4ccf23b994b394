"""The report entry the proxy answers itself (mitmproxy's test helpers, real SQLite)."""

from __future__ import annotations

import asyncio
import sqlite3
import textwrap
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, quote, urlsplit

import pytest
from mitmproxy import http
from mitmproxy.test import taddons, tflow

from qinglang.engine.verdict import Action, Decision, Reason
from qinglang.pages import blockpage
from qinglang.pages.risknotice import report_link
from qinglang.policy.hosts import PROXY_HOST
from qinglang.proxy.filtering import Qinglang
from qinglang.proxy.reportentry import ReportEntry
from qinglang.store.events import EventStore
from qinglang.store.reports import MAX_PER_HOUR, Report, add_report, clean_url

CONFIG = """
    lists: [lists]
    profiles:
      child: {}
      teen: {block_threshold: 200}
    clients:
      - {match: 192.168.1.7, profile: teen}
    default_profile: child
"""


@pytest.fixture
def entry(tmp_path: Path) -> Iterator[tuple[ReportEntry, Path]]:
    (tmp_path / "lists").mkdir()
    (tmp_path / "lists" / "g.yaml").write_text("category: g\nterms: [赌博网站]\n", "utf-8")
    cfg = tmp_path / "qinglang.yaml"
    cfg.write_text(textwrap.dedent(CONFIG), encoding="utf-8")
    main = Qinglang()
    rep = ReportEntry(main)
    with taddons.context(rep, main) as tctx:
        tctx.configure(main, qinglang_config=str(cfg), qinglang_workers=0)
        db = tmp_path / "events.sqlite"
        main.stores.events = EventStore(db, 30)
        rep.running()
        try:
            yield rep, db
        finally:
            main.done()


def visit(
    rep: ReportEntry, url: str, peer: str = "192.168.1.7", lang: str = "zh-CN"
) -> http.HTTPFlow:
    f = tflow.tflow()
    f.client_conn.peername = (peer, 40000)
    f.request = http.Request.make("GET", url, headers={"accept-language": lang})
    pending = rep.request(f)  # a coroutine only for the proxy's own name
    if pending is not None:
        asyncio.run(pending)
    return f


def rows(db: Path) -> list[sqlite3.Row]:
    conn = sqlite3.connect(db)
    conn.row_factory = sqlite3.Row
    try:
        return conn.execute("SELECT * FROM reports ORDER BY id").fetchall()
    finally:
        conn.close()


def test_report_link_is_recorded_and_thanked(entry: tuple[ReportEntry, Path]) -> None:
    rep, db = entry
    link = report_link("https://forum.example/thread/42", "pii")
    f = visit(rep, link)
    assert f.response is not None and f.response.status_code == 200
    page = f.response.text or ""
    assert "谢谢你的举报" in page and "Thank you for your report" in page
    assert page.index("谢谢你的举报") < page.index("Thank you")
    (row,) = rows(db)
    assert row["kind"] == "pii" and row["url"] == "https://forum.example/thread/42"
    assert row["host"] == "forum.example" and row["client"] == "192.168.1.7"
    assert row["profile"] == "teen" and row["event_id"] is None and row["ts"] > 0
    en = visit(rep, link, lang="en")
    assert en.response is not None
    assert (en.response.text or "").index("Thank you") < (en.response.text or "").index("谢谢")
    assert len(rows(db)) == 1  # the same page from the same device: once a day


def test_query_of_the_reported_page_is_never_kept(entry: tuple[ReportEntry, Path]) -> None:
    rep, db = entry
    url = "https://user:pw@search.example:8443/s?q=13812345678#top"
    visit(rep, f"http://{PROXY_HOST}/report?kind=harmful&url={quote(url)}&event=7q2m0k4zpx")
    (row,) = rows(db)
    assert row["url"] == "https://search.example:8443/s" and row["kind"] == "harmful"
    assert row["event_id"] == "7Q2M0K4ZPX"


def test_bad_reports_are_refused_and_other_paths_explained(entry: tuple[ReportEntry, Path]) -> None:
    rep, db = entry
    for q in ("kind=pii", "kind=other&url=https%3A%2F%2Fa.example%2F", "url=javascript%3Aalert(1)"):
        f = visit(rep, f"http://{PROXY_HOST}/report?{q}")
        assert f.response is not None and f.response.status_code == 400
    about = visit(rep, f"http://{PROXY_HOST}/")
    assert about.response is not None and about.response.status_code == 200
    assert rows(db) == []


def test_other_hosts_are_not_answered(entry: tuple[ReportEntry, Path]) -> None:
    rep, _ = entry
    assert visit(rep, "http://example.com/report?url=https%3A%2F%2Fa.example%2F").response is None


def test_a_device_files_a_bounded_number_of_reports(tmp_path: Path) -> None:
    db = tmp_path / "r.sqlite"
    got = [
        add_report(db, Report("10.0.0.5", "harmful", f"https://a.example/{i}", "a.example", ts=1e9))
        for i in range(MAX_PER_HOUR + 5)
    ]
    assert got.count(True) == MAX_PER_HOUR
    assert add_report(db, Report("10.0.0.6", "harmful", "https://a.example/0", "a.example", ts=1e9))
    assert add_report(
        db, Report("10.0.0.5", "pii", "https://b.example/", "b.example", ts=1e9 + 3601)
    )


def test_clean_url() -> None:
    assert clean_url("forum.example/t/1") == "http://forum.example/t/1"  # the block page's form
    assert clean_url("HTTPS://Forum.Example") == "https://forum.example/"
    assert clean_url("ftp://a.example/x") is None
    assert clean_url(f"http://{PROXY_HOST}/report") is None
    assert clean_url("") is None and clean_url("http://") is None


def test_doxxing_block_page_carries_the_report_entry() -> None:
    d = Decision(Action.BLOCK, Reason.PII, "pii")
    body, _ = blockpage.block_body(
        d, "7Q2M0K4ZPX", accept="text/html", accept_language="zh-CN", url="kaihe.example/list"
    )
    page = body.decode()
    assert "举报这个页面" in page and "Report this page" in page
    href = page.split(f'href="http://{PROXY_HOST}', 1)[1].split('"', 1)[0].replace("&amp;", "&")
    q = parse_qs(urlsplit(href).query)
    assert q == {"kind": ["pii"], "url": ["kaihe.example/list"], "event": ["7Q2M0K4ZPX"]}
    other, _ = blockpage.block_body(
        Decision(Action.BLOCK, Reason.KEYWORDS, "pii"), "X", accept="text/html", url="a.example/"
    )
    assert b"kind=pii" not in other  # the "blocked by mistake" link is on every block page
