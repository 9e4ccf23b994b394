"""Headless Chromium for the browser tests: Debian's build (installed by .ci/run), one set
of flags, and one way to launch it with or without a proxy."""

from __future__ import annotations

from playwright.sync_api import Browser, Playwright

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip


def launch(p: Playwright, *extra: str, proxy: str | None = None) -> Browser:
    kw: dict[str, object] = {"executable_path": CHROMIUM, "args": [*ARGS, *extra]}
    if proxy:
        kw["proxy"] = {"server": proxy}
    return p.chromium.launch(**kw)  # type: ignore[arg-type]
