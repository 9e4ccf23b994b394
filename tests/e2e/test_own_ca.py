"""Issue 23 items 12-13: `qinglang run` makes qinglang's own CA, which names itself to a
parent in every certificate store, leaves an existing CA alone, and the set-up page's
Linux/Chromium steps work as written on an account where Chromium never ran."""

from __future__ import annotations

import os
import re
import socket
import ssl
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from cryptography import x509
from cryptography.x509.oid import NameOID
from headless import launch
from playwright.sync_api import sync_playwright

from .conftest import free_port, stop_group
from .test_first_run import _wait
from .upstream import Upstream

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(120)]

CA_NAME = "qinglang 清朗 home filter"


# The tests look at the certificate the proxy presents, not at the rules: the upstream's
# address and port are ones a child's profile refuses a tunnel to (bare IP, port).
CONFIG = """\
lists: [<shipped>]
profiles:
  child: {}
  parent: {filter: false}
default_profile: parent
"""


def _start(home: Path, log: Path, port: int, dash: int) -> subprocess.Popen[bytes]:
    home.mkdir(parents=True, exist_ok=True)
    if not (home / "qinglang.yaml").exists():
        (home / "qinglang.yaml").write_text(CONFIG, encoding="utf-8")
    env = {**os.environ, "QINGLANG_HOME": str(home)}
    with log.open("wb") as f:
        return subprocess.Popen(
            ["qinglang", "run", "--listen-host", "127.0.0.1", "--listen-port", str(port),
             "--set", "ssl_insecure=true", "--set", "qinglang_workers=0",
             "--set", f"qinglang_dashboard=127.0.0.1:{dash}"],
            stdout=f, stderr=subprocess.STDOUT, start_new_session=True, env=env,
        )  # fmt: skip


def _issuer_through(port: int, host: str, target_port: int, cafile: Path) -> str:
    """The issuer's common name of the certificate the proxy presents for an HTTPS site,
    verified against ``cafile`` as a browser that trusts it would."""
    with socket.create_connection(("127.0.0.1", port), timeout=20) as raw:
        raw.sendall(f"CONNECT {host}:{target_port} HTTP/1.1\r\nHost: {host}\r\n\r\n".encode())
        reply = raw.recv(4096)
        assert reply.startswith(b"HTTP/1.1 200"), reply
        ctx = ssl.create_default_context(cafile=str(cafile))
        ctx.check_hostname = False  # the upstream is an address, not a name
        with ctx.wrap_socket(raw, server_hostname=host) as tls:
            der = tls.getpeercert(binary_form=True)
    assert der is not None
    cert = x509.load_der_x509_certificate(der)
    value = cert.issuer.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value
    return value if isinstance(value, str) else value.decode()


@pytest.fixture
def running(tmp_path: Path) -> Iterator[tuple[Path, int, int]]:
    home, port, dash = tmp_path / "home", free_port(), free_port()
    proc = _start(home, tmp_path / "run.log", port, dash)
    try:
        _wait(proc, tmp_path / "run.log")
        yield home, port, dash
    finally:
        stop_group(proc)


def test_a_real_https_request_gets_a_certificate_from_qinglangs_ca(
    running: tuple[Path, int, int], upstream: Upstream
) -> None:
    home, port, dash = running
    cert_pem = home / "ca" / "mitmproxy-ca-cert.pem"
    ca = x509.load_pem_x509_certificate(cert_pem.read_bytes())
    assert ca.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == CA_NAME
    assert _issuer_through(port, "127.0.0.1", upstream.https_port, cert_pem) == CA_NAME
    # The key stays the owner's alone; the set-up page names the CA as stores list it.
    assert (home / "ca" / "mitmproxy-ca.pem").stat().st_mode & 0o077 == 0
    page = httpx.get(f"http://127.0.0.1:{dash}/setup?lang=en", timeout=20).text
    assert CA_NAME in page and "named `mitmproxy`" not in page


def test_an_existing_ca_is_kept(tmp_path: Path, upstream: Upstream) -> None:
    from mitmproxy.certs import CertStore

    home = tmp_path / "home"
    CertStore.create_store(home / "ca", "mitmproxy", 2048)  # an install from before
    before = {p.name: p.read_bytes() for p in (home / "ca").iterdir()}
    port, dash = free_port(), free_port()
    proc = _start(home, tmp_path / "run.log", port, dash)
    try:
        _wait(proc, tmp_path / "run.log")
        issuer = _issuer_through(
            port, "127.0.0.1", upstream.https_port, home / "ca" / "mitmproxy-ca-cert.pem"
        )
    finally:
        stop_group(proc)
    assert issuer == "mitmproxy"  # devices that trust it keep working
    assert {p.name: p.read_bytes() for p in (home / "ca").iterdir() if p.name in before} == before


def test_the_linux_chromium_steps_work_on_a_fresh_account(
    running: tuple[Path, int, int], tmp_path: Path
) -> None:
    """The certutil commands as the set-up page shows them (read in Chromium), run in a
    HOME that has no NSS database yet."""
    _home, _port, dash = running
    with sync_playwright() as pw:
        browser = launch(pw)
        try:
            page = browser.new_context(locale="en-US").new_page()
            page.goto(f"http://127.0.0.1:{dash}/setup?lang=en")
            codes = page.locator("#linux code").all_text_contents()
        finally:
            browser.close()
    commands = [c for c in codes if "certutil" in c]
    assert len(commands) == 2, codes
    fresh = tmp_path / "fresh-account"
    fresh.mkdir()
    r = httpx.get(f"http://127.0.0.1:{dash}/setup/qinglang-ca.pem", timeout=20)
    (fresh / "qinglang-ca.pem").write_bytes(r.content)
    env = {"HOME": str(fresh), "PATH": os.environ["PATH"]}
    for command in commands:
        done = subprocess.run(["sh", "-c", command], cwd=fresh, env=env, capture_output=True,
                              text=True, timeout=60)  # fmt: skip
        assert done.returncode == 0, (command, done.stderr)
    listed = subprocess.run(
        ["certutil", "-d", f"sql:{fresh}/.pki/nssdb", "-L", "-n", "qinglang"],
        capture_output=True, text=True, env=env, timeout=60,
    )  # fmt: skip
    # certutil prints the name's Chinese characters as dots in the C locale.
    assert listed.returncode == 0 and "home filter" in listed.stdout, listed.stderr
    trust = subprocess.run(["certutil", "-d", f"sql:{fresh}/.pki/nssdb", "-L"],
                           capture_output=True, text=True, env=env, timeout=60)  # fmt: skip
    assert re.search(r"^qinglang\s+C,,\s*$", trust.stdout, re.M), trust.stdout
