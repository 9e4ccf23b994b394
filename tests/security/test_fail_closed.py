"""Every error fails closed for a filtering profile (issue 19, item 1).

A fault is injected into each stage of qinglang inside a real mitmdump (``faults.py``):
every request that reaches the broken stage must come back without the hostile
upstream's bytes (the block page, a JSON 403, or a plain 502), mitmproxy must never log
"Addon error" (the guard caught it, not mitmproxy, which would let the flow on), and once
the fault is healed the proxy serves the next request as before. Then the two known holes:
a byte that is not UTF-8 in the Host header, and a full disk while minutes are counted.
"""

from __future__ import annotations

import itertools
import logging
import sqlite3
import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from qinglang.store.events import Event, EventStore

from .conftest import (
    ADULT,
    CHILD,
    CONFIG,
    MARKER,
    NOON,
    TEEN,
    Attacked,
    eventually,
    start_proxy,
    status_of,
    stop,
)
from .hostile import HostileUpstream

pytestmark = pytest.mark.e2e

FAULT_CONFIG = CONFIG.replace(
    "        daily_minutes: 600\n      adult:",
    "        daily_minutes: 600\n        own_data: {phone: '13812345678'}\n      adult:",
)

API = {"Accept": "application/json"}
# (name, url, headers): requests that together reach every stage.
HARMFUL = ("harmful page", "http://news.test/harmful", None)
HARMFUL_TLS = ("harmful page over TLS", "https://news.test/harmful", None)
DENIED = ("deny_domains site", "http://evil.test/clean", None)
CLEAN = ("clean page", "http://news.test/clean", None)
CLEAN_TLS = ("clean page over TLS", "https://news.test/clean", None)
CLEAN_API = ("clean API call", "https://api.test/clean.json", API)
SEARCH = ("search", "https://www.google.com/search?q=clean+cats", None)
EVERY = [HARMFUL, HARMFUL_TLS, DENIED, CLEAN, CLEAN_TLS, CLEAN_API, SEARCH]
BLOCKED = [HARMFUL, HARMFUL_TLS, DENIED]  # the only requests that build a block page
SCANNED = [HARMFUL, HARMFUL_TLS, CLEAN, CLEAN_TLS, CLEAN_API, SEARCH]

# stage -> the requests that reach it (faults.STAGES names the functions).
REACHED = {
    "identity": EVERY,
    "rules": EVERY,
    "decide": EVERY,
    "quota_read": EVERY,
    # Minutes are written on a page load's first request of a minute, and read once a day.
    "quota_write": [HARMFUL, HARMFUL_TLS, DENIED, CLEAN, CLEAN_TLS, SEARCH],
    "quota_disk": EVERY,
    "overrides": EVERY,
    "outbound": EVERY,
    "headplan": [HARMFUL, HARMFUL_TLS, CLEAN, CLEAN_TLS, CLEAN_API, SEARCH],
    "scan": SCANNED,
    "verdict": SCANNED,
    "pages": BLOCKED,
    "events": BLOCKED,
    "safesearch": [SEARCH],
}

TOTALS = {"reached": 0, "passed": 0}
MOMENTS = itertools.count(1)


def _next_day(a: Attacked) -> None:
    """Move the proxy's clock to a new day and minute: the next request reads and writes
    the minute store (which it otherwise does once a day and once a minute)."""
    k = next(MOMENTS)
    a.clock.set((datetime.fromisoformat(NOON) + timedelta(days=k, minutes=k)).isoformat())


@pytest.fixture(scope="module")
def faulty(
    tmp_path_factory: pytest.TempPathFactory, hostile: HostileUpstream
) -> Iterator[Attacked]:
    a = start_proxy(tmp_path_factory.mktemp("faults"), hostile, FAULT_CONFIG)
    try:
        yield a
    finally:
        a.inject("")
        stop(a, errors_expected=True)  # the injected faults' tracebacks are expected
        log = a.proxy.log()
        # mitmproxy's own catch-all means an error escaped the guard: the flow went on.
        assert "Addon error" not in log, log[-4000:]


def _serves_normally(a: Attacked) -> None:
    r = a.get(CLEAN[1])
    assert r.status_code == 200 and MARKER in r.text
    r = a.get(HARMFUL_TLS[1])
    assert r.status_code == 403 and MARKER not in r.text


