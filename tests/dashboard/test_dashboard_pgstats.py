"""The overview and the reports with the events in PostgreSQL (a school's workers,
``qinglang_store``): the same numbers as with the SQLite event file for the same events,
and the reports page, its labels and its corpus export against a real PostgreSQL."""

from __future__ import annotations

import dataclasses
import json
import re
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import psycopg
import pytest

from qinglang.dashboard import pgstore, reports
from qinglang.store import pgevents
from qinglang.store.events import Event, EventStore
from qinglang.store.reports import MAX_PER_HOUR, Report, add_report

from .conftest import Home, TestClient, blocked, csrf_of

pytestmark = pytest.mark.timeout(120)

BERLIN = ZoneInfo("Europe/Berlin")  # summer time began on 2025-03-30 at 02:00


def at(text: str) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=BERLIN).timestamp()


NOW = at("2025-03-31T12:00")


def events() -> list[Event]:
    gambling = {"gambling": 120}
    return [
        blocked("casino.example", ts=at("2025-03-31T10:00")),
        blocked("casino.example", ts=at("2025-03-31T10:05")),
        blocked("dice.example", client="10.0.0.8", ts=at("2025-03-31T00:10")),
        blocked("news.example", action="mask", categories={"porn": 40}, ts=at("2025-03-31T09:00")),
        blocked("www.example", action="pass", categories={}, ts=at("2025-03-31T11:00")),
        # The day summer time began: 23 hours long, one event at each end of it.
        blocked("casino.example", client="10.0.0.9", profile="teen",
                categories={"gambling": 100, "porn": 30}, ts=at("2025-03-30T23:30")),
        blocked("forum.example", action="mask", categories={"violence": 50},
                ts=at("2025-03-30T00:30")),
        blocked("late.example", categories=gambling, ts=at("2025-03-29T23:59")),
        blocked("mid.example", ts=at("2025-03-20T08:00")),
        blocked("ancient.example", ts=at("2025-02-20T08:00")),  # outside 30 days
    ]  # fmt: skip


def new_database(pg_url: str) -> str:
    name = f"t{uuid.uuid4().hex[:12]}"
    with psycopg.connect(pg_url, autocommit=True) as c:
        c.execute(f"CREATE DATABASE {name}")
    return pg_url.rsplit("/", 1)[0] + "/" + name


def drop_database(pg_url: str, url: str) -> None:
    with psycopg.connect(pg_url, autocommit=True) as c:
        c.execute(f"DROP DATABASE {url.rsplit('/', 1)[1]} WITH (FORCE)")


@pytest.fixture
def pg_db(pg_server: Any) -> Iterator[str]:
    """A database of its own on the session's PostgreSQL: the overview counts everything."""
    url = new_database(pg_server.url)
    try:
        yield url
    finally:
        drop_database(pg_server.url, url)


class Store:
    """Where the workers write events: the SQLite event file or PostgreSQL."""

    def __init__(self, home: Home, pg_url: str | None) -> None:
        self.home = home
        self.url = pgevents.store_url(pg_url) if pg_url else None

    def write(self, *evs: Event) -> None:
        if self.url is None:
            store: EventStore = EventStore(self.home.events_db, 3650, flush_seconds=0.02)
        else:
            store = pgevents.PgEventStore(self.url, 3650, flush_seconds=0.02)
        for e in evs:
            store.record(e)
        assert store.flush(10)
        store.close()

    def client(self, make_client: Callable[..., TestClient]) -> TestClient:
        c = make_client()
        c.app.state.dash.store = self.url  # type: ignore[attr-defined]  # as DashboardAddon
        return c


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, home: Home) -> Store:
    home.settings = dataclasses.replace(home.settings, clock=lambda: NOW, tz=BERLIN)
    pg = request.getfixturevalue("pg_db") if request.param == "postgresql" else None
    return Store(home, pg)


def _table(page: str, table_id: str) -> list[list[str]]:
    m = re.search(rf'<table class="stack" id="{table_id}">.*?<tbody>(.*?)</tbody>', page, re.S)
    assert m, table_id
    return [
        [re.sub(r"<[^>]+>", "", cell) for cell in re.findall(r"<td[^>]*>(.*?)</td>", row)]
        for row in re.findall(r"<tr>(.*?)</tr>", m.group(1), re.S)
    ]


