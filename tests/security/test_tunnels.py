"""Tunnels carry only what can be filtered (issue 19, item 2), through a real mitmdump.

A child who gets a tunnel through the proxy to something that is not TLS or HTTP (ssh -D,
shadowsocks, OpenVPN over TCP, a server that answers ``101`` and then relays raw bytes)
has the unfiltered internet. Each test tries one such way out against hostile servers on
127.0.0.1 and checks that no byte of theirs reaches the child, that an event says why,
and that a parent's device (``filter: false``) keeps its tunnels.

All times are Beijing time; 2025-06-04 is a Wednesday.
"""

from __future__ import annotations

import socket
import ssl
import textwrap
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.x509.oid import NameOID
from e2e.conftest import Proxy
from e2e.upstream import BLOCK_TERMS, CLEAN_TEXT, Upstream
from e2e.youth_support import ROUTE, ZH, TestClock, events, eventually
from hypothesis import given, settings
from hypothesis import strategies as st
from mitmproxy.connection import Client
from mitmproxy.options import Options
from mitmproxy.proxy import layers
from mitmproxy.proxy.context import Context
from mitmproxy.proxy.layer import NextLayer
from mitmproxy.proxy.layers.http import HTTPMode
from mitmproxy.test import taddons

from qinglang.engine.yamlloc import SourceError
from qinglang.policy.config import Profile, parse_config, parse_port_range
from qinglang.proxy import tunnels as tunnels_module
from qinglang.proxy.filtering import Qinglang
from qinglang.proxy.tunnels import Refused, what_it_is
from qinglang.proxy.tunnels import Tunnels as TunnelGate

from ._tunnels_support import (
    BANNER,
    RAW_AFTER_101,
    RawServer,
    connect,
    read_all,
    tls_server_context,
)

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(120)]

CHILD, PARENT, PORTS = "127.0.0.1", "127.0.0.2", "127.0.0.4"
DAY, NIGHT = "2025-06-04T10:00:00+08:00", "2025-06-04T22:00:00+08:00"

CONFIG = """
    lists: [lists]
    profiles:
      child:
        timezone: Asia/Shanghai
        curfew: ["21:00-07:00"]
      ports:
        timezone: Asia/Shanghai
        curfew: ["21:00-07:00"]
        allow_ports: [22, {echo}, {banner}, "{tls_banner}-{tls_banner}"]
      parent: {{filter: false}}
    clients:
      - {{match: 127.0.0.2, profile: parent}}
      - {{match: 127.0.0.4, profile: ports}}
    default_profile: child
    events: {{db: events.sqlite}}
"""


@dataclass
class Tunnels:
    proxy: Proxy
    clock: TestClock
    upstream: Upstream
    echo: RawServer
    banner: RawServer
    tls_banner: RawServer
    upgrade: RawServer


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Tunnels]:
    home = tmp_path_factory.mktemp("tunnels")
    upstream = Upstream(home)
    cert, key = upstream.cert, upstream.key
    servers = [
        RawServer("echo"),
        RawServer("banner"),
        RawServer("banner", tls_server_context(Path(cert), Path(key))),
        RawServer("upgrade"),
    ]
    clock = TestClock(home / "clock.txt")
    clock.set(DAY)
    proxy = Proxy(
        home / "proxy",
        extra=[
            "-s", str(ROUTE),
            "--set", f"test_upstream_http={upstream.http_port}",
            "--set", f"test_upstream_https={upstream.https_port}",
            "--set", f"qinglang_clock={clock.path}",
            "--set", "qinglang_workers=1",
            # mitmproxy's own way to relay a host raw: not for a filtering profile.
            "--set", r"ignore_hosts=^ignored\.example\.test:",
        ],
    )  # fmt: skip
    echo, banner, tls_banner, upgrade = servers
    proxy.config.write_text(
        textwrap.dedent(CONFIG).format(
            echo=echo.port, banner=banner.port, tls_banner=tls_banner.port
        ),
        encoding="utf-8",
    )
    try:
        proxy.start()
        yield Tunnels(proxy, clock, upstream, echo, banner, tls_banner, upgrade)
    finally:
        proxy.stop()
        for s in servers:
            s.close()
        upstream.close()
    proxy.assert_no_errors()