@pytest.mark.parametrize("stage", sorted(REACHED))
def test_a_fault_in_each_stage_blocks(faulty: Attacked, stage: str) -> None:
    faulty.inject(stage)
    try:
        for name, url, headers in REACHED[stage]:
            if stage in ("quota_write", "quota_disk"):
                _next_day(faulty)
            r = faulty.get(url, headers=headers)
            TOTALS["reached"] += 1
            if MARKER in r.text:
                TOTALS["passed"] += 1
            assert MARKER not in r.text, f"{stage}: the {name} passed unchanged ({r.status_code})"
            assert r.status_code in (403, 502), f"{stage}: {name} got {r.status_code}"
        # The fault was really hit, inside the proxy.
        log = faulty.proxy.log()
        assert f"injected fault: {stage}" in log, log[-3000:]
    finally:
        faulty.inject("")
    _serves_normally(faulty)


def test_no_flow_passed_unchanged_under_any_fault(faulty: Attacked) -> None:
    """The figure for the manual: runs after the stage tests (same module, in order)."""
    assert TOTALS["reached"] >= 50
    assert TOTALS["passed"] == 0
    print(f"\nfaults: {len(REACHED)} stages, {TOTALS['reached']} flows, 0 passed unchanged")


def test_internal_errors_are_recorded(faulty: Attacked) -> None:
    faulty.inject("rules")
    try:
        r = faulty.get("http://news.test/clean?recorded=1")
    finally:
        faulty.inject("")
    assert r.status_code == 403 and MARKER not in r.text
    rows = eventually(
        lambda: faulty.events(reason="internal error", action="block", client=CHILD),
        "internal error events",
    )
    assert any("RequestRules" in (row["detail"] or "") or "Qinglang.request" in
               (row["detail"] or "") for row in rows)  # fmt: skip


def test_a_profile_that_does_not_filter_passes_on_error(faulty: Attacked) -> None:
    """filter: false (a parent): an internal error does not break their browsing; the
    event still says what happened."""
    faulty.inject("decide")
    try:
        r = faulty.get("http://news.test/harmful?adult=1", source=ADULT)
    finally:
        faulty.inject("")
    assert r.status_code == 200 and MARKER in r.text
    eventually(
        lambda: faulty.events(reason="internal error", action="pass", client=ADULT), "pass event"
    )


def test_full_disk_blocks_the_child_and_keeps_safe_search(faulty: Attacked) -> None:
    """The minute store fails while counting (SQLite: "database or disk is full"): the
    child's profile (on_error: block) gets the block page; the teen's (on_error: pass)
    browses on, uncounted, and safe search still holds."""
    faulty.inject("quota_write")
    try:
        _next_day(faulty)
        child = faulty.get("https://news.test/clean?disk=child")
        teen = faulty.get("https://www.google.com/search?q=clean+full+disk", source=TEEN)
    finally:
        faulty.inject("")
    assert child.status_code == 403 and MARKER not in child.text
    assert teen.status_code == 200
    seen = [
        s for s in faulty.upstream.requests_for("www.google.com") if "clean+full+disk" in s.path
    ]
    assert seen and all("safe=active" in s.path for s in seen), seen
    assert "cannot count active minutes" in faulty.proxy.log()


def _raw_get(target: str, host: bytes) -> bytes:
    return (
        f"GET {target} HTTP/1.1\r\n".encode()
        + b"Host: " + host + b"\r\n"
        + b"Accept: text/html\r\nConnection: close\r\n\r\n"
    )  # fmt: skip


@pytest.mark.parametrize(
    ("target", "host"),
    [
        ("http://evil.test/page", b"evil.test:\xff"),  # deny_domains
        ("http://news.test/harmful", b"news.test:\xff"),  # a page the scan blocks
        ("http://news.test/clean", b"news.test:\xff"),
        ("http://evil.test/page", b"ev\xffil.test"),
    ],
)
def test_a_byte_that_is_not_utf8_in_host(faulty: Attacked, target: str, host: bytes) -> None:
    """The known hole: building the block page raised on the lone surrogate, mitmproxy
    logged "Addon error" and the page went through with a 200. Now a 400, recorded."""
    before = len(faulty.upstream.seen)
    reply = faulty.raw(_raw_get(target, host))
    assert status_of(reply) == 400, reply[:200]
    assert MARKER.encode() not in reply
    assert len(faulty.upstream.seen) == before  # nothing was fetched
    eventually(lambda: faulty.events(reason="bad request"), "bad request event")


