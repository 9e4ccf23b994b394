"""The DNS query log: DNS mode's events per device, and the one-click "block this site" /
"allow this site" that writes the device's profile's lists in qinglang.yaml."""

from __future__ import annotations

from collections.abc import Callable

from qinglang.engine.verdict import Action
from qinglang.policy import youthgate
from qinglang.policy.config import load_config
from qinglang.policy.urlrules import RequestInfo

from .conftest import Home, TestClient, blocked, csrf_of


def _dns(host: str, client: str = "10.0.0.7", action: str = "pass") -> object:
    return blocked(host, client=client, path="dns:A", action=action, reason=None,
                   categories={}, score=0, decided_by=())  # fmt: skip


def test_dns_log_per_device_and_one_click_lists(
    make_client: Callable[..., TestClient], home: Home
) -> None:
    home.events(
        _dns("video-app.example"),  # type: ignore[arg-type]
        _dns("other-device.example", client="10.0.0.8"),  # type: ignore[arg-type]
        blocked("proxied-page.example"),
    )
    c = make_client()
    page = c.get("/dns").text
    assert "video-app.example" in page and "other-device.example" in page
    assert "proxied-page.example" not in page  # the proxy's events stay on /events
    mine = c.get("/dns", params={"client": "10.0.0.7"}).text
    assert "video-app.example" in mine and "other-device.example" not in mine

    r = c.post(
        "/dns/site",
        data={"csrf": csrf_of(page), "host": "video-app.example", "profile": "child",
              "do": "block", "client": "10.0.0.7"},
    )  # fmt: skip
    assert r.status_code == 200 and "Blocked" in r.text
    cfg = load_config(home.config)
    assert cfg.profiles["child"].deny_domains == ["video-app.example"]
    rules = youthgate.build(cfg).for_profile("child")
    d = rules.check(RequestInfo("GET", "cdn.video-app.example", "/"), None)
    assert d.action == Action.BLOCK
    # The button now offered is "allow"; it moves the site across.
    rows = r.text.split('id="dns-log"')[1].split("</tr>")
    row = next(x for x in rows if "video-app.example" in x)
    assert 'value="block"' not in row and 'value="allow"' in row
    c.post(
        "/dns/site",
        data={"csrf": csrf_of(r.text), "host": "video-app.example", "profile": "child",
              "do": "allow"},
    )  # fmt: skip
    cfg = load_config(home.config)
    assert cfg.profiles["child"].deny_domains == []
    assert cfg.profiles["child"].allow_domains == ["video-app.example"]
    assert "# dad's phone" in home.config.read_text("utf-8")  # comments kept


def test_bad_site_forms_write_nothing(make_client: Callable[..., TestClient], home: Home) -> None:
    c = make_client()
    before = home.config.read_text("utf-8")
    token = csrf_of(c.get("/dns").text)
    for data in (
        {"host": "http://x.example/path", "profile": "child", "do": "block"},
        {"host": "x.example", "profile": "nobody", "do": "block"},
        {"host": "x.example", "profile": "child", "do": "delete"},
    ):
        r = c.post("/dns/site", data={"csrf": token, **data})
        assert "Not saved" in r.text
    assert home.config.read_text("utf-8") == before
