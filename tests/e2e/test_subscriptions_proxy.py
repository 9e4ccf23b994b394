"""List subscriptions in a running proxy: fetched in the background from a real HTTP
server on 127.0.0.1 and in force without a restart; an unreachable subscription never
stops the proxy from starting."""

from __future__ import annotations

import textwrap
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from listserver import Published, list_server

from .conftest import CHILD, Proxy, free_port
from .youth_support import eventually

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(120)]

CONFIG = """
    lists: [lists]
    profiles:
      child: {{}}
    default_profile: child
    events: {{db: events.sqlite}}
    subscriptions:
      - {{name: family, url: "{url}", format: domains, category: porn}}
"""


@pytest.fixture
def pub() -> Iterator[Published]:
    with list_server() as p:
        yield p


def _proxy(home: Path, url: str) -> Proxy:
    proxy = Proxy(home, extra=["--set", "qinglang_subscriptions_check=1", "--set",
                               "qinglang_workers=0"])  # fmt: skip
    proxy.config.write_text(textwrap.dedent(CONFIG.format(url=url)), encoding="utf-8")
    return proxy


def _status(proxy: Proxy, host: str) -> int:
    with proxy.client(CHILD, timeout=10) as c:
        try:
            return c.get(f"http://{host}/").status_code
        except httpx.HTTPError:
            return 0


def test_a_subscription_is_fetched_and_applied_while_running(
    tmp_path: Path, pub: Published
) -> None:
    pub.files["/family.txt"] = b"listed-later.example\n"
    proxy = _proxy(tmp_path / "p", pub.url("/family.txt"))
    try:
        proxy.start()
        # Fetched in the background, written next to the config, picked up by the reload.
        eventually(lambda: _status(proxy, "listed-later.example") == 403, "the block", 40)
        assert (tmp_path / "p" / "subscriptions" / "domains" / "porn.txt").is_file()
        assert "list subscription family: updated" in proxy.log()
    finally:
        proxy.stop()
    proxy.assert_no_errors()


def test_offline_start_never_fails(tmp_path: Path) -> None:
    dead = f"http://127.0.0.1:{free_port()}/family.txt"  # nothing listens there
    proxy = _proxy(tmp_path / "p", dead)
    try:
        proxy.start()
        eventually(lambda: "list subscription family: failed" in proxy.log(), "the warning", 30)
        # Still filtering with the lists it has.
        assert _status(proxy, "listed-later.example") != 403
    finally:
        proxy.stop()
    proxy.assert_no_errors()
