"""`qinglang scan --flows FILE`: a saved mitmproxy flow file replayed through the engine."""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
from pathlib import Path

from mitmproxy import io
from mitmproxy.test import tflow

LISTS = Path(__file__).parent / "fixtures" / "labelled-lists"


def qinglang(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "qinglang.cli", *args], capture_output=True, text=True, timeout=120
    )


def write_flows(path: Path) -> None:
    flows = []
    f = tflow.tflow(resp=True)
    f.request.url = "http://casino.example/promo"
    f.response.headers["content-type"] = "text/html; charset=gbk"
    f.response.headers["content-encoding"] = "gzip"
    page = "<html><body><h1>网络赌场</h1><p>百家乐，新用户充值送彩金</p></body></html>"
    f.response.raw_content = gzip.compress(page.encode("gbk"))
    flows.append(f)

    g = tflow.tflow(resp=True)
    g.request.url = "https://news.example/story"
    g.response.headers["content-type"] = "text/plain; charset=utf-8"
    g.response.content = "警方开展打击赌博专项行动。".encode()
    flows.append(g)

    h = tflow.tflow(resp=True)
    h.request.url = "https://api.example/comments"
    h.response.headers["content-type"] = "application/json"
    h.response.content = json.dumps({"text": "what a stupid idiot move"}).encode()
    flows.append(h)

    png = tflow.tflow(resp=True)
    png.request.url = "https://img.example/logo.png"
    png.response.headers["content-type"] = "image/png"
    png.response.content = b"\x89PNG\r\n\x1a\n" + bytes(64)
    flows.append(png)

    flows.append(tflow.tflow(err=True))  # the server never answered
    with path.open("wb") as fo:
        w = io.FlowWriter(fo)
        for x in flows:
            w.add(x)


def test_each_flow_gets_a_decision_line(tmp_path: Path) -> None:
    flows = tmp_path / "saved.flows"
    write_flows(flows)
    r = qinglang("scan", "--lists", str(LISTS), "--flows", str(flows))
    assert r.returncode == 0, r.stderr
    lines = [json.loads(x) for x in r.stdout.splitlines()]
    assert [x["url"] for x in lines] == [
        "http://casino.example/promo",
        "https://news.example/story",
        "https://api.example/comments",
        "https://img.example/logo.png",
        "http://address:22/path",
    ]
    casino, news, api, png, failed = lines
    # gzip and GBK undone as the proxy does; the deciding terms, not the page, are printed.
    assert casino["status"] == 200 and casino["content_type"] == "text/html; charset=gbk"
    assert casino["action"] == "block" and casino["score"] == 180
    assert casino["categories"] == {"gambling": 180}
    assert set(casino["decided_by"]) == {"网络赌场", "百家乐", "充值送彩金"}
    assert "body" not in casino and "matches" not in casino
    assert news["action"] == "allow" and news["decided_by"] == []  # 打击赌博 cancels 赌博
    assert api["kind"] == "json" and api["action"] == "mask"
    assert api["decided_by"] == ["stupid idiot"]
    assert png["action"] == "allow" and png["reason"] == "not scanned"
    assert failed["status"] is None and failed["action"] is None


def test_not_a_flow_file(tmp_path: Path) -> None:
    bad = tmp_path / "notes.txt"
    bad.write_text("hello")
    r = qinglang("scan", "--lists", str(LISTS), "--flows", str(bad))
    assert r.returncode == 2
    assert "not a mitmproxy flow file" in r.stderr
    r = qinglang("scan", "--lists", str(LISTS), "--flows", str(tmp_path / "missing"))
    assert r.returncode == 2
    assert "cannot read" in r.stderr
