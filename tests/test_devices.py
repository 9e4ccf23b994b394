"""Devices on WireGuard: the ``devices`` section, listener rules, the key files and the
options ``qinglang run`` adds; and the PAC file's text."""

from __future__ import annotations

import ipaddress
import json
import logging
import stat
from pathlib import Path

import mitmproxy_rs
import pytest
from mitmproxy.proxy.mode_specs import ProxyMode

from qinglang.cli import run
from qinglang.deploy.wireguard import (
    KeyFileError,
    Keys,
    client_config,
    ensure_keys,
    key_path,
    read_keys,
    run_args,
)
from qinglang.pages import pac
from qinglang.policy.clients import ClientMap, listener_port
from qinglang.policy.config import load_config, parse_config
from qinglang.proxy.devicesetup import hide_private_keys

CFG = """\
profiles: {child: {}, teen: {}, adult: {filter: false}}
devices:
  - {name: kid-phone, profile: child, wireguard_port: 51821}
  - {name: dad-phone, profile: adult, wireguard_port: 51822}
clients:
  - {match: 10.0.0.0/8, profile: teen}
  - {listener: 8081, profile: adult}
default_profile: child
"""


def _write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "qinglang.yaml"
    p.write_text(text, encoding="utf-8")
    return p


@pytest.mark.parametrize(
    ("devices", "line", "reason"),
    [
        (
            "  - {name: a, profile: child, wireguard_port: 51821}\n"
            "  - {name: b, profile: child, wireguard_port: 51821}\n",
            4, "devices[1].wireguard_port: port 51821 is also the port of device 0",
        ),
        (
            "  - {name: a, profile: child, wireguard_port: 51821}\n"
            "  - {name: A, profile: child, wireguard_port: 51822}\n",
            4, "devices[1].name: device name 'A' is also device 0",
        ),
        (
            "  - {name: a, profile: nobody, wireguard_port: 51821}\n",
            3, "devices[0].profile: unknown profile 'nobody'",
        ),
        (
            "  - {name: ../etc, profile: child, wireguard_port: 51821}\n",
            3, "devices[0].name: String should match pattern",
        ),
        (
            "  - {name: a, profile: child, wireguard_port: 70000}\n",
            3, "devices[0].wireguard_port: Input should be less than or equal to 65535",
        ),
        (
            "  - {name: a, profile: child}\n",
            3, "devices[0]: a device needs exactly one of `ip`, `mac`, `user` or `wireguard_port`",
        ),
    ],
)  # fmt: skip
def test_device_mistakes_name_file_line_and_reason(
    tmp_path: Path, devices: str, line: int, reason: str
) -> None:
    path = _write(tmp_path, "profiles: {child: {}}\ndevices:\n" + devices)
    with pytest.raises(ValueError) as e:
        load_config(path)
    assert str(e.value).startswith(f"{path}:{line}: {reason}")


def test_a_client_rule_has_one_key(tmp_path: Path) -> None:
    path = _write(
        tmp_path, "profiles: {child: {}}\nclients:\n  - {listener: 8080, user: x, profile: child}\n"
    )
    with pytest.raises(ValueError, match=r":3: clients\[0\]: .*exactly one of"):
        load_config(path)


def test_device_listener_comes_before_address_rules() -> None:
    m = ClientMap(parse_config(CFG, "/tmp/q.yaml"))
    wg = ipaddress.ip_address("10.0.0.1")  # every WireGuard device has this address
    assert m.profile_for(wg, None, 51821) == "child"
    assert m.profile_for(wg, None, 51822) == "adult"
    assert m.profile_for(wg, None, 51823) == "teen"  # an address rule still applies
    assert m.profile_for(wg, None, None) == "teen"
    assert m.profile_for(ipaddress.ip_address("192.168.1.5"), None, 8081) == "adult"
    assert m.profile_for(ipaddress.ip_address("192.168.1.5"), None, 8080) == "child"
    # Who the device is in the event log, the minutes and the grants.
    assert m.client_id(wg, 51821) == "wg:kid-phone" and m.client_id(wg, 51822) == "wg:dad-phone"
    assert m.client_id(wg, 8081) == "10.0.0.1" and m.client_id(None, None) == ""