def _refused(world: Tunnels, **match: str) -> dict[str, object]:
    rows = eventually(lambda: events(world.proxy, **match), f"an event {match}")
    assert rows[-1]["action"] == "block"
    return rows[-1]


def test_raw_tcp_through_a_tunnel_is_refused(world: Tunnels) -> None:
    before, had = world.echo.accepted, world.echo.received
    s, status, early = connect(world.proxy.port, PORTS, "127.0.0.1", world.echo.port)
    with s:
        assert status == 200  # an allowed port: what flows decides
        s.sendall(b"\x05\x01\x00socks or shadowsocks or openvpn, not TLS or HTTP\n")
        got, closed = read_all(s)
    assert early + got == b"" and closed
    assert world.echo.received == had  # nothing reached the server either
    assert world.echo.accepted == before + 1  # it was dialled: the server was there
    row = _refused(world, reason="tunnel", client=PORTS, host="127.0.0.1")
    assert "neither TLS nor HTTP" in str(row["detail"])


def test_a_server_that_speaks_first_never_reaches_the_child(world: Tunnels) -> None:
    # sshd greets before the client says anything: ``ssh -D`` through the proxy.
    s, status, early = connect(world.proxy.port, PORTS, "127.0.0.1", world.banner.port)
    with s:
        assert status == 200
        time.sleep(0.3)  # the banner is on its way before the client sends a byte
        with pytest.raises(OSError):
            s.sendall(b"SSH-2.0-OpenSSH_9.6\r\n")
            s.sendall(b"x" * 65536)  # the second write fails once the close is seen
            time.sleep(0.5)
            s.sendall(b"x" * 65536)
        got, closed = read_all(s)
    assert BANNER not in early + got and closed


def test_ssh_inside_tls_is_refused(world: Tunnels) -> None:
    # stunnel-style: TLS that a careless client does not verify, ssh inside.
    s, status, _ = connect(world.proxy.port, PORTS, "127.0.0.1", world.tls_banner.port)
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    got = b""
    with s, ctx.wrap_socket(s, server_hostname="tunnel.example.test") as t:
        assert status == 200
        t.settimeout(5)
        try:
            t.sendall(b"SSH-2.0-OpenSSH_9.6\r\n")
            while chunk := t.recv(4096):
                got += chunk
        except (OSError, ssl.SSLError):
            pass
    assert BANNER not in got
    assert b"SSH-2.0-OpenSSH_9.6" not in world.tls_banner.received
    _refused(world, reason="tunnel", client=PORTS, host="tunnel.example.test")


def test_a_parent_keeps_raw_tunnels(world: Tunnels) -> None:
    s, status, _ = connect(world.proxy.port, PARENT, "127.0.0.1", world.echo.port)
    with s:
        assert status == 200
        s.sendall(b"ping\n")
        s.settimeout(5)
        assert s.recv(100) == b"ping\n"
    s, status, early = connect(world.proxy.port, PARENT, "127.0.0.1", world.banner.port)
    with s:
        assert status == 200
        got = early
        s.settimeout(5)
        while BANNER not in got:
            got += s.recv(100)


def test_a_connect_inside_a_tunnel_gets_nowhere(world: Tunnels) -> None:
    s, status, _ = connect(world.proxy.port, PORTS, "127.0.0.1", world.echo.port)
    with s:
        assert status == 200
        inner = f"CONNECT 127.0.0.1:{world.banner.port} HTTP/1.1\r\nHost: x\r\n\r\n"
        s.sendall(inner.encode())
        got, closed = read_all(s)
    assert BANNER not in got and closed
    assert got == b"" or got.startswith(b"HTTP/1.1 400")


def _tls_issuer(proxy_port: int, source: str, host: str) -> str | None:
    """The issuer's common name the client sees through a CONNECT; None when the
    connection ends before a certificate arrives."""
    s, status, _ = connect(proxy_port, source, host, 443)
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    with s:
        assert status == 200
        try:
            with ctx.wrap_socket(s, server_hostname=host) as t:
                der = t.getpeercert(binary_form=True)
        except (OSError, ssl.SSLError):
            return None
    assert der is not None
    cert = x509.load_der_x509_certificate(der)
    return str(cert.issuer.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value)


