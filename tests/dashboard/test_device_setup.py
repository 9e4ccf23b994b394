"""Device set-up in a real mitmdump and a real headless Chromium: the set-up page through
the proxy (``qinglang.home.arpa/setup``) and on the dashboard's port, the CA downloads,
the PAC file driving Chromium through the proxy, listeners mapped to profiles, and the
per-device WireGuard configuration shown to a signed-in parent only."""

from __future__ import annotations

import json
import re
import socket
import subprocess
import textwrap
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import mitmproxy_rs
import numpy as np
import pytest
import zxingcpp
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.serialization import pkcs12
from e2e.conftest import ROOT, Proxy, free_port, stop_group
from e2e.upstream import Upstream
from e2e.youth_support import ROUTE
from headless import launch
from mitmproxy import dns
from playwright.sync_api import Browser, Page, sync_playwright

from qinglang.dashboard import accounts
from qinglang.deploy.wireguard import key_path, run_args
from qinglang.policy.config import load_config
from qinglang.store import dashdb as db

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(180)]
PASSWORD = "correct horse battery"
CHILD_IP, OTHER_CHILD_IP = "127.0.0.1", "127.0.0.3"
CONFIG = """\
lists: [lists]
profiles:
  child: {{}}
  adult: {{filter: false}}
devices:
  - {{name: kid-phone, profile: child, wireguard_port: {w1}}}
  - {{name: dad-phone, profile: adult, wireguard_port: {w2}}}
clients:
  - {{listener: {adult_port}, profile: adult}}
default_profile: child
events: {{db: events.sqlite}}
"""


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Home:
    proxy: Proxy
    upstream: Upstream
    adult_port: int  # a second explicit-proxy listener, mapped to the adult profile
    dash_port: int
    w1: int
    w2: int
    dns_port: int
    data_dir: Path

    @property
    def dash(self) -> str:
        return f"http://127.0.0.1:{self.dash_port}"


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Home]:
    root = tmp_path_factory.mktemp("setup")
    (root / "upstream").mkdir()
    upstream = Upstream(root / "upstream")
    adult_port, dash_port = free_port(), free_port()
    w1, w2, dns_port = free_udp_port(), free_udp_port(), free_udp_port()
    proxy = Proxy(root)
    proxy.config.write_text(CONFIG.format(w1=w1, w2=w2, adult_port=adult_port), encoding="utf-8")
    conn = db.connect(proxy.confdir / "qinglang-dashboard.sqlite")
    accounts.set_password(conn, "mum", PASSWORD)
    conn.close()
    data_dir = root / "data"
    # The listeners `qinglang run` adds: the explicit proxy, then one WireGuard per device.
    modes = run_args(load_config(proxy.config), [], data_dir)
    proxy.extra = [
        "-s", str(ROUTE), "--set", f"test_upstream_http={upstream.http_port}",
        "--set", f"test_upstream_https={upstream.https_port}",
        *modes,
        "--mode", f"regular@{adult_port}",
        "--mode", f"dns@{dns_port}",  # DNS as mitmproxy sees it inside a WireGuard tunnel
        "--set", f"qinglang_dashboard=127.0.0.1:{dash_port}",
        "--set", f"qinglang_data_dir={data_dir}",
        "--set", "qinglang_lan_host=127.0.0.1",
    ]  # fmt: skip
    try:
        proxy.start()
        deadline = time.monotonic() + 20
        while "qinglang: dashboard on" not in proxy.log() and time.monotonic() < deadline:
            time.sleep(0.1)
        yield Home(proxy, upstream, adult_port, dash_port, w1, w2, dns_port, data_dir)
    finally:
        proxy.stop()
        upstream.close()
    proxy.assert_no_errors()


@pytest.fixture(scope="module")
def playwright() -> Iterator[object]:
    with sync_playwright() as p:
        yield p


def _page(browser: Browser, lang: str = "en-US") -> Page:
    ctx = browser.new_context(locale=lang, extra_http_headers={"accept-language": lang})
    return ctx.new_page()


def _cert(home: Home) -> x509.Certificate:
    return x509.load_pem_x509_certificate(home.proxy.ca.read_bytes())


def _fingerprint(cert: x509.Certificate) -> str:
    return ":".join(f"{b:02X}" for b in cert.fingerprint(hashes.SHA256()))


def _download(page: Page, name: str) -> bytes:
    """Click a download link as a user would; the file's bytes."""
    with page.expect_download() as info:
        page.locator(f"a[href='/setup/{name}']").click()
    return Path(info.value.path()).read_bytes()


PLATFORMS = ("windows", "macos", "ios", "android", "chromeos", "linux")