def shown(c: TestClient, period: str) -> dict[str, Any]:
    """What a parent reads on the overview: totals, the tables, the per-day chart."""
    page = c.get("/", params={"period": period}).text
    totals = re.findall(r'<div class="total (\w+)"><span>[^<]*</span><strong[^>]*>(\d+)<', page)
    charts = json.loads(
        re.search(r'id="chart-data">(.*?)</script>', page, re.S).group(1)  # type: ignore[union-attr]
    )
    return {
        "totals": {k: int(v) for k, v in totals},
        "categories": _table(page, "table-categories"),
        "hosts": _table(page, "table-hosts"),
        "clients": _table(page, "table-clients"),
        "daily": list(zip(charts["daily"]["labels"], charts["daily"]["block"],
                          charts["daily"]["mask"], strict=True)),
    }  # fmt: skip


def test_overview_numbers_are_the_same_in_sqlite_and_postgresql(
    store: Store, make_client: Callable[..., TestClient]
) -> None:
    store.write(*events())
    c = store.client(make_client)
    today = shown(c, "today")
    assert today == {
        "totals": {"block": 3, "mask": 1, "pass": 1},
        "categories": [["gambling", "3", "0"], ["pornography", "0", "1"]],
        "hosts": [["casino.example", "2"], ["dice.example", "1"]],
        "clients": [["10.0.0.7", "child", "2", "1"], ["10.0.0.8", "child", "1", "0"]],
        "daily": [("03-31", 3, 1)],
    }
    week = shown(c, "7d")
    assert week["totals"] == {"block": 5, "mask": 2, "pass": 1}
    assert week["categories"] == [
        ["gambling", "5", "0"], ["pornography", "1", "1"], ["violence", "0", "1"]
    ]  # fmt: skip
    assert week["hosts"] == [["casino.example", "3"], ["dice.example", "1"],
                             ["late.example", "1"]]  # fmt: skip
    assert week["clients"] == [["10.0.0.7", "child", "3", "2"], ["10.0.0.8", "child", "1", "0"],
                               ["10.0.0.9", "teen", "1", "0"]]  # fmt: skip
    assert week["daily"] == [("03-25", 0, 0), ("03-26", 0, 0), ("03-27", 0, 0),
                             ("03-28", 0, 0), ("03-29", 1, 0), ("03-30", 1, 1),
                             ("03-31", 3, 1)]  # fmt: skip
    month = shown(c, "30d")
    assert month["totals"] == {"block": 6, "mask": 2, "pass": 1}
    assert ["mid.example", "1"] in month["hosts"]
    assert "ancient.example" not in json.dumps(month)
    assert sum(b for _d, b, _m in month["daily"]) == 6

    # New events are folded in on the next visit, once each.
    store.write(blocked("casino.example", ts=at("2025-03-31T11:30")))
    again = shown(c, "today")
    assert again["totals"] == {"block": 4, "mask": 1, "pass": 1}
    assert again["hosts"][0] == ["casino.example", "3"]
    assert shown(c, "today") == again
    # The event list's menus come from the same roll-ups.
    listing = c.get("/events").text
    assert 'value="10.0.0.9"' in listing and 'value="teen"' in listing


def test_rollups_count_each_row_once_while_workers_write(pg_db: str) -> None:
    """Two dashboards catch up again and again while a worker writes: no row is missed
    (a later seq committed first) or counted twice."""
    url = pgevents.store_url(pg_db)
    writer = pgevents.PgEventStore(url, 3650, flush_seconds=0.005, batch=7)
    stop = threading.Event()
    errors: list[BaseException] = []

    def dashboard() -> None:
        rollup = pgstore.PgRollup(url, BERLIN)
        db = pgstore.open_db(url)
        try:
            while not stop.is_set():
                rollup.catch_up(db)
        except BaseException as e:  # reported by the test
            errors.append(e)
        finally:
            db.close()

    threads = [threading.Thread(target=dashboard) for _ in range(2)]
    for t in threads:
        t.start()
    total = 600
    for i in range(total):
        writer.record(Event("10.0.0.7", "child", f"h{i % 5}.example", "/", "block",
                            ts=NOW - i))  # fmt: skip
        if i % 50 == 0:
            time.sleep(0.01)
    assert writer.flush(20)
    writer.close()
    stop.set()
    for t in threads:
        t.join(30)
    assert not errors, errors
    db = pgstore.open_db(url)
    try:
        pgstore.PgRollup(url, BERLIN).catch_up(db)
        (n,) = db.execute("SELECT SUM(n) FROM rollup_actions").fetchone()
        (hosts,) = db.execute("SELECT SUM(n) FROM rollup_hosts").fetchone()
    finally:
        db.close()
    assert (int(n), int(hosts)) == (total, total)


