"""The dashboard with several workers: events read from PostgreSQL (the event list, an
event's page, the child's ask page from a block page's event id), minutes used and a
parent's grants shared through Redis, against real servers on 127.0.0.1."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from typing import Any

from qinglang.dashboard.childpages import create_child_app
from qinglang.store import keys, pgevents, redisstate

from .conftest import Home, TestClient, blocked, csrf_of


def test_events_from_postgresql_and_grants_through_redis(
    make_client: Callable[..., TestClient], home: Home, pg_server: Any, redis_server: Any
) -> None:
    store, state = pgevents.store_url(pg_server.url), redisstate.state_url(redis_server.url)
    host = f"games-{time.time_ns()}.example"
    ev = blocked(host, path="/play")
    writer = pgevents.PgEventStore(store, 30, flush_seconds=0.02)
    writer.record(ev)
    assert writer.flush(10)
    writer.close()
    assert not home.events_db.exists()  # nothing in SQLite: every worker writes PostgreSQL

    parent = make_client()
    dash = parent.app.state.dash  # type: ignore[attr-defined]
    dash.store, dash.shared = store, state  # as DashboardAddon sets them from the options
    listing = parent.get("/events", params={"host": host})
    assert listing.status_code == 200 and "/play" in listing.text
    assert parent.get(f"/events/{ev.id}").status_code == 200

    # The quota page: minutes the workers counted in Redis.
    pupil = f"pupil-{time.time_ns()}"
    redisstate.RedisQuotaStore(state).record_minute(pupil, "child", int(time.time()) // 60)
    overview = parent.get("/").text
    row = rf"<td[^>]*>{pupil}</td><td[^>]*>child</td><td[^>]*>\s*<progress max=\"60\" value=\"1\">"
    assert re.search(row, overview), overview

    key = keys.load_or_create(home.settings.secret_key_file)
    child_app = create_child_app(
        home.settings.state_db, home.events_db, key, lambda ip, listener: "child",
        open_events=lambda: pgevents.ReadOnlyEvents(store),
    )  # fmt: skip
    child = TestClient(child_app, client=("10.0.0.7", 1), headers={"accept-language": "en"})
    form = child.get("/ask", params={"event": ev.id})
    assert form.status_code == 200 and f"{host}/play" in form.text
    token = re.search(r'name="token" value="([^"]+)"', form.text).group(1)  # type: ignore[union-attr]
    child.post("/ask", data={"token": token, "kind": "block", "event": ev.id, "message": "hw"})

    page = parent.get("/asks").text
    ask_id = re.search(r'id="ask-(\d+)"', page).group(1)  # type: ignore[union-attr]
    parent.post(f"/asks/{ask_id}", data={"csrf": csrf_of(page), "choice": "site-hour"})
    # Another worker, with the same key, sees the grant through Redis.
    worker = redisstate.RedisOverrides(state, key, check_seconds=0)
    o = worker.lookup("10.0.0.7", f"cdn.{host}", "/x", time.time())
    assert o is not None and o.scope == "site"

    page = parent.get("/asks").text
    revoke = re.search(r'action="(/overrides/\d+/revoke)"', page)
    assert revoke is not None, page
    parent.post(revoke.group(1), data={"csrf": csrf_of(page)})
    assert worker.lookup("10.0.0.7", f"cdn.{host}", "/x", time.time()) is None
    child.close()
