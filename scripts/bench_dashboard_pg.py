"""Time the scale-out dashboard's overview on a large event table in PostgreSQL.

    python scripts/bench_dashboard_pg.py [--events 1000000]

Starts a private PostgreSQL on 127.0.0.1 (scripts/scaleout_services.py), fills its
``events`` table with the same random events as bench_dashboard.py (written with COPY),
then times, side by side: the naive overview queries straight on ``events`` over 30 days
(the baseline), the first roll-up catch-up, a catch-up with nothing new, one after 10,000
new events, the overview queries from the roll-ups, and the overview page through the app.
Prints seconds and each against the baseline's total; asserts nothing. Stops the server.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import random
import sys
import tempfile
import time
import warnings
from pathlib import Path

import psycopg

from qinglang.dashboard import accounts, pgstore, stats
from qinglang.dashboard.app import create_app
from qinglang.dashboard.settings import Settings
from qinglang.store import dashdb as db
from qinglang.store import pgevents
from qinglang.store.events import _COLUMNS, Event

HERE = Path(__file__).resolve().parent
CATS = ["porn", "gambling", "violence", "drugs", "bullying", "pii", "self_harm", "fraud"]


def _services():  # type: ignore[no-untyped-def]
    path = HERE / "scaleout_services.py"
    spec = importlib.util.spec_from_file_location("scaleout_services", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("scaleout_services", module)  # its dataclasses look it up
    spec.loader.exec_module(module)
    return module


def rows(n: int, seed: int, now: float):  # type: ignore[no-untyped-def]
    """The events bench_dashboard.py makes: 5,000 hosts, 38 clients, 30 days."""
    rnd = random.Random(seed)
    hosts = [f"site{i}.example" for i in range(5000)]
    clients = [f"192.168.1.{i}" for i in range(2, 40)]
    for _ in range(n):
        cats = rnd.sample(CATS, rnd.choice((1, 1, 2)))
        yield Event(
            client=rnd.choice(clients), profile=rnd.choice(("child", "teen")),
            host=rnd.choice(hosts), path=f"/p/{rnd.randrange(1000)}",
            action=rnd.choice(("block", "mask", "mask", "pass")), reason="keywords",
            categories={c: rnd.randrange(10, 200) for c in cats}, score=100,
            decided_by=("term-a", "term-b"), ts=now - rnd.random() * 30 * 86400,
        ).row()  # fmt: skip


def fill(url: str, n: int, seed: int) -> None:
    cols = ", ".join(f'"{c}"' for c in _COLUMNS)
    with (
        psycopg.connect(url) as conn,
        conn.cursor() as cur,
        cur.copy(f"COPY events ({cols}) FROM STDIN") as copy,
    ):
        for row in rows(n, seed, time.time()):
            copy.write_row(row)


def timed(label: str, fn, baseline: float | None = None) -> tuple[object, float]:  # type: ignore[no-untyped-def]
    t = time.perf_counter()
    out = fn()
    s = time.perf_counter() - t
    ratio = f"  ({s / baseline:6.3f} x baseline)" if baseline else ""
    print(f"{label:58s} {s:8.3f} s{ratio}", flush=True)
    return out, s


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--events", type=int, default=1_000_000)
    args = ap.parse_args()
    pg = _services().Postgres().start()
    try:
        url = pgevents.store_url(pg.url)
        pgevents.connect(url).close()
        timed(f"fill {args.events} events (COPY)", lambda: fill(pg.url, args.events, 7))
        with psycopg.connect(pg.url, autocommit=True) as c:
            c.execute("VACUUM ANALYZE events")
        print(f"load average {os.getloadavg()[0]:.2f}")
        since = time.time() - 30 * 86400
        base = 0.0
        with psycopg.connect(pg.url) as raw:
            for label, sql in (
                ("baseline: count per action (30 days)",
                 "SELECT action, COUNT(*) FROM events WHERE ts >= %s GROUP BY 1"),
                ("baseline: count per category (30 days)",
                 "SELECT j.key, e.action, COUNT(*) FROM events e,"
                 " json_each(e.categories::json) j WHERE e.ts >= %s GROUP BY 1, 2"),
                ("baseline: top blocked hosts (30 days)",
                 "SELECT host, COUNT(*) c FROM events WHERE ts >= %s AND action = 'block'"
                 " GROUP BY 1 ORDER BY c DESC LIMIT 10"),
                ("baseline: per client and profile (30 days)",
                 "SELECT client, profile, action, COUNT(*) FROM events WHERE ts >= %s"
                 " GROUP BY 1, 2, 3"),
            ):  # fmt: skip
                _, s = timed(label, lambda sql=sql: raw.execute(sql, (since,)).fetchall())
                base += s
        print(f"{'baseline: the four together':58s} {base:8.3f} s")
        rollup = pgstore.PgRollup(url, None)
        conn = pgstore.open_db(url)
        timed("roll-up: first catch-up over the whole table", lambda: rollup.catch_up(conn), base)
        timed("roll-up: catch-up with nothing new", lambda: rollup.catch_up(conn), base)
        fill(pg.url, 10_000, 8)
        timed("roll-up: catch-up after 10,000 new events", lambda: rollup.catch_up(conn), base)
        for period in stats.PERIODS:
            timed(f"overview queries from roll-ups: {period}",
                  lambda p=period: stats.overview(conn, p, time.time(), None), base)  # fmt: skip
        conn.close()
        folder = Path(tempfile.mkdtemp(prefix="qinglang-bench-"))
        settings = Settings(config_path=None, events_db=folder / "events.sqlite",
                            state_db=folder / "dashboard.sqlite",
                            secret_key_file=folder / "key")  # fmt: skip
        state = db.connect(settings.state_db)
        accounts.set_password(state, "bench", "bench-password")
        state.close()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            from starlette.testclient import TestClient
        app = create_app(settings)
        app.state.dash.store = url
        client = TestClient(app, client=("127.0.0.1", 1))
        page = client.get("/signin").text
        token = page.split('name="csrf" value="', 1)[1].split('"', 1)[0]
        client.post("/signin", data={"csrf": token, "user": "bench", "password": "bench-password"})
        for period in stats.PERIODS:
            r, _ = timed(f"overview page, rendered: {period}",
                         lambda p=period: client.get(f"/?period={p}"), base)  # fmt: skip
            assert r.status_code == 200  # type: ignore[attr-defined]
        client.close()
    finally:
        pg.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