def test_a_byte_that_is_not_utf8_in_host_inside_a_tunnel(faulty: Attacked) -> None:
    before = len(faulty.upstream.seen)
    reply = faulty.tunnel(
        "news.test:443",
        b"GET /harmful HTTP/1.1\r\nHost: news.test:\xff\r\nConnection: close\r\n\r\n",
        sni="news.test",
    )
    assert status_of(reply) == 400, reply[:200]
    assert MARKER.encode() not in reply
    assert len(faulty.upstream.seen) == before


def test_event_writer_outlives_the_bad_host(faulty: Attacked) -> None:
    """After requests with broken Host headers, events are still written (the writer
    thread used to die on the first such row)."""
    faulty.raw(_raw_get("http://evil.test/x", b"evil.test:\xff"))
    r = faulty.get("http://evil.test/after-the-bad-host")
    assert r.status_code == 403
    eventually(
        lambda: [e for e in faulty.events(host="evil.test") if e["path"] == "/after-the-bad-host"],
        "the event after the bad one",
    )


def test_event_store_survives_any_bad_row(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """Real SQLite: a row SQLite cannot take, and one that cannot even be made, cost
    only themselves; the writer goes on and says so in the log."""
    store = EventStore(tmp_path / "ev.sqlite", 30, flush_seconds=0.05)
    caplog.set_level(logging.ERROR)
    try:
        surrogate = Event("1.2.3.4", "child", "evil.test:\udcff", "/\udcfe", "block", "x")
        broken = Event("1.2.3.4", "child", "a.test", "/", "block", score="many")  # type: ignore[arg-type]
        store.record(surrogate)
        store.record(broken)
        store.record(Event("1.2.3.4", "child", "good.test", "/", "block"))
        assert store.flush(10)
        time.sleep(0.1)
        store.record(Event("1.2.3.4", "child", "later.test", "/", "block"))
        assert store.flush(10)
        db = sqlite3.connect(tmp_path / "ev.sqlite")
        hosts = {h for (h,) in db.execute("SELECT host FROM events")}
        db.close()
        assert hosts == {"evil.test:\ufffd", "good.test", "later.test"}
        assert broken.id in caplog.text  # the dropped row is named in the log
    finally:
        store.close()


_any_text = st.text(st.characters(codec="utf-8") | st.characters(categories=["Cs"]), max_size=12)


@example(host="evil.test:\udcff", path="/\udcfe", user="\ud800", detail="\udfff", terms=["\udc80"])
@settings(max_examples=200, deadline=None)
@given(host=_any_text, path=_any_text, user=st.none() | _any_text, detail=st.none() | _any_text,
       terms=st.lists(_any_text, max_size=3))  # fmt: skip
def test_any_event_text_can_be_stored(
    host: str, path: str, user: str | None, detail: str | None, terms: list[str]
) -> None:
    """Whatever a request's host, path or log-in holds (bytes that were not UTF-8 arrive
    as lone surrogates), its event's row is one SQLite stores."""
    ev = Event("1.2.3.4", "child", host, path, "block", "x", {"porn": 1}, 1, tuple(terms),
               detail, user)  # fmt: skip
    db = sqlite3.connect(":memory:")
    db.execute("CREATE TABLE t (" + ", ".join(f"c{i}" for i in range(13)) + ")")
    db.execute("INSERT INTO t VALUES (" + ", ".join("?" * 13) + ")", ev.row())
    db.close()


def test_page_links_keep_bytes_that_were_not_utf8() -> None:
    """The links on the block and time-up pages are built from the request's address;
    a path read from bytes that were not UTF-8 percent-encodes those bytes instead of
    raising (which used to stop the block page from being built)."""
    from qinglang.engine.verdict import Action, Decision, Reason
    from qinglang.pages.blockpage import block_body
    from qinglang.pages.links import mistake_url, time_ask_url

    assert time_ask_url("http://news.test/\udcff").endswith("news.test%2F%FF")
    assert "%FF" in mistake_url("EVENT", "news.test/\udcff")
    body, _ = block_body(
        Decision(Action.BLOCK, Reason.DENY_DOMAIN), "EVENT", url="evil.test/\udcff", asks=True
    )
    assert b"evil.test/\xef\xbf\xbd" in body  # shown as U+FFFD
