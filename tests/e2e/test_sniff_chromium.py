"""Chromium's verdict on bodies with no Content-Type, against the filter's: a seeded set
of bodies around the sniffing rules (markup starts, whitespace, BOMs, binary bytes before
and after byte 1024, signatures followed by text), served by the raw server of
``test_browser_reads`` straight to a real headless Chromium (no proxy)."""

from __future__ import annotations

import random
from collections.abc import Iterator

import pytest
from headless import launch
from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import sync_playwright

from qinglang.content import mediatypes as mt

from .test_browser_reads import RawServer

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(120)]


@pytest.fixture(scope="module")
def raw() -> Iterator[RawServer]:
    s = RawServer()
    yield s
    s.close()


def _sniff_bodies(n: int) -> list[bytes]:
    """Bodies around Chromium's sniffing rules: markup starts, whitespace, BOMs, control
    bytes before and after byte 1024, signatures followed by text. Seeded: the same
    bodies every run."""
    rng = random.Random(20)
    starts = [
        b"", b"<p>", b"<ab", b"<!--x", b"\x0b\n <b>", b"<?xml version='1.0'?>", b"BZh",
        b"\x7fELF", b"RIFF", b"wOFF", b"OTTO", b"\xef\xbb\xbf", b"x<p>", b"  <HTML>",
    ]  # fmt: skip
    out = []
    for _ in range(n):
        body = bytearray(rng.choice(starts) + b" words ")
        body += bytes(rng.choice(b"abc xyz.,\n\t") for _ in range(rng.randint(0, 1600)))
        if rng.random() < 0.6:
            at = rng.randint(0, len(body))
            body[at:at] = bytes([rng.choice(BINARY_BYTES)])
        out.append(bytes(body))
    return out


BINARY_BYTES = bytes([*range(0x09), 0x0B, *range(0x0E, 0x1B), *range(0x1C, 0x20)])


def test_unknown_type_verdict_is_chromiums(raw: RawServer) -> None:
    """Chromium itself, without the proxy, on bodies with no Content-Type: whatever it
    shows as a document (HTML, XML, text) the filter scans, as the same kind for HTML."""
    bodies = _sniff_bodies(40)
    for i, body in enumerate(bodies):
        raw.cases[f"sniff-{i}"] = ("", body)
    disagree = []
    seen: set[str] = set()
    with sync_playwright() as p:
        browser = launch(p)
        try:
            for i, body in enumerate(bodies):
                page = browser.new_page()
                try:
                    page.goto(raw.url(f"sniff-{i}"), timeout=15000)
                    shown = page.evaluate("document.contentType")
                except PlaywrightError as e:
                    if "Download is starting" not in str(e):
                        raise
                    shown = "download"
                finally:
                    page.close()
                ours = mt.sniff(body).kind
                seen.add(shown)
                shown_as_text = shown in ("text/html", "text/xml", "text/plain")
                if (
                    (shown_as_text and ours is None)  # shown, but not scanned
                    or (shown == "text/html" and ours != "html")
                    # read as HTML while the browser shows the markup as text
                    or (ours == "html" and shown not in ("text/html", "text/xml"))
                ):
                    disagree.append((body[:40], len(body), shown, ours))
        finally:
            browser.close()
    assert not disagree, disagree
    assert {"text/html", "text/plain", "download"} <= seen  # the bodies cover each verdict
