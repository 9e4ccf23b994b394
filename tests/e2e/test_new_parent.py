"""Issue 8, as a new parent does it: a fresh HOME, `qinglang run` with nothing but ports, then
only what it prints and the README say, in a real headless Chromium. The set-up page and the
CA through the PAC file, the printed sign-in step, the parent's own device, a WireGuard phone
from the dashboard, and a child's page filtered. Nobody edits a file."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from dashboard.test_device_setup import _conf_fields, _qr_text, free_udp_port
from headless import launch
from playwright.sync_api import Browser, Page, Playwright, sync_playwright

from .conftest import free_port, stop_group
from .test_first_run import _wait
from .upstream import MASK_TERM, Upstream

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(120)]

PASSWORD = "correct horse battery staple"
PARENT_LAPTOP = "127.0.0.2"  # the parent's own device; the child's is 127.0.0.1
PRINTED_COMMAND = re.compile(r"^\s*(qinglang (?:admin set-password|allow-device) .*)$", re.M)


@dataclass
class Machine:
    """The machine running qinglang, as its owner sees it: a HOME, a terminal, the log."""

    home: Path
    port: int
    dash: int
    log: Path
    proc: subprocess.Popen[bytes] | None = None

    @property
    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if k not in ("QINGLANG_HOME", "XDG_DATA_HOME")}
        return {**env, "HOME": str(self.home)}

    def _start(self) -> subprocess.Popen[bytes]:
        """`qinglang run` with the ports (loopback only here), nothing else."""
        self.log.write_bytes(b"")
        with self.log.open("wb") as f:
            self.proc = subprocess.Popen(
                ["qinglang", "run", "--listen-host", "127.0.0.1", "--listen-port", str(self.port),
                 "--set", f"qinglang_dashboard=127.0.0.1:{self.dash}"],
                stdout=f, stderr=subprocess.STDOUT, start_new_session=True, env=self.env,
                cwd=self.home,
            )  # fmt: skip
        return self.proc

    def run(self) -> str:
        """The log, once the proxy listens and has said how to get the CA (its last line)."""
        text = _wait(self._start(), self.log)
        deadline = time.monotonic() + 10
        while "to install the CA certificate" not in text and time.monotonic() < deadline:
            time.sleep(0.1)
            text = self.log.read_text("utf-8", "replace")
        return text

    def run_until_exit(self) -> None:
        """A start that is expected to give up by itself."""
        self._start().wait(40)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            stop_group(self.proc)

    def type(self, command: str, stdin: str | None = None) -> str:
        """A command typed in a second terminal, as printed or as the README gives it."""
        r = subprocess.run(
            command.split(), input=stdin, capture_output=True, text=True, env=self.env,
            cwd=self.home, timeout=60,
        )  # fmt: skip
        assert r.returncode == 0, r.stdout + r.stderr
        assert "Traceback" not in r.stderr
        return r.stdout


@pytest.fixture
def machine(tmp_path: Path) -> Iterator[Machine]:
    home = tmp_path / "home"
    home.mkdir()
    m = Machine(home, free_port(), free_port(), tmp_path / "qinglang-run.log")
    try:
        yield m
    finally:
        m.stop()
    log = m.log.read_text("utf-8", "replace")
    assert "Traceback" not in log and "PrivateKey" not in log, log[-3000:]


@pytest.fixture
def chromium() -> Iterator[Playwright]:
    with sync_playwright() as p:
        yield p


def _page(b: Browser) -> Page:
    return b.new_context(locale="en-US", extra_http_headers={"accept-language": "en"}).new_page()


def _fingerprint(pem: bytes) -> str:
    cert = x509.load_pem_x509_certificate(pem)
    return "SHA-256 " + ":".join(f"{b:02X}" for b in cert.fingerprint(hashes.SHA256()))


def test_a_new_parent_gets_a_childs_phone_filtered(
    machine: Machine, chromium: Playwright, upstream: Upstream
) -> None:
    m = machine
    data = m.home / ".local" / "share" / "qinglang"  # where the README says it is
    ca_file = data / "ca" / "mitmproxy-ca-cert.pem"

    # 1. `qinglang run`: it says where everything is and what to do next.
    banner = m.run()
    assert f"qinglang: first run: created {data}" in banner
    assert f"proxy (HTTP(S) proxy) on 127.0.0.1:{m.port}" in banner
    assert f"dashboard on http://127.0.0.1:{m.dash}/" in banner
    setup_url = f"http://127.0.0.1:{m.dash}/setup"
    assert f"http://qinglang.home.arpa/setup (on a device using the proxy) or {setup_url}" in (
        banner
    )
    assert "open http://qinglang.home.arpa/setup" in banner  # the CA line says the same
    printed = PRINTED_COMMAND.findall(banner)
    assert [c.split()[1] for c in printed] == ["admin", "allow-device"], banner

    # 2. The child's device: its proxy setting is the PAC address the set-up page gives;
    # nothing else sends this Chromium to the proxy. qinglang.home.arpa exists nowhere but
    # in the proxy, so the page itself proves the PAC file works.
    pac_url = f"http://127.0.0.1:{m.dash}/proxy.pac"
    phone = launch(chromium, f"--proxy-pac-url={pac_url}")
    try:
        page = _page(phone)
        page.goto("http://qinglang.home.arpa/setup")
        assert page.locator("#via-proxy").is_visible()
        assert page.locator("#proxy-address").inner_text() == f"127.0.0.1:{m.port}"
        assert page.locator("#pac-url").inner_text() == pac_url
        shown = page.locator("#sha256").inner_text()
        with page.expect_download() as info:
            page.locator("a[href='/setup/qinglang-ca.pem']").click()
        downloaded = Path(info.value.path()).read_bytes()
    finally:
        phone.close()
    # The certificate the phone got is the proxy's, and the page's fingerprint is its own.
    assert downloaded == ca_file.read_bytes() and b"PRIVATE" not in downloaded
    assert shown == _fingerprint(downloaded)

    # The PAC file: a filtered device has no way around the proxy.
    pac = httpx.get(pac_url, timeout=20).text
    assert f'"PROXY 127.0.0.1:{m.port}"' in pac and "; DIRECT" not in pac

    # 3. The parent's laptop cannot open the dashboard yet; the page says what to type.
    laptop = httpx.Client(transport=httpx.HTTPTransport(local_address=PARENT_LAPTOP), timeout=20)
    with laptop:
        r = laptop.get(f"http://127.0.0.1:{m.dash}/")
        assert r.status_code == 403
        assert f"qinglang allow-device {PARENT_LAPTOP}</pre>" in r.text

        # 4. The printed steps, in a second terminal, with the laptop's address.
        set_password, allow = printed
        out = m.type(f"{set_password} --password-stdin", stdin=f"{PASSWORD}\n")
        assert "dashboard account 'admin' created; sign in to the dashboard" in out
        m.type(allow.replace("<its address>", PARENT_LAPTOP))
        deadline = time.monotonic() + 15  # the running proxy picks the rule up by itself
        while (r := laptop.get(f"http://127.0.0.1:{m.dash}/")).status_code == 403:
            assert time.monotonic() < deadline, r.text
            time.sleep(0.3)
        assert r.status_code == 303 and r.headers["location"] == "/signin"  # the form now
        # The parent's own device goes direct when qinglang is down.
        assert "; DIRECT" in laptop.get(pac_url).text

    # 5. A WireGuard phone for the child, by command (README, Phones: WireGuard), then a
    # restart, as the command says.
    wg = free_udp_port()
    config_of = re.search(r"--config (\S+)", allow)
    assert config_of is not None
    out = m.type(f"qinglang add-phone mei-phone --port {wg}")
    assert "Restart qinglang" in out
    deadline = time.monotonic() + 15  # the running proxy notices the edit and says so too
    while f"mei-phone (UDP {wg}): restart qinglang" not in m.log.read_text("utf-8", "replace"):
        assert time.monotonic() < deadline, m.log.read_text("utf-8", "replace")[-3000:]
        time.sleep(0.2)
    m.stop()
    banner = m.run()
    assert f"WireGuard server listening at 127.0.0.1:{wg}" in banner
    assert "set-password" not in banner  # signing in is set up now

    # 6. Signed in on the machine itself: the phone's configuration and QR code.
    desk = launch(chromium)
    try:
        page = _page(desk)
        page.goto(f"http://127.0.0.1:{m.dash}/")
        page.locator("input[name=user]").fill("admin")
        page.locator("input[name=password]").fill(PASSWORD)
        page.locator("form[action='/signin'] button").click()
        page.wait_for_url(f"http://127.0.0.1:{m.dash}/")
        page.locator("nav a[href='/wireguard']").click()
        phone_card = page.locator("#device-mei-phone")
        assert phone_card.locator(".wg-profile").inner_text() == "child"
        conf = phone_card.locator("pre.wg-conf").inner_text()
        fields = _conf_fields(conf)
        assert fields["Endpoint"] == f"127.0.0.1:{wg}" and fields["PrivateKey"]
        assert _qr_text(page, "#device-mei-phone .wg-qr svg").strip() == conf.strip()
        with page.expect_download() as info:
            phone_card.locator("a.wg-download").click()
        assert Path(info.value.path()).read_text().strip() == conf.strip()

        # 7. The child's browser, with the proxy address from the set-up page (the
        # test's pages are on loopback, which the PAC file rightly leaves direct).
        child = launch(chromium, "--proxy-bypass-list=<-loopback>",
                         proxy=f"http://127.0.0.1:{m.port}")  # fmt: skip
        try:
            kid = _page(child)
            kid.goto(upstream.url("/block.html"))
            assert kid.locator("h1").first.inner_text() == "This page was blocked"
            assert "Ask a parent for access" in kid.locator("body").inner_text()
            kid.goto(upstream.url("/mask.html"))
            text = kid.locator("body").inner_text()
            assert MASK_TERM not in text and "****" in text
        finally:
            child.close()

        # 8. The parent sees it on the dashboard.
        deadline = time.monotonic() + 15  # the event log writes in batches
        while True:
            page.goto(f"http://127.0.0.1:{m.dash}/events")
            events = page.locator("main").inner_text()
            if "/block.html" in events or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        assert "/block.html" in events and "/mask.html" in events, events
    finally:
        desk.close()
    # Nothing was edited by hand: the config is the one written on the first run plus the
    # two rules the commands added.
    config = (data / "qinglang.yaml").read_text("utf-8")
    assert config_of.group(1) == str(data / "qinglang.yaml")
    assert f"{{match: {PARENT_LAPTOP}, profile: parent}}" in config
    assert f"{{name: mei-phone, profile: child, wireguard_port: {wg}}}" in config
    m.stop()
    assert m.proc is not None and m.proc.returncode == 0


def test_taken_ports_say_how_to_choose_others(machine: Machine) -> None:
    """8080 or 8081 already used by something else on the parent's machine."""
    m = machine
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", m.dash))
        taken.listen()
        text = m.run()  # the proxy still filters; the log says how to move the dashboard
        assert f"TCP port 127.0.0.1:{m.dash} for the dashboard is already in use" in text
        assert "qinglang run --set qinglang_dashboard=127.0.0.1:PORT" in text
        assert f"127.0.0.1:{m.dash}/" not in text  # the banner prints no address it lacks
    m.stop()
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", m.port))
        taken.listen()
        m.run_until_exit()
    text = m.log.read_text("utf-8", "replace")
    assert m.proc is not None and m.proc.returncode != 0
    assert f"TCP port 127.0.0.1:{m.port} for the proxy (HTTP(S) proxy) is already in use" in text
