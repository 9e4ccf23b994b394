"""The dashboard's side of devices: listener rules on the Devices page survive an edit,
and the WireGuard page shows each phone's configuration to a signed-in parent only."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import replace

import mitmproxy_rs

from qinglang.dashboard.app import create_app
from qinglang.deploy.wireguard import ensure_keys, key_path
from qinglang.policy.config import load_config

from .conftest import Home, TestClient, csrf_of, sign_in


def _form(page: str) -> dict[str, str]:
    digest = re.search(r'name="digest" value="([^"]+)"', page).group(1)
    return {"csrf": csrf_of(page), "digest": digest}


def test_a_listener_rule_is_kept_and_added(
    make_client: Callable[..., TestClient], home: Home
) -> None:
    home.config.write_text(
        home.config.read_text(encoding="utf-8").replace(
            "clients:\n", "clients:\n  - {listener: 3129, profile: adult}  # parents' port\n"
        ),
        encoding="utf-8",
    )
    c = make_client()
    page = c.get("/clients").text
    assert 'value="3129"' in page and '<option value="listener" selected>' in page
    # Saved as shown, plus a new listener rule.
    r = c.post(
        "/clients",
        data={
            **_form(page), "count": "3",
            "kind0": "listener", "value0": "3129", "profile0": "adult",
            "kind1": "match", "value1": "10.0.0.2", "profile1": "adult",
            "kind2": "match", "value2": "10.0.0.0/24", "profile2": "child",
            "kind3": "listener", "value3": "3130", "profile3": "child",
            "default_profile": "child",
        },
    )  # fmt: skip
    assert r.status_code == 200, r.text
    cfg = load_config(home.config)
    assert [(x.listener, x.profile) for x in cfg.clients if x.listener] == [
        (3129, "adult"),
        (3130, "child"),
    ]
    assert "# parents' port" in home.config.read_text(encoding="utf-8")


def test_wireguard_page_for_a_signed_in_parent(home: Home) -> None:
    home.config.write_text(
        home.config.read_text(encoding="utf-8")
        + "devices:\n  - {name: mei-phone, profile: child, wireguard_port: 51821}\n"
        "  - {name: new-tablet, profile: child, wireguard_port: 51822}\n",
        encoding="utf-8",
    )
    data = home.root / "data"
    keys = ensure_keys(key_path(data, "mei-phone"))
    settings = replace(home.settings, data_dir=data, wireguard_endpoint=lambda seen: "192.0.2.7")
    with TestClient(create_app(settings), client=("127.0.0.1", 40000),
                    headers={"accept-language": "en"}) as c:  # fmt: skip
        assert c.get("/wireguard", follow_redirects=False).headers["location"] == "/signin"
        assert "PrivateKey" not in c.get("/wireguard/mei-phone.conf").text
        sign_in(c)
        page = c.get("/wireguard").text
        assert f"PrivateKey = {keys.client_key}" in page
        assert f"PublicKey = {mitmproxy_rs.wireguard.pubkey(keys.server_key)}" in page
        assert "Endpoint = 192.0.2.7:51821" in page and "<svg" in page
        assert "No key file yet" in page  # new-tablet: no listener until a restart
        conf = c.get("/wireguard/mei-phone.conf")
        assert (
            conf.headers["content-disposition"] == 'attachment; filename="qinglang-mei-phone.conf"'
        )
        assert conf.text in page
        assert c.get("/wireguard/new-tablet.conf").status_code == 404
        assert c.get("/wireguard/nobody.conf").status_code == 404
        audit = c.get("/audit").text
        assert "wireguard.view" in audit and "wireguard.download" in audit
    # A filtered device never gets that far.
    with TestClient(create_app(settings), client=("10.0.0.7", 40000)) as c:
        assert c.get("/wireguard/mei-phone.conf").status_code == 403