def _check_setup_page(page: Page, home: Home, *, via_proxy: bool) -> None:
    cert = _cert(home)
    assert page.locator("#sha256").inner_text() == f"SHA-256 {_fingerprint(cert)}"
    for key in PLATFORMS:
        section = page.locator(f"details#{key}")
        section.locator("summary").click()  # each platform's steps unfold on a click
        assert section.locator("ol.cert li").first.is_visible(), key
        assert section.locator("ol.cert li").count() >= 1, key
        assert section.locator("ol.proxy li").count() >= 1, key
    assert page.locator("#proxy-address").inner_text() == f"127.0.0.1:{home.proxy.port}"
    assert page.locator("#pac-url").inner_text() == f"{home.dash}/proxy.pac"
    assert page.locator("#via-proxy").count() == (1 if via_proxy else 0)
    ios = page.locator("details#ios").inner_text()
    assert "Certificate Trust Settings" in ios or "证书信任设置" in ios
    android = page.locator("details#android").inner_text()
    assert "Android 7" in android
    # The downloads are the proxy's real certificate, in each format.
    pem = _download(page, "qinglang-ca.pem")
    assert x509.load_pem_x509_certificate(pem) == cert
    der = _download(page, "qinglang-ca.crt")
    assert x509.load_der_x509_certificate(der) == cert
    p12 = _download(page, "qinglang-ca.p12")
    key, p12_cert, extra = pkcs12.load_key_and_certificates(p12, None)
    assert key is None and [c for c in (p12_cert, *extra) if c] == [cert]
    # Nothing of the CA's key, by any name.
    ca_key = serialization.load_pem_private_key(
        (home.proxy.confdir / "mitmproxy-ca.pem").read_bytes(), None
    )
    key_der = ca_key.private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )  # fmt: skip
    for body in (pem, der, p12, page.content().encode()):
        assert b"PRIVATE KEY" not in body and key_der not in body
    base = page.url.split("/setup")[0]
    proxy = None if base == home.dash else f"http://127.0.0.1:{home.proxy.port}"
    with httpx.Client(proxy=proxy) as c:
        for name in ("mitmproxy-ca.pem", "mitmproxy-ca.p12", "..%2fmitmproxy-ca.pem", "ca.key"):
            r = c.get(f"{base}/setup/{name}")
            assert r.status_code == 404 and b"PRIVATE" not in r.content


def test_setup_page_through_the_proxy(home: Home, playwright: object) -> None:
    browser = launch(playwright, proxy=f"http://127.0.0.1:{home.proxy.port}")
    try:
        page = _page(browser, "en-US")
        page.goto("http://qinglang.home.arpa/setup")
        assert page.locator("h1").inner_text() == "qinglang · device set-up"
        _check_setup_page(page, home, via_proxy=True)
        page = _page(browser, "zh-CN")
        page.goto("http://qinglang.home.arpa/setup")
        assert page.locator("h1").inner_text() == "清朗 · 设备设置"
        page.locator("details#windows summary").click()
        assert "受信任的根证书颁发机构" in page.locator("details#windows").inner_text()
        page.locator("nav.lang a").click()  # the other language, whatever the browser says
        assert page.locator("h1").inner_text() == "qinglang · device set-up"
    finally:
        browser.close()


def test_setup_page_on_the_dashboard_port_without_sign_in(home: Home, playwright: object) -> None:
    browser = launch(playwright)
    try:
        page = _page(browser, "en-US")
        page.goto(f"{home.dash}/setup")
        _check_setup_page(page, home, via_proxy=False)
        page.goto(f"{home.dash}/wireguard")  # the rest of the dashboard still asks
        assert page.url.endswith("/signin")
    finally:
        browser.close()
    # A filtered device that is not set up yet may open the set-up page, not the rest.
    with httpx.Client(transport=httpx.HTTPTransport(local_address=OTHER_CHILD_IP)) as c:
        assert c.get(f"{home.dash}/setup").status_code == 200
        assert c.get(f"{home.dash}/signin").status_code == 403


def test_hostile_request_is_not_reflected(home: Home) -> None:
    hostile = "<script>alert(1)</script>"
    with httpx.Client(proxy=f"http://127.0.0.1:{home.proxy.port}") as c:
        r = c.get(
            "http://qinglang.home.arpa/setup/",
            params={"lang": hostile, "x": hostile},
            headers={"accept-language": hostile, "user-agent": hostile},
        )
    assert r.status_code == 200 and "<script" not in r.text and "alert(1)" not in r.text


