"""Fetch a reported page again for the corpus export: plain HTTP(S), a size cap, a
timeout, decoded by the same content-encoding rules as the proxy (urllib asks for
identity encoding)."""

from __future__ import annotations

import urllib.request
from urllib.parse import urlsplit

MAX_BYTES = 5 * 1024 * 1024
TIMEOUT = 15.0


def fetch_page(url: str) -> tuple[bytes, str | None]:
    if urlsplit(url).scheme not in ("http", "https"):
        raise ValueError(f"not an http(s) address: {url}")
    req = urllib.request.Request(
        url, headers={"User-Agent": "qinglang-report-export", "Accept-Encoding": "identity"}
    )
    with urllib.request.urlopen(req, timeout=TIMEOUT) as resp:
        body = resp.read(MAX_BYTES + 1)
        if len(body) > MAX_BYTES:
            raise ValueError(f"larger than {MAX_BYTES} bytes")
        return body, resp.headers.get("content-type")
