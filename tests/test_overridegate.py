"""A parent's answers in the proxy's rules: granted minutes add to the daily quota, and
lift a curfew for as long as they last, never the quota (real SQLite, signed records)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from qinglang.policy import youthgate
from qinglang.policy.config import parse_config
from qinglang.policy.decide import Who, lift, with_extra
from qinglang.policy.timerules import QuotaState
from qinglang.policy.urlrules import RequestInfo
from qinglang.store import dashdb as db
from qinglang.store import keys, overrides

TZ = ZoneInfo("Asia/Shanghai")
CONFIG = """\
lists: []
profiles:
  child:
    timezone: Asia/Shanghai
    curfew: ["21:00-07:00"]
    daily_minutes: 60
"""


def _setup(tmp_path: Path) -> tuple[overrides.OverrideStore, bytes, Path]:
    key = keys.load_or_create(tmp_path / "dash.key")
    state = tmp_path / "dash.sqlite"
    return overrides.OverrideStore(state, key), key, state


def _grant_minutes(state: Path, key: bytes, client: str, now: float, minutes: int) -> None:
    conn = db.connect(state)
    overrides.grant(conn, key, client=client, user=None, scope="minutes", host="", path="/",
                    minutes=minutes, expires=now + 6 * 3600, granted_by="mum",
                    now=now)  # fmt: skip
    conn.close()


def test_granted_minutes_lift_the_curfew_and_grow_the_quota(tmp_path: Path) -> None:
    cfg = parse_config(CONFIG, tmp_path / "qinglang.yaml")
    rules = youthgate.build(cfg).for_profile("child")
    store, key, state = _setup(tmp_path)
    night = datetime(2025, 6, 6, 21, 30, tzinfo=TZ)
    info = RequestInfo("GET", "school.example", "/", {"accept": "text/html"}, 443)
    used = QuotaState(used=20)
    d = rules.check(info, night, used)
    assert d.action == "timeup" and d.reason == "curfew"
    # Nothing granted yet: the curfew holds.
    assert lift(d, rules, night, used, store, Who("child", "10.0.0.7")) == d

    _grant_minutes(state, key, "10.0.0.7", night.timestamp() - 60, 30)
    assert lift(d, rules, night, used, store, Who("child", "10.0.0.7")).allowed
    # Another device is not covered.
    assert lift(d, rules, night, used, store, Who("child", "10.0.0.8")) == d
    # 30 minutes later the curfew is back.
    later = datetime(2025, 6, 6, 22, 0, tzinfo=TZ)
    assert lift(rules.check(info, later, used), rules, later, used, store,
                             Who("child", "10.0.0.7")).reason == "curfew"  # fmt: skip

    # The quota: 60 minutes used of 60, plus the 30 granted.
    full = QuotaState(used=60)
    grown = with_extra(store, full, Who("child", "10.0.0.7"), night.timestamp())
    assert grown is not None and grown.used == 30
    assert with_extra(store, full, Who("child", "10.0.0.8"), night.timestamp()) == full
    # Lifted curfew, but the quota used up even with the extra minutes: still refused.
    spent = QuotaState(used=95)
    kid = Who("child", "10.0.0.7")
    out = lift(d, rules, night, with_extra(store, spent, kid, night.timestamp()), store, kid)
    assert out.action == "timeup" and out.reason == "quota"
    store.close()


def test_a_tampered_grant_is_ignored(tmp_path: Path) -> None:
    store, key, state = _setup(tmp_path)
    now = datetime(2025, 6, 6, 12, 0, tzinfo=TZ).timestamp()
    conn = db.connect(state)
    overrides.grant(conn, key, client="10.0.0.7", user=None, scope="site", host="games.example",
                    path="/", minutes=0, expires=now + 3600, granted_by="mum",
                    now=now)  # fmt: skip
    assert store.lookup("10.0.0.7", "www.games.example", "/play?x=1", now) is not None
    with conn:
        conn.execute("UPDATE overrides SET client = '10.0.0.8'")
    conn.close()
    assert store.lookup("10.0.0.8", "games.example", "/", now) is None
    store.close()
