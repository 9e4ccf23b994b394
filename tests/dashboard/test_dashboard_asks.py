"""Ask a parent: the child's request, the parent's answer, signed overrides."""

from __future__ import annotations

import re
import sqlite3
import time
from collections.abc import Callable

from qinglang.dashboard import asks
from qinglang.dashboard.childpages import create_child_app
from qinglang.store import dashdb as db
from qinglang.store import keys, overrides

from .conftest import Home, TestClient, blocked, csrf_of


def _child_app(home: Home) -> TestClient:
    key = keys.load_or_create(home.settings.secret_key_file)
    app = create_child_app(
        home.settings.state_db, home.events_db, key, lambda ip, listener: "child"
    )
    return TestClient(app, client=("10.0.0.7", 1), headers={"accept-language": "en"})


def test_child_asks_and_parent_grants_this_site(
    make_client: Callable[..., TestClient], home: Home
) -> None:
    ev = blocked("games.example", path="/play")
    home.events(ev)
    child = _child_app(home)
    form = child.get("/ask", params={"event": ev.id})
    assert form.status_code == 200 and "games.example/play" in form.text
    token = re.search(r'name="token" value="([^"]+)"', form.text).group(1)
    sent = child.post(
        "/ask", data={"token": token, "kind": "block", "event": ev.id, "message": "homework"}
    )
    assert sent.status_code == 200 and "request was sent" in sent.text

    parent = make_client()
    page = parent.get("/asks").text
    assert "games.example/play" in page and "homework" in page
    ask_id = re.search(r'id="ask-(\d+)"', page).group(1)
    r = parent.post(f"/asks/{ask_id}", data={"csrf": csrf_of(page), "choice": "site-hour"})
    assert "The child&#39;s next request will pass" in r.text or "next request will pass" in r.text

    store = overrides.OverrideStore(home.settings.state_db, keys.load_or_create(
        home.settings.secret_key_file))  # fmt: skip
    now = time.time()
    o = store.lookup("10.0.0.7", "cdn.games.example", "https://cdn.games.example/x?y=1", now)
    assert o is not None and o.scope == "site" and o.granted_by == "mum"
    assert store.lookup("10.0.0.8", "games.example", "/play", now) is None  # another device
    assert store.lookup("10.0.0.7", "other.example", "/play", now) is None
    assert store.lookup("10.0.0.7", "games.example", "/play", now + 3700) is None  # expired
    assert "request granted" in parent.get("/audit").text
    store.close()


def test_someone_elses_event_cannot_be_asked_about(home: Home) -> None:
    ev = blocked(client="10.0.0.99")
    home.events(ev)
    assert _child_app(home).get("/ask", params={"event": ev.id}).status_code == 404


def test_a_forged_child_form_is_refused(home: Home) -> None:
    ev = blocked()
    home.events(ev)
    r = _child_app(home).post("/ask", data={"token": "0" * 32, "event": ev.id})
    assert r.status_code == 403
    conn = db.connect(home.settings.state_db)
    assert asks.open_count(conn) == 0
    conn.close()


def test_time_request_and_thirty_more_minutes(
    make_client: Callable[..., TestClient], home: Home
) -> None:
    child = _child_app(home)
    form = child.get("/ask", params={"kind": "time", "url": "https://school.example/work"})
    token = re.search(r'name="token" value="([^"]+)"', form.text).group(1)
    child.post("/ask", data={"token": token, "kind": "time", "url": "https://school.example/work"})
    parent = make_client()
    page = parent.get("/asks").text
    ask_id = re.search(r'id="ask-(\d+)"', page).group(1)
    parent.post(f"/asks/{ask_id}", data={"csrf": csrf_of(page), "choice": "minutes-30"})
    key = keys.load_or_create(home.settings.secret_key_file)
    store = overrides.OverrideStore(home.settings.state_db, key)
    now = time.time()
    assert store.extra_minutes("10.0.0.7", now) == 30
    assert store.time_lifted("10.0.0.7", now) and not store.time_lifted("10.0.0.7", now + 1900)
    assert store.lookup("10.0.0.7", "school.example", "/work", now) is None  # not a site grant
    store.close()


def test_refuse(make_client: Callable[..., TestClient], home: Home) -> None:
    conn = db.connect(home.settings.state_db)
    asks.create(conn, client="10.0.0.7", user=None, profile="child", kind="block",
                host="x.example", path="/", now=time.time())  # fmt: skip
    conn.close()
    parent = make_client()
    page = parent.get("/asks").text
    ask_id = re.search(r'id="ask-(\d+)"', page).group(1)
    r = parent.post(f"/asks/{ask_id}", data={"csrf": csrf_of(page), "choice": "refuse"})
    assert "Refused." in r.text
    assert 'id="ask-' not in r.text


def test_a_tampered_override_is_ignored(home: Home) -> None:
    key = keys.load_or_create(home.settings.secret_key_file)
    conn = db.connect(home.settings.state_db)
    now = time.time()
    overrides.grant(conn, key, client="10.0.0.7", user=None, scope="page", host="a.example",
                    path="/x", minutes=0, expires=now + 600, granted_by="mum", now=now)  # fmt: skip
    store = overrides.OverrideStore(home.settings.state_db, key)
    assert store.lookup("10.0.0.7", "a.example", "/x", now) is not None
    # Someone with write access to the file but not the key widens the grant.
    raw = sqlite3.connect(home.settings.state_db)
    raw.execute("UPDATE overrides SET scope = 'site', expires = expires + 86400")
    raw.commit()
    raw.close()
    assert store.lookup("10.0.0.7", "a.example", "/x", now) is None
    assert store.lookup("10.0.0.7", "a.example", "/y", now) is None
    store.close()
    conn.close()


def test_flooding_the_queue_is_bounded(home: Home) -> None:
    conn = db.connect(home.settings.state_db)
    now = time.time()
    for i in range(asks.MAX_OPEN_PER_CLIENT):
        asks.create(conn, client="10.0.0.7", user=None, profile="child", kind="block",
                    host=f"h{i}.example", path="/", now=now)  # fmt: skip
    try:
        asks.create(conn, client="10.0.0.7", user=None, profile="child", kind="block",
                    host="one-more.example", path="/", now=now)  # fmt: skip
        raise AssertionError("expected TooMany")
    except asks.TooMany:
        pass
    conn.close()