def test_pac_file_fails_closed_for_a_child_and_names_the_proxy(home: Home) -> None:
    with httpx.Client() as c:
        r = c.get(f"{home.dash}/proxy.pac")
        wpad = c.get(f"{home.dash}/wpad.dat")
    assert r.headers["content-type"].startswith("application/x-ns-proxy-autoconfig")
    assert wpad.headers["content-type"] == r.headers["content-type"] and wpad.text == r.text
    assert "function FindProxyForURL(url, host)" in r.text
    assert f'"PROXY 127.0.0.1:{home.proxy.port}"' in r.text  # no DIRECT fallback
    assert '"qinglang.home.arpa"' in r.text and 'isInNet(h, "192.168.0.0"' in r.text
    # Through the adult listener, the same file lets a parent's device go direct.
    with httpx.Client(proxy=f"http://127.0.0.1:{home.adult_port}") as c:
        adult = c.get("http://qinglang.home.arpa/proxy.pac").text
    assert f'"PROXY 127.0.0.1:{home.adult_port}; DIRECT"' in adult


def test_chromium_with_the_pac_file_goes_through_the_proxy(home: Home, playwright: object) -> None:
    # No proxy server given: only the PAC file sends Chromium to the proxy, and
    # qinglang.home.arpa resolves nowhere but in the proxy.
    browser = launch(playwright, f"--proxy-pac-url={home.dash}/proxy.pac")
    try:
        page = _page(browser)
        page.goto("http://qinglang.home.arpa/setup")
        assert page.locator("#via-proxy").count() == 1
        # A page the child must not see, on a name the PAC file sends to the proxy (which
        # reaches the test upstream for it): filtered, so it went through the proxy.
        page.goto("http://casino.example/block.html")
        assert "网络赌场" not in page.content()
        assert any(
            path == "/block.html" and headers.get("host") == "casino.example"
            for path, headers in home.upstream.requests
        )
    finally:
        browser.close()


def test_two_listeners_map_to_two_profiles(home: Home) -> None:
    url = home.upstream.url("/block.html")
    with httpx.Client(proxy=f"http://127.0.0.1:{home.proxy.port}", timeout=20) as c:
        child = c.get(url)
    with httpx.Client(proxy=f"http://127.0.0.1:{home.adult_port}", timeout=20) as c:
        adult = c.get(url)
    assert "网络赌场" in adult.text and adult.status_code == 200
    assert "网络赌场" not in child.text


def _qr_text(page: Page, selector: str) -> str:
    """Rasterise the served QR code (SVG) in the browser and decode it with zxing-cpp."""
    pixels = page.evaluate(
        """async (sel) => {
            const svg = document.querySelector(sel);
            const xml = new XMLSerializer().serializeToString(svg);
            const img = new Image();
            img.src = "data:image/svg+xml;base64," + btoa(xml);
            await img.decode();
            const c = document.createElement("canvas");
            c.width = img.width; c.height = img.height;
            const g = c.getContext("2d");
            g.fillStyle = "#fff"; g.fillRect(0, 0, c.width, c.height);
            g.drawImage(img, 0, 0);
            const d = g.getImageData(0, 0, c.width, c.height).data;
            const out = [];
            for (let i = 0; i < d.length; i += 4) out.push(d[i]);
            return [c.width, c.height, out];
        }""",
        selector,
    )
    w, h, grey = pixels
    image = np.array(grey, dtype=np.uint8).reshape(h, w)
    found = zxingcpp.read_barcodes(image)
    assert found, "no QR code found in the served SVG"
    return str(found[0].text)


def _conf_fields(text: str) -> dict[str, str]:
    fields = {}
    for line in text.splitlines():
        k, sep, v = line.partition(" = ")
        if sep:
            fields[k.strip()] = v.strip()
    return fields


def test_wireguard_configuration_for_a_signed_in_parent(home: Home, playwright: object) -> None:
    log = home.proxy.log()
    for port in (home.w1, home.w2):
        assert f"WireGuard server listening at 127.0.0.1:{port}" in log
    assert "PrivateKey" not in log  # mitmproxy prints the client conf; qinglang hides it
    browser = launch(playwright)
    try:
        page = _page(browser)
        page.goto(f"{home.dash}/signin")
        page.locator("input[name=user]").fill("mum")
        page.locator("input[name=password]").fill(PASSWORD)
        page.locator("form[action='/signin'] button").click()
        page.wait_for_url(f"{home.dash}/")
        page.goto(f"{home.dash}/wireguard")
        for name, port, profile in (("kid-phone", home.w1, "child"),
                                    ("dad-phone", home.w2, "adult")):  # fmt: skip
            section = page.locator(f"#device-{name}")
            assert section.locator(".wg-profile").inner_text() == profile
            conf = section.locator("pre.wg-conf").inner_text()
            fields = _conf_fields(conf)
            keys = json.loads(key_path(home.data_dir, name).read_text())
            # The key file mitmdump loaded for this listener is the one the config names.
            assert fields["PrivateKey"] == keys["client_key"]
            assert mitmproxy_rs.wireguard.pubkey(fields["PrivateKey"]) == (
                mitmproxy_rs.wireguard.pubkey(keys["client_key"])
            )
            assert fields["PublicKey"] == mitmproxy_rs.wireguard.pubkey(keys["server_key"])
            assert fields["Endpoint"] == f"127.0.0.1:{port}"
            assert fields["AllowedIPs"] == "0.0.0.0/0, ::/0"
            assert key_path(home.data_dir, name).stat().st_mode & 0o777 == 0o600
            assert _qr_text(page, f"#device-{name} .wg-qr svg").strip() == conf.strip()
            with page.expect_download() as info:
                section.locator("a.wg-download").click()
            assert Path(info.value.path()).read_text().strip() == conf.strip()
        kid = _conf_fields(page.locator("#device-kid-phone pre.wg-conf").inner_text())
        dad = _conf_fields(page.locator("#device-dad-phone pre.wg-conf").inner_text())
        assert kid["PrivateKey"] != dad["PrivateKey"] and kid["PublicKey"] != dad["PublicKey"]
    finally:
        browser.close()


