"""One body through the engine, as a scan worker runs it (no mitmproxy, no processes)."""

from __future__ import annotations

import gzip
import textwrap

import pytest

from qinglang.content.pipeline import ScanJob, run_job
from qinglang.engine.lists import load_lists
from qinglang.engine.scanner import Engine
from qinglang.policy.config import Profile

LIST = """
    category: gambling
    lang: zh
    terms:
      - {term: 网络赌场, weight: 40}
      - {term: 赌博网站, weight: 120}
"""


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Engine:
    d = tmp_path_factory.mktemp("lists")
    (d / "g.yaml").write_text(textwrap.dedent(LIST), encoding="utf-8")
    return Engine(load_lists([d], use_cache=False))


def job(body: bytes, ctype: str | None = "text/html", enc: str = "", **kw: object) -> ScanJob:
    return ScanJob(body, ctype, enc, kw.pop("accept", "gzip"), kw.pop("profile", Profile()))  # type: ignore[arg-type]


def test_unchanged_page_returns_no_body(engine: Engine) -> None:
    out = run_job(engine, job("<p>今天天气很好</p>".encode()))
    assert out.status == "allow" and out.body is None and out.kind == "html"


def test_gbk_is_masked_and_stays_gbk(engine: Engine) -> None:
    out = run_job(engine, job("<p>这是网络赌场</p>".encode("gbk"), "text/html; charset=gbk"))
    assert out.status == "mask" and out.body is not None
    assert out.body.decode("gbk") == "<p>这是****</p>"
    assert out.content_type is None  # the header already names the charset
    assert out.decided_by == ("网络赌场",)


def test_detected_charset_is_named_when_rewriting(engine: Engine) -> None:
    body = ("<p>" + "今天天气很好，我们去公园散步。" * 20 + "网络赌场</p>").encode("gbk")
    out = run_job(engine, job(body, "text/html"))
    assert out.status == "mask" and out.content_type is not None
    assert out.content_type.startswith("text/html; charset=")
    assert "****" in out.body.decode(out.content_type.split("=")[1])  # type: ignore[union-attr]


def test_invalid_bytes_are_dropped_only_when_rewriting(engine: Engine) -> None:
    hidden = "<p>网络".encode("gbk") + b"\xff" + "赌场</p>".encode("gbk")
    out = run_job(engine, job(hidden, "text/html; charset=gbk"))
    assert out.status == "mask" and out.cleaned
    assert out.body is not None and out.body.decode("gbk") == "<p>****</p>"
    clean = "<p>天气</p>".encode("gbk") + b"\xff"
    assert run_job(engine, job(clean, "text/html; charset=gbk")).body is None


def test_compressed_and_limits(engine: Engine) -> None:
    out = run_job(engine, job(gzip.compress("<p>网络赌场</p>".encode()), enc="gzip"))
    assert out.content_encoding == "gzip" and gzip.decompress(out.body) == b"<p>****</p>"  # type: ignore[arg-type]
    small = Profile(max_scan_bytes=1024)
    assert run_job(engine, job(gzip.compress(b" " * 5000), enc="gzip", profile=small)).status == (
        "oversize"
    )
    assert run_job(engine, job(b"\x1f\x8b\x08garbage", enc="gzip")).status == "error"


def test_block_and_skip(engine: Engine) -> None:
    out = run_job(engine, job("<p>赌博网站</p>".encode()))
    assert out.status == "block" and out.reason == "keywords" and out.body is None
    assert out.categories == {"gambling": 120} and out.top_category == "gambling"
    assert run_job(engine, job(b"var a = '\xe8\xb5\x8c';", "text/javascript")).status == "skip"
    assert run_job(engine, job(b"\x89PNG\r\n\x1a\nxxxx", "image/png")).status == "skip"


def test_range_cut_inside_a_utf8_character(engine: Engine) -> None:
    body = "今天天气很好 网络赌场 今天".encode()
    out = run_job(engine, job(body[1:-1], "text/plain"))
    assert out.status == "mask" and out.charset == "utf-8"


def test_engine_failure_is_an_error_outcome_without_content(engine: Engine) -> None:
    class Broken(Engine):
        def scan(self, *a: object, **k: object):  # type: ignore[no-untyped-def, override]
            raise RuntimeError("boom 网络赌场")

    broken = Broken(engine.lists)
    out = run_job(broken, job(b"<p>x</p>"))
    assert out.status == "error" and out.problem == "scan failed: RuntimeError"
