"""Transparent mode for real: a client namespace routed through a router namespace that
runs `qinglang run --mode transparent` behind scripts/qinglang-nft.sh, to a web server in
a third namespace. The client has no proxy setting at all."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from .conftest import stop_group
from .netns import NFT_SCRIPT, in_ns, namespaces, sh, veth
from .upstream import make_cert

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(120)]

OWN_TERM = "qinglangtransparentprobe"
PAGE = f"<html><body><p>hello {OWN_TERM} world</p></body></html>"
CLIENT, ROUTER_LAN, ROUTER_WAN, SERVER = "10.77.0.2", "10.77.0.1", "10.88.0.1", "10.88.0.2"
PY = sys.executable
QINGLANG = str(Path(sys.executable).with_name("qinglang"))
CA_CERT = "mitmproxy-ca-cert.pem"

# Receives UDP on 443 and 4443; on the first datagram to 4443 (sent after those to 443),
# says how many reached 443.
UDP_SINK = f"""
import select, socket
a = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); a.bind(("{SERVER}", 443))
b = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); b.bind(("{SERVER}", 4443))
print("ready", flush=True)
got = 0
while True:
    ready, _, _ = select.select([a, b], [], [], 60)
    if not ready:
        break
    if a in ready:
        a.recv(100); got += 1
    if b in ready:
        b.recv(100); print("udp443", got, flush=True); break
"""

UDP_SEND = f"""
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for _ in range(3):
    s.sendto(b"quic?", ("{SERVER}", 443))