class _Conn:
    def __init__(self, spec: str) -> None:
        self.proxy_mode = ProxyMode.parse(spec)


def test_listener_port_from_the_connection_mode() -> None:
    assert listener_port(_Conn("wireguard:/data/wireguard/kid.conf@51821")) == 51821
    assert listener_port(_Conn("regular@8081")) == 8081
    assert listener_port(_Conn("regular")) == 8080  # mitmproxy's default, no master here
    assert listener_port(object()) is None


def test_keys_are_private_in_mitmproxys_format(tmp_path: Path) -> None:
    path = key_path(tmp_path, "kid-phone")
    keys = ensure_keys(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    data = json.loads(path.read_text())
    assert set(data) == {"server_key", "client_key"}  # what mitmproxy's server reads
    assert keys.client_public == mitmproxy_rs.wireguard.pubkey(data["client_key"])
    assert ensure_keys(path) == keys  # made once, then read
    path.chmod(0o644)
    ensure_keys(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_a_damaged_key_file_is_named_without_its_content(tmp_path: Path) -> None:
    path = key_path(tmp_path, "kid-phone")
    path.parent.mkdir(parents=True)
    path.write_text('{"server_key": "secret-looking", "client_key": "x"}')
    with pytest.raises(KeyFileError) as e:
        read_keys(path)
    assert str(path) in str(e.value) and "secret-looking" not in str(e.value)


def test_client_config() -> None:
    k = Keys(mitmproxy_rs.wireguard.genkey(), mitmproxy_rs.wireguard.genkey())
    text = client_config(k, "192.168.1.2", 51821)
    assert f"PrivateKey = {k.client_key}\n" in text
    assert f"PublicKey = {k.server_public}\n" in text
    assert "Endpoint = 192.168.1.2:51821\n" in text
    assert "Endpoint = [fd00::2]:51821\n" in client_config(k, "fd00::2", 51821)


def test_run_adds_a_listener_per_device(tmp_path: Path) -> None:
    cfg = parse_config(CFG, "/tmp/q.yaml")
    args = run_args(cfg, ["--set", f"confdir={tmp_path}"])
    assert args[2:] == [
        "--mode", "regular",  # any --mode replaces the default: the explicit proxy stays
        "--mode", f"wireguard:{tmp_path}/wireguard/kid-phone.conf@51821",
        "--mode", f"wireguard:{tmp_path}/wireguard/dad-phone.conf@51822",
    ]  # fmt: skip
    assert key_path(tmp_path, "kid-phone").exists()
    mine = run_args(cfg, ["--mode", "regular@3128", "--set", f"qinglang_data_dir={tmp_path}/d"])
    assert mine[:2] == ["--mode", "regular@3128"] and "regular" not in mine[2:]
    assert mine[5] == f"wireguard:{tmp_path}/d/wireguard/kid-phone.conf@51821"
    assert run_args(parse_config("{}", "/tmp/q.yaml"), ["-v"]) == ["-v"]


def test_run_reports_a_damaged_key_file(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    config = _write(
        tmp_path,
        f"lists: [{Path(__file__).resolve().parents[1] / 'blocklists'}]\n"
        "profiles: {child: {}}\n"
        "devices: [{name: kid-phone, profile: child, wireguard_port: 51821}]\n",
    )
    key_path(tmp_path, "kid-phone").parent.mkdir(parents=True)
    key_path(tmp_path, "kid-phone").write_text("not json")
    assert run.main(["--config", str(config), "--set", f"confdir={tmp_path}"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("qinglang: ") and "kid-phone.conf: not a WireGuard key file" in err


def test_private_keys_stay_out_of_the_log(caplog: pytest.LogCaptureFixture) -> None:
    hide_private_keys()
    logger = logging.getLogger("mitmproxy.proxy.mode_servers")
    with caplog.at_level(logging.INFO):
        logger.info("[Interface]\nPrivateKey = c2VjcmV0\n")
        logger.info("WireGuard server listening at 127.0.0.1:51821.")
    assert "c2VjcmV0" not in caplog.text and "listening at 127.0.0.1:51821" in caplog.text


def test_pac_fails_closed_and_keeps_local_names_direct() -> None:
    child = pac.render("192.168.1.2", 8080)
    assert 'var proxy = "PROXY 192.168.1.2:8080";' in child and "; DIRECT" not in child
    assert 'var proxy = "PROXY 192.168.1.2:8080; DIRECT";' in pac.render(
        "192.168.1.2", 8080, fallback_direct=True
    )
    assert '"PROXY [fd00::2]:8080"' in pac.render("fd00::2", 8080)
    assert 'if (h === "qinglang.home.arpa") return proxy;' in child
    for net in ('"10.0.0.0", "255.0.0.0"', '"172.16.0.0", "255.240.0.0"',
                '"192.168.0.0", "255.255.0.0"'):  # fmt: skip
        assert f"isInNet(h, {net})" in child
    assert 'dnsDomainIs(h, ".local")' in child and "isPlainHostName(h)" in child


@pytest.mark.parametrize("host", ['a"; return "DIRECT', "x y", "", "a/b", "-bad"])
def test_pac_refuses_a_host_that_is_not_one(host: str) -> None:
    with pytest.raises(ValueError):
        pac.render(host, 8080)


def test_run_says_when_it_cannot_write_a_key_file(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    config = _write(
        tmp_path,
        f"lists: [{Path(__file__).resolve().parents[1] / 'blocklists'}]\n"
        "profiles: {child: {}}\n"
        "devices: [{name: kid-phone, profile: child, wireguard_port: 51821}]\n",
    )
    not_a_dir = tmp_path / "file"
    not_a_dir.write_text("")
    assert run.main(["--config", str(config), "--set", f"confdir={not_a_dir}"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("qinglang: ") and "cannot write the WireGuard key file" in err


def test_the_lan_address_is_never_loopback_unless_nothing_else() -> None:
    from mitmproxy.net import local_ip

    from qinglang.deploy.where import lan_host

    outgoing = local_ip.get_local_ip() or "127.0.0.1"
    assert lan_host("192.168.1.2") == "192.168.1.2"
    assert lan_host("::ffff:192.168.1.2") == "192.168.1.2"
    assert lan_host("127.0.0.1") == outgoing  # the parent at the machine itself
    assert lan_host(None) == outgoing


def test_a_proxy_bound_to_one_address_is_given_as_that_address() -> None:
    # `qinglang run --listen-host 192.168.1.5`: the set-up page, the PAC file and the
    # WireGuard endpoint name the one address the proxy listens on, not another of the
    # machine's (nothing answers there).
    from mitmproxy.test import taddons

    from qinglang.deploy.where import lan_host
    from qinglang.proxy.devicesetup import DeviceSetup

    with taddons.context(DeviceSetup()) as tctx:
        tctx.configure(tctx.master.addons.get("devicesetup"), listen_host="192.168.1.5")
        assert lan_host("127.0.0.1") == "192.168.1.5"
        assert lan_host(None) == "192.168.1.5"
        assert lan_host("192.168.1.5") == "192.168.1.5"
        tctx.configure(tctx.master.addons.get("devicesetup"), listen_host="127.0.0.1")
        assert lan_host("127.0.0.1") == "127.0.0.1"  # only this machine can use it anyway
        tctx.configure(
            tctx.master.addons.get("devicesetup"),
            listen_host="0.0.0.0",
            qinglang_lan_host="10.1.2.3",
        )
        assert lan_host("127.0.0.1") == "10.1.2.3"  # the option still wins
