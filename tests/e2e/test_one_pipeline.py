"""One scan pipeline, three front ends: the same hostile bodies through a real mitmdump, through
``qinglang scan FILE`` and through ``qinglang scan --flows FILE`` get the same decision
(action, reason, categories) and the same bytes.

The bytes compared are what the client receives: the proxy's raw body (read by a client that
sends no Accept-Encoding and does not undo any Content-Encoding) against ``served_sha256``
from both commands. A block is a 403 from the proxy and no ``served_sha256`` from the
commands. The proxy's decision is read from its event log (a masked or blocked page is
recorded there; a page that passes unchanged is not).

The expected decision of every body is written down too, so a shortcut taken by all three
(the cut-UTF-8 repair, the undecodable-byte handling, the on_error policy) fails as well as a
shortcut taken by one of them.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import sqlite3
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from dataclasses import dataclass
from http.client import HTTPConnection
from pathlib import Path
from typing import Any

import pytest
from mitmproxy import http, io
from mitmproxy.test import tflow

from .conftest import CHILD, Proxy
from .upstream import Page, Upstream

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(240)]

PREFIX = "/one-pipeline"
MASK_TERM = "网络赌场"  # 40: masked
SMALL_TERM = "赌博"  # 10: masked
CLEAN = "今天天气很好，我们去公园散步。The weather is nice today."

LISTS = {
    "gambling.yaml": """
        category: gambling
        lang: zh
        weight: 10
        terms:
          - 赌博
          - {term: 网络赌场, weight: 40}
    """,
    "porn.yaml": """
        category: porn
        weight: 60
        terms:
          - 裸聊
    """,
}

# One profile for everyone: 40 + 60 blocks, a single term masks, a body that cannot be
# checked is blocked. No events section: the log goes to the confdir's default file.
CONFIG = """
    lists: [{lists}]
    profiles:
      child:
        block_threshold: 100
        on_error: block
        on_oversize: block
    default_profile: child
