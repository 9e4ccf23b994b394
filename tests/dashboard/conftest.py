"""Fixtures for the dashboard tests: a config file, a real event log written by the real
EventStore, the dashboard app on its settings, and a signed-in Starlette TestClient."""

from __future__ import annotations

import re
import textwrap
import time
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from qinglang.dashboard import accounts
from qinglang.dashboard.app import create_app
from qinglang.dashboard.settings import Settings
from qinglang.store import dashdb as db
from qinglang.store.events import Event, EventStore

ROOT = Path(__file__).resolve().parents[2]
HOSTILE = "<img src=x onerror=alert(1)>.example"
PASSWORD = "correct horse battery"
CONFIG = """\
# the family's proxy
lists: [{lists}]
profiles:
  child:   # the children
    block_threshold: 100
    daily_minutes: 60
  adult:
    filter: false
clients:
  - {{match: 10.0.0.2, profile: adult}}  # dad's phone
  - {{match: 10.0.0.0/24, profile: child}}
default_profile: child
"""

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient


@dataclass
class Home:
    root: Path
    config: Path
    events_db: Path
    settings: Settings

    def events(self, *events: Event) -> None:
        store = EventStore(self.events_db, 30, flush_seconds=0.02)
        for e in events:
            store.record(e)
        assert store.flush()
        store.close()


@pytest.fixture
def home(tmp_path: Path) -> Home:
    config = tmp_path / "qinglang.yaml"
    config.write_text(CONFIG.format(lists=ROOT / "blocklists"), encoding="utf-8")
    settings = Settings(
        config_path=config,
        events_db=tmp_path / "events.sqlite",
        state_db=tmp_path / "dashboard.sqlite",
        secret_key_file=tmp_path / "dashboard.key",
        quota_db=tmp_path / "quota.sqlite",
    )
    conn = db.connect(settings.state_db)
    accounts.set_password(conn, "mum", PASSWORD)
    conn.close()
    return Home(tmp_path, config, settings.events_db, settings)


def csrf_of(html: str) -> str:
    m = re.search(r'name="csrf" value="([^"]+)"', html)
    assert m, "no CSRF token in the page"
    return m.group(1)


def sign_in(client: TestClient, user: str = "mum", password: str = PASSWORD) -> TestClient:
    page = client.get("/signin")
    r = client.post(
        "/signin", data={"csrf": csrf_of(page.text), "user": user, "password": password}
    )
    assert r.status_code == 200 and r.url.path == "/", r.text[:500]
    return client


@pytest.fixture
def make_client(home: Home) -> Iterator[Callable[..., TestClient]]:
    clients: list[TestClient] = []

    def make(ip: str = "127.0.0.1", *, signed_in: bool = True, lang: str = "en") -> TestClient:
        app = create_app(home.settings)
        c = TestClient(app, client=(ip, 40000), headers={"accept-language": lang})
        clients.append(c)
        return sign_in(c) if signed_in else c

    yield make
    for c in clients:
        c.close()


def blocked(host: str = "casino.example", **kw: object) -> Event:
    base: dict[str, object] = {
        "client": "10.0.0.7",
        "profile": "child",
        "host": host,
        "path": "/page",
        "action": "block",
        "reason": "keywords",
        "categories": {"gambling": 120},
        "score": 120,
        "decided_by": ("网络赌场",),
        "ts": time.time() - 60,
    }
    base.update(kw)
    return Event(**base)  # type: ignore[arg-type]


def write_config(path: Path, body: str) -> None:
    path.write_text(textwrap.dedent(body), encoding="utf-8")