def test_ignore_hosts_opens_no_raw_tunnel_for_a_child(world: Tunnels) -> None:
    # A parent gets the server's own certificate (relayed raw, as ignore_hosts says) ...
    assert _tls_issuer(world.proxy.port, PARENT, "ignored.example.test") == (
        "qinglang test upstream"
    )
    # ... a child gets nothing: an unfiltered relay is refused.
    assert _tls_issuer(world.proxy.port, CHILD, "ignored.example.test") is None
    _refused(world, reason="tunnel", client=CHILD, host="ignored.example.test")


def test_ports_other_than_80_and_443_need_allow_ports(world: Tunnels) -> None:
    before = world.echo.accepted
    for port in (22, world.echo.port):
        s, status, _ = connect(world.proxy.port, CHILD, "127.0.0.1", port)
        s.close()
        assert status == 403, port
    time.sleep(0.3)
    assert world.echo.accepted == before  # refused before anything was dialled
    row = _refused(world, reason="port", client=CHILD, host="127.0.0.1")
    assert row["detail"] in ("port 22", f"port {world.echo.port}")
    # ``allow_ports: [22]``: the port is let through (nothing listens there: a 502).
    s, status, _ = connect(world.proxy.port, PORTS, "127.0.0.1", 22)
    s.close()
    assert status != 403


def test_https_through_a_tunnel_is_still_filtered(world: Tunnels) -> None:
    with world.proxy.client(CHILD) as c:
        blocked = c.get("https://www.example.test/block.html", headers=ZH)
        assert blocked.status_code == 403
        assert BLOCK_TERMS.split()[0] not in blocked.text
        ok = c.get("https://www.example.test/clean.html", headers=ZH)
        assert ok.status_code == 200 and CLEAN_TEXT in ok.text


def test_the_curfew_applies_to_the_connect(world: Tunnels) -> None:
    world.clock.set(NIGHT)
    try:
        seen, had = len(world.upstream.requests), world.echo.received
        s, status, _ = connect(world.proxy.port, PORTS, "127.0.0.1", world.echo.port)
        with s:
            # Accepted (a browser gets the readable time-up page inside); nothing else flows.
            assert status == 200
            s.sendall(b"\x00\x01 raw bytes during the curfew\n")
            got, closed = read_all(s)
        assert got == b"" and closed
        assert world.echo.received == had
        with world.proxy.client(CHILD) as c:
            page = c.get("https://www.example.test/clean.html", headers=ZH)
        assert CLEAN_TEXT not in page.text and "07:00" in page.text
        assert len(world.upstream.requests) == seen  # the upstream heard nothing
    finally:
        world.clock.set(DAY)


def test_an_upgrade_to_a_raw_protocol_is_refused(world: Tunnels) -> None:
    # A hostile (or the child's own) server answers 101 to anything, then relays raw bytes.
    port = world.upgrade.port
    with socket.create_connection(("127.0.0.1", world.proxy.port), 10, (CHILD, 0)) as s:
        s.sendall(
            f"GET http://127.0.0.1:{port}/ HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
            "Upgrade: vpn\r\nConnection: Upgrade\r\n\r\n".encode()
        )
        got, closed = read_all(s, timeout=3)
    assert got == b"" and closed  # not the 101, not what follows it
    assert RAW_AFTER_101 not in got
    _refused(world, reason="tunnel", client=CHILD, host="127.0.0.1")


def _ctx(transport: str, server: tuple[str, int] | None = None) -> Context:
    client = Client(
        peername=("127.0.0.1", 5000),
        sockname=("127.0.0.1", 8080),
        timestamp_start=time.time(),
        transport_protocol=transport,  # type: ignore[arg-type]
    )
    c = Context(client, Options())
    c.server.address = server
    return c


