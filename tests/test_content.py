"""Which responses are scanned, and as what (the Content-Type is a claim, not a fact)."""

from __future__ import annotations

import pytest

from qinglang.content.mediatypes import Plan, family, kind_for, plan_for, resolve

HTML = b"<!DOCTYPE html><html><body><p>hi</p></body></html>"


@pytest.mark.parametrize(
    ("ctype", "body", "kind"),
    [
        ("text/html; charset=utf-8", HTML, "html"),
        ("application/xhtml+xml", HTML, "html"),
        ("image/svg+xml", b"<svg><text>hi</text></svg>", "html"),
        ("application/json", b'{"a": "b"}', "json"),
        ("application/problem+json", b'{"a": "b"}', "json"),
        ("text/plain", b'{"a": "b"}', "json"),  # JSON recognised by parsing
        ("text/javascript", b'{"a": "b"}', "json"),
        ("application/javascript", b"[1, 2]", "json"),
        ("text/plain", b"just words", "text"),
        ("text/markdown", b"# title", "text"),
        (None, HTML, "html"),  # no label: sniffed
        (None, b"plain words, no markup", "text"),
        (None, b'{"a": 1}', "json"),
        ("image/png", HTML, "html"),  # a lying label
        ("application/octet-stream", b"<html><p>x</p></html>", "html"),
        ("application/json", HTML, "html"),  # "JSON" that is a page
        ("text/css", b"<!doctype html><p>x</p>", "html"),
    ],
)
def test_scanned_as(ctype: str | None, body: bytes, kind: str) -> None:
    plan = plan_for(ctype, body)
    assert resolve(plan, body.decode()) == kind


@pytest.mark.parametrize(
    ("ctype", "body"),
    [
        ("application/javascript", b"var s = '\xe7\xbd\x91'; function f() {}"),
        ("text/javascript", b"[1, 2"),  # starts like JSON, is not
        ("text/css", b"body { color: red }"),
        ("image/png", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"),
        ("text/html", b""),
        (None, b"\x00\x01\x02binary"),
        ("video/mp4", b"\x00\x00\x00\x18ftypmp42"),
        ("font/woff2", b"wOF2\x00\x01"),
        ("application/pdf", b"%PDF-1.7\n%"),
        ("application/zip", b"PK\x03\x04\x14\x00"),
    ],
)
def test_never_scanned(ctype: str | None, body: bytes) -> None:
    plan = plan_for(ctype, body)
    assert resolve(plan, body.decode("latin-1")) is None or not body


def test_declared_html_is_scanned_even_behind_binary_magic() -> None:
    # A browser renders text/html whatever bytes come first.
    assert plan_for("text/html", b"\x89PNG\r\n\x1a\n<p>x</p>") == Plan("html")


def test_families() -> None:
    assert family("TEXT/HTML; charset=gbk") == "html"
    assert family("text/event-stream") == "stream"
    assert family("application/x-javascript") == "script"
    assert family("") == "unknown"
    assert family("image/webp") == "binary"


def test_kind_for_always_gives_an_extractor() -> None:
    assert kind_for(None, "<html><p>x</p></html>") == "html"
    assert kind_for("application/javascript", "var x = 1;") == "text"
    assert kind_for("text/plain", '{"a": 1}') == "json"
    assert kind_for(None, "") == "text"