def test_a_row_committed_late_is_not_missed(pg_db: str) -> None:
    """Worker A takes seq 1 and commits after worker B has committed seq 2: the roll-up
    waits for A rather than fold up to 2 and never see 1."""
    url = pgevents.store_url(pg_db)
    db = pgstore.open_db(url)
    cols = pgevents._COLS
    values = ", ".join(["%s"] * len(pgevents._COLUMNS))
    insert = f"INSERT INTO events ({cols}) VALUES ({values})"
    a = psycopg.connect(pg_db)
    try:
        a.execute(pgevents.WRITING)  # as a worker's batch does
        a.execute(insert, Event("10.0.0.1", "child", "a.example", "/", "block", ts=NOW).row())
        with psycopg.connect(pg_db) as b:
            b.execute(pgevents.WRITING)
            b.execute(insert, Event("10.0.0.2", "child", "b.example", "/", "block", ts=NOW).row())
        commit = threading.Timer(0.3, a.commit)
        commit.start()
        rollup = pgstore.PgRollup(url, BERLIN)
        rollup.catch_up(db)
        commit.join()
        rollup.catch_up(db)
        (n,) = db.execute("SELECT SUM(n) FROM rollup_hosts").fetchone()
        assert n == 2
    finally:
        a.close()
        db.close()


def test_reports_in_postgresql(
    pg_db: str, home: Home, make_client: Callable[..., TestClient], tmp_path: Path
) -> None:
    url = pgevents.store_url(pg_db)
    ev = blocked("127.0.0.1", path="/homework")
    Store(home, pg_db).write(ev)
    now = time.time()
    assert add_report(url, Report("10.0.0.7", "mistake", "http://127.0.0.1/homework",
                                  "127.0.0.1", user="pupil7", event_id=ev.id, ts=now))  # fmt: skip
    assert add_report(url, Report("10.0.0.7", "harmful", "http://127.0.0.1/bad", "127.0.0.1",
                                  ts=now + 1))  # fmt: skip
    # The same limits as with SQLite: a repeat within a day is recorded once ...
    assert not add_report(url, Report("10.0.0.7", "harmful", "http://127.0.0.1/bad",
                                      "127.0.0.1", ts=now + 2))  # fmt: skip
    # ... and a device files at most MAX_PER_HOUR an hour.
    for i in range(MAX_PER_HOUR):
        add_report(url, Report("10.0.0.99", "harmful", f"http://x.example/{i}", "x.example",
                               ts=now + i))  # fmt: skip
    assert not add_report(url, Report("10.0.0.99", "harmful", "http://x.example/more",
                                      "x.example", ts=now + 40))  # fmt: skip
    assert not home.events_db.exists()  # nothing went to SQLite

    c = make_client()
    c.app.state.dash.store = url  # type: ignore[attr-defined]
    page = c.get("/reports").text
    # The decision and the terms of the event the block page named, joined in PostgreSQL.
    assert "/homework" in page and "网络赌场" in page and "blocked by mistake" in page
    rid = re.search(r'action="/reports/(\d+)"[^>]*>\s*<input type="hidden" name="csrf"'
                    r'[^>]*><input type="hidden" name="do" value="category">'
                    r"\s*<input name=\"category\" value=\"\"", page)  # fmt: skip
    assert rid is not None
    c.post(f"/reports/{rid.group(1)}", data={"csrf": csrf_of(page), "do": "category",
                                             "category": "gambling"})  # fmt: skip
    assert 'value="gambling"' in c.get("/reports").text  # the label is kept in PostgreSQL

    out = tmp_path / "corpus"
    db = pgstore.open_db(url)
    try:
        result = reports.export(db, out, lambda u: (f"<p>{u}</p>".encode(), "text/html"))
        assert reports.queue(db) == []
    finally:
        db.close()
    assert "allow/report-1.html" in result.written
    assert f"block/gambling/report-{rid.group(1)}.html" in result.written
    manifest = json.loads((out / "reports.json").read_text(encoding="utf-8"))
    first = next(m for m in manifest if m["path"] == "allow/report-1.html")
    assert first["decision"] == "block" and first["decided_by"] == ["网络赌场"]
    assert "No open reports" in c.get("/reports").text
    with psycopg.connect(pg_db) as conn:
        (user,) = conn.execute('SELECT "user" FROM reports WHERE id = 1').fetchone()
    assert user == "pupil7"


def test_postgresql_down_is_said_on_the_page(
    services: Any, make_client: Callable[..., TestClient]
) -> None:
    c = make_client()
    dead = f"postgresql://qinglang:hunter2pg@127.0.0.1:{services.free_port()}/qinglang"
    c.app.state.dash.store = pgevents.store_url(dead)  # type: ignore[attr-defined]
    for path in ("/", "/reports", "/events"):
        r = c.get(path)
        assert r.status_code == 503, path
        assert "cannot be reached" in r.text and "qinglang:***@127.0.0.1" in r.text
        assert "hunter2pg" not in r.text