@pytest.mark.parametrize(
    ("transport", "make", "refused"),
    [
        ("tcp", lambda c: layers.TCPLayer(c), "raw TCP"),
        ("tcp", lambda c: layers.HttpLayer(c, HTTPMode.transparent), None),
        ("tcp", lambda c: layers.ServerTLSLayer(c), None),
        ("udp", lambda c: layers.UDPLayer(c), "UDP"),
        ("udp", lambda c: layers.ServerQuicLayer(c), "QUIC"),
        ("udp", lambda c: layers.DNSLayer(c), None),
    ],
)
def test_what_a_layer_carries(transport: str, make: object, refused: str | None) -> None:
    """WireGuard and transparent modes: QUIC and UDP other than DNS are refused (browsers
    fall back to TCP), as is raw TCP."""
    with taddons.context():  # the QUIC layers read the event loop's clock from ctx.master
        why = what_it_is(make(_ctx(transport, ("203.0.113.5", 443))))  # type: ignore[operator]
    assert (why is None) if refused is None else (why is not None and refused in why)


# --- allow_ports in the config ---------------------------------------------------------


def _profile(text: str) -> Profile:
    return parse_config(textwrap.dedent(text), "qinglang.yaml").profiles["child"]


def test_allow_ports_takes_ports_and_ranges() -> None:
    prof = _profile("""
        profiles:
          child:
            allow_ports: [8443, "8000-8099", " 22 "]
    """)
    assert prof.allow_ports == [(8443, 8443), (8000, 8099), (22, 22)]
    assert all(prof.port_allowed(p) for p in (80, 443, 22, 8000, 8050, 8099, 8443))
    assert not any(prof.port_allowed(p) for p in (21, 23, 7999, 8100, 1080, 3128, 1194))
    # A profile that does not filter is never limited; the default allows the web only.
    assert Profile(filter=False).port_allowed(22)
    assert [p for p in (22, 80, 443, 8080) if Profile().port_allowed(p)] == [80, 443]


@pytest.mark.parametrize(
    "value",
    ["0", "65536", "22-", "-22", "9000-8000", "ssh", "8_080", "٨٠", "1e3", "true", "[1, 2]"],
)
def test_a_wrong_port_names_the_line(value: str) -> None:
    with pytest.raises(SourceError) as e:
        _profile(f"""
            profiles:
              child:
                allow_ports:
                  - {value if value in ("true", "[1, 2]") else repr(value)}
        """)
    assert "qinglang.yaml:5" in str(e.value) and "allow_ports" in str(e.value)


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.integers(), st.text(alphabet="0123456789-  \t٨²_+xe", max_size=12)))
def test_port_range_parser_accepts_only_what_it_says(value: int | str) -> None:
    try:
        first, last = parse_port_range(value)
    except ValueError:
        if isinstance(value, int):
            assert not 1 <= value <= 65535
        return
    assert 1 <= first <= last <= 65535
    if isinstance(value, int):
        assert first == last == value
    else:
        # Only ASCII digits, blanks and one dash: what a person writes for a range.
        assert set(value) <= set("0123456789- \t") and value.count("-") <= 1
        a, _, b = value.partition("-")
        assert (first, last) == (int(a), int(b) if b.strip() else int(a))


# --- fail-closed: no rules yet, or an error while deciding -------------------------------


def _decided(ctx: Context, chosen: object) -> NextLayer:
    nl = NextLayer(ctx)
    nl.layer = chosen  # type: ignore[assignment]  # as mitmproxy's NextLayer sets it
    return nl


def test_before_the_rules_load_a_raw_relay_is_refused() -> None:
    with taddons.context():
        ctx = _ctx("tcp", ("127.0.0.1", 443))
        nl = _decided(ctx, layers.TCPLayer(ctx))
        TunnelGate(Qinglang()).next_layer(nl)
        assert isinstance(nl.layer, Refused)
        assert not any(isinstance(x, layers.TCPLayer) for x in ctx.layers)


def test_an_error_while_deciding_refuses(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(chosen: object) -> str | None:
        raise RuntimeError("injected")

    monkeypatch.setattr(tunnels_module, "what_it_is", broken)
    with taddons.context():
        ctx = _ctx("tcp", ("127.0.0.1", 443))
        nl = _decided(ctx, layers.HttpLayer(ctx, HTTPMode.transparent))
        TunnelGate(Qinglang()).next_layer(nl)
        assert isinstance(nl.layer, Refused)