"""

HTML_UTF8 = "text/html; charset=utf-8"
HAO = "好".encode()  # three bytes: a cut leaves one or two of them


def _html(text: str, charset: str = "utf-8") -> str:
    return (
        f'<!DOCTYPE html><html><head><meta charset="{charset}"><title>t</title></head>'
        f"<body><p>{text}</p></body></html>"
    )


@dataclass(frozen=True)
class Case:
    body: bytes
    headers: dict[str, str]
    action: str
    reason: str | None
    categories: dict[str, int]
    charset: str = "utf-8"  # what the page is written in: the masked term must be gone


MASKED = {"gambling": 40}
FRAGMENT = (
    f"The weather is nice today, and this long english text has just one {MASK_TERM} word in it."
)
_MASK_PAGE = _html(f"{CLEAN} 这里有{MASK_TERM}的广告。")

CASES: dict[str, Case] = {
    # A range or a download cut inside a character, no charset declared: without the
    # cut-UTF-8 repair the charset detector reads this mostly English text as johab, cp949
    # or cp1252 and the word is not seen.
    "utf8-cut-start": Case(
        HAO[1:] + FRAGMENT.encode(), {"content-type": "text/plain"}, "mask", "keywords", MASKED
    ),
    "utf8-cut-end": Case(
        FRAGMENT.encode() + HAO[:2], {"content-type": "text/plain"}, "mask", "keywords", MASKED
    ),
    "utf8-cut-both-html": Case(
        HAO[2:] + f"<p>{FRAGMENT}</p>".encode() + HAO[:1],
        {"content-type": "text/html"},
        "mask",
        "keywords",
        MASKED,
    ),
    # A byte invalid in the declared charset inside the word: the reader still sees it.
    "bad-byte-in-word": Case(
        f"<html><body><p>{CLEAN} 这里可以".encode()
        + "赌".encode()
        + b"\xff"
        + "博。</p></body></html>".encode(),
        {"content-type": HTML_UTF8},
        "mask",
        "keywords",
        {"gambling": 10},
    ),
    "gbk-header": Case(
        _html(f"{CLEAN} 这里有{MASK_TERM}的广告。", "gbk").encode("gbk"),
        {"content-type": "text/html; charset=gbk"},
        "mask",
        "keywords",
        MASKED,
        "gbk",
    ),
    "gbk-meta-only": Case(
        _html(f"{CLEAN} 这里有{MASK_TERM}和{SMALL_TERM}的广告。", "gbk").encode("gbk"),
        {"content-type": "text/html"},
        "mask",
        "keywords",
        {"gambling": 50},
        "gbk",
    ),
    "json-broken": Case(
        f'{{"intro": "{CLEAN}", "items": [{{"title": "{MASK_TERM}"}}, {{"title": "ok'.encode(),
        {"content-type": "application/json"},
        "mask",
        "keywords",
        MASKED,
    ),
    "gzip-masked": Case(
        gzip.compress(_MASK_PAGE.encode()),
        {"content-type": HTML_UTF8, "content-encoding": "gzip"},
        "mask",
        "keywords",
        MASKED,
    ),
    "gzip-clean": Case(
        gzip.compress(_html(CLEAN).encode()),
        {"content-type": HTML_UTF8, "content-encoding": "gzip"},
        "allow",
        None,
        {},
    ),
    "gzip-corrupt": Case(
        gzip.compress(_MASK_PAGE.encode())[:-20],
        {"content-type": HTML_UTF8, "content-encoding": "gzip"},
        "block",
        "could not be checked",
        {},
    ),
    "block": Case(
        _html(f"{CLEAN} {MASK_TERM} 裸聊").encode(),
        {"content-type": HTML_UTF8},
        "block",
        "keywords",
        {"gambling": 40, "porn": 60},
    ),
    "clean": Case(_html(CLEAN).encode(), {"content-type": HTML_UTF8}, "allow", None, {}),
}


def sha(b: bytes) -> str:
    return hashlib.sha256(b).hexdigest()


def qinglang(*args: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, "-m", "qinglang.cli", "scan", *args], capture_output=True, timeout=120
    )


@dataclass
class Setup:
    proxy: Proxy
    upstream: Upstream
    home: Path

    def url(self, name: str) -> str:
        return self.upstream.url(f"{PREFIX}/{name}")


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory, upstream: Upstream) -> Iterator[Setup]:
    home = tmp_path_factory.mktemp("one-pipeline")
    p = Proxy(home)
    for name, text in LISTS.items():
        (p.lists / name).write_text(textwrap.dedent(text), encoding="utf-8")
    p.config.write_text(textwrap.dedent(CONFIG).format(lists=p.lists), encoding="utf-8")
    for name, case in CASES.items():
        upstream.pages[f"{PREFIX}/{name}"] = Page(case.body, dict(case.headers))
    try:
        yield Setup(p.start(), upstream, home)
    finally:
        p.stop()
    p.assert_no_errors()


def proxy_get(proxy: Proxy, url: str) -> tuple[int, dict[str, str], bytes]:
    """GET through the proxy with no Accept-Encoding; the body exactly as it came (any
    Content-Encoding kept, chunked framing removed)."""
    conn = HTTPConnection("127.0.0.1", proxy.port, timeout=20, source_address=(CHILD, 0))
    try:
        conn.putrequest("GET", url, skip_accept_encoding=True)  # Host comes from the URL
        conn.endheaders()
        r = conn.getresponse()
        return r.status, {k.lower(): v for k, v in r.getheaders()}, r.read()
    finally:
        conn.close()


def proxy_events(proxy: Proxy, paths: list[str]) -> dict[str, dict[str, Any]]:
    """The event-log rows under PREFIX, once those of ``paths`` are there or after 20 s
    (polled: events are written in batches)."""
    db_path = proxy.confdir / "qinglang-events.sqlite"
    rows: dict[str, dict[str, Any]] = {}
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if db_path.exists():
            db = sqlite3.connect(db_path, timeout=5)
            db.row_factory = sqlite3.Row
            try:
                rows = {
                    r["path"]: dict(r)
                    for r in db.execute(
                        "SELECT path, action, reason, categories FROM events WHERE path LIKE ?",
                        (f"{PREFIX}/%",),
                    )
                }
            except sqlite3.OperationalError:  # the table is not there yet
                rows = {}
            finally:
                db.close()
            if all(p in rows for p in paths):
                return rows
        time.sleep(0.2)
    return rows  # the test says which decision is missing


def write_flow_file(path: Path, s: Setup) -> None:
    """The same bodies and headers as the upstream serves, as a mitmproxy flow file."""
    with path.open("wb") as fo:
        w = io.FlowWriter(fo)
        for name, case in CASES.items():
            req = http.Request.make("GET", s.url(name))  # no Accept-Encoding
            req.headers.pop("content-length", None)
            resp = http.Response.make(200, b"", case.headers)
            resp.raw_content = case.body  # as sent: still gzip-encoded where it was
            resp.headers["content-length"] = str(len(case.body))
            w.add(tflow.tflow(req=req, resp=resp))


@pytest.fixture(scope="module")
def through_proxy(setup: Setup) -> dict[str, dict[str, Any]]:
    """Every body fetched through the proxy: status, headers, raw body, event row."""
    got = {}
    for name in CASES:
        status, headers, body = proxy_get(setup.proxy, setup.url(name))
        got[name] = {"status": status, "headers": headers, "body": body}
    recorded = [f"{PREFIX}/{n}" for n, c in CASES.items() if c.action != "allow"]
    rows = proxy_events(setup.proxy, recorded)
    for name in CASES:
        got[name]["event"] = rows.get(f"{PREFIX}/{name}")
    return got


@pytest.fixture(scope="module")
def through_flows(setup: Setup) -> dict[str, dict[str, Any]]:
    flows = setup.home / "same-bodies.flows"
    write_flow_file(flows, setup)
    r = qinglang("--config", str(setup.proxy.config), "--flows", str(flows))
    assert r.returncode == 0, r.stderr.decode()
    lines = [json.loads(x) for x in r.stdout.decode().splitlines()]
    assert [x["url"] for x in lines] == [setup.url(n) for n in CASES]
    return dict(zip(CASES, lines, strict=True))


def through_cli(s: Setup, name: str) -> dict[str, Any]:
    case = CASES[name]
    doc = s.home / f"{name}.body"
    doc.write_bytes(case.body)
    args = ["--config", str(s.proxy.config), "--content-type", case.headers["content-type"]]
    if "content-encoding" in case.headers:
        args += ["--content-encoding", case.headers["content-encoding"]]
    r = qinglang(*args, str(doc))
    assert r.returncode == 0, r.stderr.decode()
    out: dict[str, Any] = json.loads(r.stdout)
    return out


@pytest.mark.parametrize("name", list(CASES))
def test_same_decision_and_bytes(
    name: str,
    setup: Setup,
    through_proxy: dict[str, dict[str, Any]],
    through_flows: dict[str, dict[str, Any]],
) -> None:
    case = CASES[name]
    expected = (case.action, case.reason, case.categories)
    px, fl = through_proxy[name], through_flows[name]
    cli = through_cli(setup, name)

    # The proxy's decision: its event log, and what the client got.
    ev = px["event"]
    # No event: the proxy let the page through unchanged (checked against the bytes below).
    if ev is None:
        proxy_decision: tuple[Any, ...] = ("allow", None, {})
    else:
        proxy_decision = (ev["action"], ev["reason"], json.loads(ev["categories"]))

    assert proxy_decision == expected, f"proxy: {proxy_decision}"
    assert (cli["action"], cli.get("reason"), cli["categories"]) == expected, f"cli: {cli}"
    assert (fl["action"], fl.get("reason"), fl["categories"]) == expected, f"flows: {fl}"

    if case.action == "block":
        assert px["status"] == 403, px["status"]
        assert "served_sha256" not in cli and "served_sha256" not in fl
        assert MASK_TERM.encode(case.charset) not in px["body"]
        return

    assert px["status"] == 200, px["status"]
    got = sha(px["body"])
    assert got == cli["served_sha256"], "the proxy served other bytes than `qinglang scan` says"
    assert got == fl["served_sha256"], "the proxy served other bytes than `scan --flows` says"
    if case.action == "allow":
        assert px["body"] == case.body  # byte for byte, still compressed where it was
        assert px["headers"].get("content-encoding") == case.headers.get("content-encoding")
    else:
        # The client asked for no compression: a rewritten page comes back identity-encoded,
        # its words hidden, its length right.
        assert "content-encoding" not in px["headers"], px["headers"]
        assert px["headers"]["content-length"] == str(len(px["body"]))
        assert px["body"] != case.body
        assert "赌".encode(case.charset) not in px["body"]  # in every term masked here
        assert b"\xff" not in px["body"]  # an undecodable byte is left out of a new page
        assert b"The weather is nice today" in px["body"]  # the rest is kept