s.sendto(b"done", ("{SERVER}", 4443))
"""

# Fetches a URL with no proxy; over HTTPS, trusting only the CA file given (if any).
FETCH = """
import ssl, sys, urllib.request
ctx = ssl.create_default_context(cafile=sys.argv[2]) if len(sys.argv) > 2 else None
handlers = [urllib.request.ProxyHandler({}), urllib.request.HTTPSHandler(context=ctx)]
print(urllib.request.build_opener(*handlers).open(sys.argv[1], timeout=20).read().decode())
"""

# The same folder over HTTPS, with a self-signed certificate (the proxy does not check it:
# ssl_insecure, as in the other end-to-end tests).
HTTPS_SERVER = f"""
import functools, http.server, ssl, sys
handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=sys.argv[1])
httpd = http.server.HTTPServer(("{SERVER}", 443), handler)
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(sys.argv[2], sys.argv[3])
httpd.socket = ctx.wrap_socket(httpd.socket, server_side=True)
print("Serving HTTPS", flush=True)
httpd.serve_forever()
"""


def _start(ns: str, cmd: list[str], log: Path, **kw: object) -> subprocess.Popen[bytes]:
    with log.open("wb") as f:
        return subprocess.Popen(
            ["ip", "netns", "exec", ns, *cmd],
            stdout=f,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            **kw,  # type: ignore[arg-type]
        )


def _wait_for(log: Path, text: str, proc: subprocess.Popen[bytes], seconds: float = 40) -> str:
    deadline = time.monotonic() + seconds
    while True:
        out = log.read_text("utf-8", "replace") if log.exists() else ""
        if text in out:
            return out
        assert proc.poll() is None, out
        assert time.monotonic() < deadline, out
        time.sleep(0.1)


@pytest.fixture
def net() -> Iterator[tuple[str, str, str]]:
    with namespaces("cli", "rtr", "srv") as (cli, rtr, srv):
        veth(cli, "c0", rtr, "lan0")
        veth(srv, "s0", rtr, "wan0")
        sh("ip", "-n", cli, "addr", "add", f"{CLIENT}/24", "dev", "c0")
        sh("ip", "-n", cli, "route", "add", "default", "via", ROUTER_LAN)
        sh("ip", "-n", rtr, "addr", "add", f"{ROUTER_LAN}/24", "dev", "lan0")
        sh("ip", "-n", rtr, "addr", "add", f"{ROUTER_WAN}/24", "dev", "wan0")
        sh("ip", "-n", srv, "addr", "add", f"{SERVER}/24", "dev", "s0")
        sh("ip", "-n", srv, "route", "add", "default", "via", ROUTER_WAN)
        in_ns(rtr, "sh", "-c", "echo 1 > /proc/sys/net/ipv4/ip_forward")  # this namespace only
        yield cli, rtr, srv


def test_transparent_mode_filters_a_client_without_proxy_settings(
    net: tuple[str, str, str], tmp_path: Path
) -> None:
    cli, rtr, srv = net
    www = tmp_path / "www"
    www.mkdir()
    (www / "page.html").write_text(PAGE, encoding="utf-8")
    data = tmp_path / "data"
    (data / "lists").mkdir(parents=True)
    (data / "lists" / "probe.yaml").write_text(
        f"category: probe\nweight: 30\nterms: [{OWN_TERM}]\n", encoding="utf-8"
    )
    procs: list[subprocess.Popen[bytes]] = []
    try:
        web_log = tmp_path / "web.log"
        web = _start(srv, [PY, "-u", "-m", "http.server", "--bind", SERVER, "80",
                           "--directory", str(www)], web_log)  # fmt: skip
        procs.append(web)
        _wait_for(web_log, "Serving HTTP", web)
        cert, key = make_cert(tmp_path)
        tls_log = tmp_path / "tls.log"
        tls = _start(srv, [PY, "-c", HTTPS_SERVER, str(www), cert, key], tls_log)
        procs.append(tls)
        _wait_for(tls_log, "Serving HTTPS", tls)
        # Before any rule: the client reaches the server directly, page unchanged.
        direct = _fetch(cli)
        assert OWN_TERM in direct

        applied = in_ns(rtr, NFT_SCRIPT, "apply", "--iface", "lan0", "--client", f"{CLIENT}/32",
                        "--port", "8080")  # fmt: skip
        assert "applied" in applied.stdout
        proxy_log = tmp_path / "qinglang.log"
        proxy = _start(
            rtr,
            [QINGLANG, "run", "--data-dir", str(data), "--mode", "transparent",
             "--listen-port", "8080", "--set", "qinglang_workers=0",
             "--set", "qinglang_dashboard=off", "--set", "flow_detail=0",
             "--set", "ssl_insecure=true"],
            proxy_log,
            env={**os.environ, "QINGLANG_CACHE": str(tmp_path / "cache")},
        )  # fmt: skip
        procs.append(proxy)
        banner = _wait_for(proxy_log, "filtering proxy listening", proxy)
        assert f"proxy (Transparent Proxy) on {ROUTER_LAN}:8080" in banner

        # The client, with no proxy setting, gets the page through qinglang: masked.
        body = _fetch(cli)
        assert OWN_TERM not in body and "hello" in body and "*" * 8 in body
        # HTTPS too, for a device that trusts the CA qinglang made in its data directory.
        body = _fetch(cli, f"https://{SERVER}/page.html", str(data / "ca" / CA_CERT))
        assert OWN_TERM not in body and "hello" in body and "*" * 8 in body
        counters = in_ns(rtr, "nft", "list", "chain", "inet", "qinglang", "to_qinglang").stdout
        assert "packets 0 " not in counters

        # QUIC is dropped for the filtered client; other UDP still flows.
        sink_log = tmp_path / "udp.log"
        sink = _start(srv, [PY, "-c", UDP_SINK], sink_log)
        procs.append(sink)
        _wait_for(sink_log, "ready", sink)
        in_ns(cli, PY, "-c", UDP_SEND)
        assert "udp443 0" in _wait_for(sink_log, "udp443", sink)
        quic = in_ns(rtr, "nft", "list", "chain", "inet", "qinglang", "no_quic").stdout
        assert "packets 3 " in quic

        # remove reverses it exactly: the page comes straight from the server again.
        in_ns(rtr, NFT_SCRIPT, "remove")
        assert OWN_TERM in _fetch(cli)
    finally:
        for p in procs:
            stop_group(p)


def _fetch(ns: str, url: str = f"http://{SERVER}/page.html", *cafile: str) -> str:
    return in_ns(ns, PY, "-c", FETCH, url, *cafile).stdout
