"""DNS mode with DNS-over-HTTPS upstreams: `qinglang run --dns` asks real DoH servers on
127.0.0.1 over HTTPS (certificates checked), a device asks qinglang with dnspython.

The upstream list is tried in order: a port where nothing listens, a DoH server whose
certificate qinglang does not trust (a resolver anyone could stand up), the trusted
server under a name its certificate does not carry, then the trusted server under its
own name (its CA given with mitmproxy's ``ssl_verify_upstream_trusted_ca``).
"""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import dns.rcode
import pytest

from qinglang.deploy import datadir

from .conftest import free_port, stop_group
from .dns_support import address_of, addresses, ask, udp_port_free
from .doh_support import DohServer, doh_server
from .youth_support import eventually

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(90)]

TIMEOUT = 1.0  # dns.timeout: a slow upstream costs this much, not a hang


@dataclass
class Home:
    dns_port: int
    trusted: DohServer
    stranger: DohServer
    log: Path


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Home]:
    base = tmp_path_factory.mktemp("doh")
    root = base / "qinglang"
    d = datadir.resolve(str(root))
    datadir.ensure(d)
    with doh_server(base / "trusted") as trusted, doh_server(base / "stranger") as stranger:
        dead = free_port()
        text = d.config.read_text("utf-8")
        text += (
            "dns:\n  upstreams:\n"
            f"    - https://127.0.0.1:{dead}/dns-query#localhost\n"
            f"    - https://127.0.0.1:{stranger.port}/dns-query#localhost\n"
            f"    - https://127.0.0.1:{trusted.port}/dns-query#dns.wrong.example\n"
            f"    - https://127.0.0.1:{trusted.port}#localhost\n"
            f"  timeout: {TIMEOUT}\n  log: off\n"
        )
        d.config.write_text(text, encoding="utf-8")
        dns_port, port = udp_port_free(), free_port()
        log = base / "run.log"
        env = {**os.environ, "QINGLANG_HOME": str(root)}
        with log.open("wb") as f:
            proc = subprocess.Popen(
                ["qinglang", "run", "--dns", f"127.0.0.1:{dns_port}",
                 "--listen-host", "127.0.0.1", "--listen-port", str(port),
                 "--set", "qinglang_workers=0",
                 "--set", f"ssl_verify_upstream_trusted_ca={trusted.cert}",
                 "--set", f"qinglang_dashboard=127.0.0.1:{free_port()}"],
                stdout=f, stderr=subprocess.STDOUT, start_new_session=True, env=env,
            )  # fmt: skip
        try:
            deadline = time.monotonic() + 40
            while "filtering proxy listening" not in log.read_text("utf-8", "replace"):
                assert proc.poll() is None, log.read_text("utf-8", "replace")
                assert time.monotonic() < deadline, log.read_text("utf-8", "replace")
                time.sleep(0.1)
            yield Home(dns_port, trusted, stranger, log)
        finally:
            stop_group(proc)
        out = log.read_text("utf-8", "replace")
        assert "Traceback" not in out and "Addon error" not in out, out[-4000:]


@pytest.fixture(autouse=True)
def _well_behaved(home: Home) -> None:
    home.trusted.behaviour = "ok"


def test_allowed_name_resolved_over_doh_past_dead_and_untrusted(home: Home) -> None:
    r = ask(home.dns_port, "news.example")
    assert r.rcode() == dns.rcode.NOERROR
    assert addresses(r) == [address_of("news.example")]
    assert addresses(ask(home.dns_port, "news.example", "AAAA")) == ["2001:db8::53"]
    assert "news.example" in home.trusted.zone.asked
    # RFC 8484's default path, the upstream's #NAME as Host.
    assert f"POST /dns-query localhost:{home.trusted.port}" in home.trusted.requests
    # Neither the server with a certificate qinglang does not trust, nor the right
    # server under a name its certificate lacks, was asked a name.
    assert home.stranger.requests == []
    assert not any("wrong" in r for r in home.trusted.requests)


def test_blocked_name_never_reaches_the_doh_server(home: Home) -> None:
    for name in ("www.pornhub.com", "www.bet365.com"):
        assert addresses(ask(home.dns_port, name)) == ["0.0.0.0"], name
        assert name not in home.trusted.zone.asked


def test_safe_search_host_asked_over_doh(home: Home) -> None:
    r = ask(home.dns_port, "www.bing.com")
    assert addresses(r) == ["204.79.197.220"]
    assert "strict.bing.com" in home.trusted.zone.asked


@pytest.mark.parametrize(
    ("behaviour", "cause"), [("slow", "Timeout"), ("html", "DohError"), ("big", "DohError")]
)
def test_a_doh_upstream_that_fails_answers_servfail_in_time(
    home: Home, behaviour: str, cause: str
) -> None:
    home.trusted.behaviour = behaviour
    # The slow server answers after 5 s; qinglang gives up after dns.timeout (1 s) and
    # says so, well before the client's own 4 s (dnspython raises Timeout on a hang).
    r = ask(home.dns_port, f"{behaviour}.example", timeout=4)
    assert r.rcode() == dns.rcode.SERVFAIL
    assert addresses(r) == []
    # The log says why: the last upstream (the trusted one) timed out or was refused.
    last = f"https://127.0.0.1:{home.trusted.port}/dns-query#localhost: {cause})"
    eventually(lambda: last in home.log.read_text("utf-8", "replace"), f"{cause} logged")