def test_a_child_cannot_fetch_a_phone_configuration(home: Home) -> None:
    url = f"{home.dash}/wireguard/dad-phone.conf"
    with httpx.Client(transport=httpx.HTTPTransport(local_address=OTHER_CHILD_IP)) as c:
        r = c.get(url)  # a filtered device, directly
        assert r.status_code == 403 and "PrivateKey" not in r.text
    with home.proxy.client(OTHER_CHILD_IP) as c:
        r = c.get(url)  # a filtered device through the proxy
        assert r.status_code == 403 and "PrivateKey" not in r.text
    with httpx.Client() as c:  # the machine itself, not signed in
        r = c.get(url)
        assert r.status_code in (200, 303) and "PrivateKey" not in r.text
        assert re.search(r"/signin$", str(r.url)) or r.headers.get("location") == "/signin"


def test_config_errors_name_the_line(tmp_path: Path) -> None:
    cfg = tmp_path / "q.yaml"
    cfg.write_text(
        textwrap.dedent("""\
            profiles: {child: {}}
            devices:
              - {name: a, profile: child, wireguard_port: 51821}
              - {name: b, profile: child, wireguard_port: 51821}
        """),
        encoding="utf-8",
    )
    with pytest.raises(ValueError, match=r"q\.yaml:4: devices\[1\]\.wireguard_port: port 51821"):
        load_config(cfg)


def test_qinglang_run_starts_a_wireguard_listener_per_device(tmp_path: Path) -> None:
    w1, w2, port = free_udp_port(), free_udp_port(), free_port()
    config = tmp_path / "qinglang.yaml"
    config.write_text(
        f"lists: [{ROOT / 'blocklists'}]\n"
        + CONFIG.split("lists: [lists]\n", 1)[1].format(w1=w1, w2=w2, adult_port=port + 1),
        encoding="utf-8",
    )
    log = tmp_path / "run.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            ["qinglang", "run", "--config", str(config), "--listen-host", "127.0.0.1",
             "--listen-port", str(port), "--set", f"confdir={tmp_path / 'conf'}",
             "--set", "qinglang_dashboard=off"],
            stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
    try:
        deadline = time.monotonic() + 40
        text = ""
        while time.monotonic() < deadline and proc.poll() is None:
            text = log.read_text(errors="replace")
            if "qinglang: filtering proxy listening" in text:
                break
            time.sleep(0.1)
        assert f"HTTP(S) proxy listening at 127.0.0.1:{port}" in text, text
        for w in (w1, w2):
            assert f"WireGuard server listening at 127.0.0.1:{w}" in text
        assert "PrivateKey" not in text
        for name in ("kid-phone", "dad-phone"):
            path = key_path(tmp_path / "conf", name)
            assert path.stat().st_mode & 0o777 == 0o600
    finally:
        stop_group(proc)


def test_the_proxy_answers_dns_for_its_own_name(home: Home) -> None:
    """On a WireGuard tunnel the phone asks mitmproxy's DNS: qinglang.home.arpa must
    resolve there, or the block page's links lead nowhere."""
    query = dns.Message(
        timestamp=0.0, id=4242, query=True, op_code=0, authoritative_answer=False,
        truncation=False, recursion_desired=True, recursion_available=False, reserved=0,
        response_code=0, questions=[dns.Question("qinglang.home.arpa", dns.types.A, 1)],
        answers=[], authorities=[], additionals=[],
    )  # fmt: skip
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(10)
        s.sendto(query.packed, ("127.0.0.1", home.dns_port))
        reply = dns.Message.unpack(s.recv(4096))
    assert reply.id == 4242 and reply.response_code == 0
    [answer] = reply.answers
    assert answer.name == "qinglang.home.arpa" and answer.type == dns.types.A
    assert answer.data == bytes([127, 0, 0, 1])  # qinglang_lan_host
