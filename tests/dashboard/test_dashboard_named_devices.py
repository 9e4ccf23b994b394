"""Named devices on the dashboard: an unknown device shows up on the overview, one click
names it and gives it a profile (written to qinglang.yaml), and every page then shows
the name instead of the address."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable

from qinglang.policy.clients import ClientMap
from qinglang.policy.config import load_config

from .conftest import Home, TestClient, blocked, csrf_of

NEW = "192.168.5.9"  # no client rule covers it: it gets the default profile


def test_new_device_named_in_one_click(make_client: Callable[..., TestClient], home: Home) -> None:
    home.events(blocked("casino.example", client=NEW), blocked("dice.example"))
    c = make_client()
    page = c.get("/").text
    start = page.index('id="new-devices"')
    section = page[start : page.index("</section>", start)]
    assert NEW in section
    assert "10.0.0.7" not in section  # covered by the 10.0.0.0/24 client rule
    r = c.post(
        "/devices",
        data={"csrf": csrf_of(page), "ip": NEW, "label": "Mei's tablet", "profile": "adult"},
    )
    assert r.status_code == 200 and "The device is named" in r.text
    assert 'id="new-devices"' not in r.text  # nothing unknown is left
    cfg = load_config(home.config)
    (device,) = cfg.devices
    assert (device.label, device.profile) == ("Mei's tablet", "adult")
    assert ClientMap(cfg).profile_for(ipaddress.ip_address(NEW)) == "adult"
    # The parent's comments in the file are kept.
    assert "# dad's phone" in home.config.read_text("utf-8")
    # Every page shows the name, not the address.
    events = c.get("/events").text
    assert "Mei&#39;s tablet" in events
    overview = c.get("/").text
    assert f">{NEW}<" not in overview.replace(" ", "")
    # The chart's label too (the event keeps the profile it had then).
    assert re.search(r"Mei(\\u0027|&#39;)s tablet \(child\)", overview)


def test_bad_device_forms_change_nothing(
    make_client: Callable[..., TestClient], home: Home
) -> None:
    home.events(blocked(client=NEW))
    c = make_client()
    before = home.config.read_text("utf-8")
    token = csrf_of(c.get("/").text)
    for data in (
        {"ip": "not-an-ip", "label": "x", "profile": "child"},
        {"ip": NEW, "label": "", "profile": "child"},
        {"ip": NEW, "label": "x", "profile": "nobody"},
    ):
        r = c.post("/devices", data={"csrf": token, **data})
        assert "Not saved" in r.text
    assert home.config.read_text("utf-8") == before
    # Without the form's token nothing is written either.
    c.post("/devices", data={"ip": NEW, "label": "x", "profile": "child"})
    assert home.config.read_text("utf-8") == before


def test_named_devices_renamed_and_removed_on_the_devices_page(
    make_client: Callable[..., TestClient], home: Home
) -> None:
    text = home.config.read_text("utf-8")
    home.config.write_text(
        text + "devices:\n  - {name: tablet, label: Tablet, ip: 192.168.5.9, profile: child}"
        "  # Mei's\n  - {name: tv, mac: 'aa:bb:cc:dd:ee:01', profile: child}\n"
        "  - {name: phone, profile: child, wireguard_port: 51821}\n",
        encoding="utf-8",
    )
    c = make_client()
    page = c.get("/clients").text
    assert 'id="named-devices"' in page and "192.168.5.9" in page and "aa:bb:cc:dd:ee:01" in page
    digest = re.findall(r'name="digest" value="([^"]+)"', page)[-1]
    r = c.post(
        "/devices/edit",
        data={"csrf": csrf_of(page), "digest": digest, "label:tablet": "Mei's iPad",
              "profile:tablet": "adult", "label:tv": "", "profile:tv": "child",
              "remove:tv": "on"},
    )  # fmt: skip
    assert r.status_code == 200
    cfg = load_config(home.config)
    device, phone = cfg.devices
    assert (device.name, device.label, device.profile) == ("tablet", "Mei's iPad", "adult")
    assert phone.name == "phone"  # a WireGuard phone is not removed here (its keys)
    assert "# Mei's" in home.config.read_text("utf-8")  # the entry's comment stays
    # A form shown before someone else's edit writes nothing.
    before = home.config.read_text("utf-8")
    r = c.post(
        "/devices/edit",
        data={"csrf": csrf_of(r.text), "digest": digest, "label:tablet": "x",
              "profile:tablet": "child"},
    )  # fmt: skip
    assert "Not saved" in r.text and home.config.read_text("utf-8") == before
