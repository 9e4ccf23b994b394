"""The device's address behind a balancer (forwarded.py): believed only from the balancers
named, only HAProxy's own (last) entry, remembered for a CONNECT tunnel."""

from __future__ import annotations

import ipaddress

import pytest

from qinglang.policy.forwarded import Forwarded, parse_networks

HA = ipaddress.ip_address("10.0.0.5")
DEVICE = ipaddress.ip_address("10.1.2.3")


def test_only_the_balancers_last_entry_is_believed() -> None:
    fw = Forwarded(parse_networks("10.0.0.5, 10.9.0.0/16"))
    headers = {"x-forwarded-for": "10.7.7.7, 10.1.2.3"}  # the first one the device wrote
    assert fw.client("c1", HA, headers) == DEVICE
    assert "x-forwarded-for" not in headers  # not passed on to websites
    other = ipaddress.ip_address("10.1.9.9")
    assert fw.client("c2", other, {"x-forwarded-for": "10.0.0.1"}) == other  # not a balancer


def test_a_connect_names_the_device_for_its_tunnel() -> None:
    fw = Forwarded(parse_networks("10.0.0.5"))
    assert fw.client("c1", HA, {"x-forwarded-for": "10.1.2.3"}) == DEVICE  # the CONNECT
    assert fw.client("c1", HA, {}) == DEVICE  # a request inside the tunnel
    assert fw.tunnel("c1", HA) == DEVICE
    fw.forget("c1")
    assert fw.tunnel("c1", HA) == HA


def test_nothing_changes_without_a_balancer_and_bad_entries_are_named() -> None:
    headers = {"x-forwarded-for": "10.1.2.3"}
    assert Forwarded().client("c1", HA, headers) == HA
    assert headers == {"x-forwarded-for": "10.1.2.3"}
    with pytest.raises(ValueError, match=r"'haproxy\.lan' is not an IP address"):
        parse_networks("10.0.0.5, haproxy.lan")
