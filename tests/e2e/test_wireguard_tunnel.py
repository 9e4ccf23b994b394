"""Real WireGuard traffic: two phones, each a network namespace with a userspace
WireGuard client (wireguard-go, configured by ``wg`` from the configuration qinglang
gives the parent), tunnel to their own listeners of one mitmdump. The child's phone
gets the child profile and the parent's phone the adult one, though both appear as the
same tunnel address.

Each namespace is linked to this one by a veth pair on a /30 of its own, and the
WireGuard listeners bind to this side's address of that link only: nothing listens
beyond this machine. Everything made here is removed at the end.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from qinglang.deploy.wireguard import client_config, ensure_keys, key_path, mode_spec, read_keys
from qinglang.policy.config import load_config

from .conftest import Proxy
from .upstream import Upstream
from .youth_support import ROUTE, events

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(120)]
TAG = f"{os.getpid() % 100000}"
# A documentation address (TEST-NET-3): the phone dials it, the proxy routes it to the
# test upstream, nothing leaves the machine.
FAR = "203.0.113.10"
GET = """
import http.client, sys
c = http.client.HTTPConnection(sys.argv[1], 80, timeout=20)
c.request("GET", sys.argv[3], headers={"Host": sys.argv[2], "Accept-Language": "en"})
r = c.getresponse()
sys.stdout.write(str(r.status) + "\\n" + r.read().decode("utf-8", "replace"))
"""


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, timeout=20)


@dataclass
class Phone:
    name: str
    netns: str
    veth: str
    wg: str
    here: str  # this side of the link: where its WireGuard listener binds
    port: int
    proc: subprocess.Popen[bytes] | None = None

    def link(self) -> None:
        """The namespace and its veth link to this one."""
        _ip("netns", "add", self.netns)
        _ip("link", "add", self.veth, "type", "veth", "peer", "name", self.veth + "p")
        _ip("link", "set", self.veth + "p", "netns", self.netns)
        _ip("addr", "add", f"{self.here}/30", "dev", self.veth)
        _ip("link", "set", self.veth, "up")
        a, b, c, d = self.here.split(".")
        _ip("-n", self.netns, "addr", "add", f"{a}.{b}.{c}.{int(d) + 1}/30", "dev", self.veth + "p")
        _ip("-n", self.netns, "link", "set", self.veth + "p", "up")
        _ip("-n", self.netns, "link", "set", "lo", "up")

    def tunnel(self, conf: str) -> None:
        """wireguard-go in the namespace, set up from the parent's configuration."""
        env = dict(os.environ, WG_I_PREFER_BUGGY_USERSPACE_TO_POLISHED_KMOD="1")
        self.proc = subprocess.Popen(
            ["ip", "netns", "exec", self.netns, "wireguard-go", "-f", self.wg],
            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        sock = Path("/var/run/wireguard") / f"{self.wg}.sock"
        deadline = time.monotonic() + 20
        while not sock.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        # What wg-quick does with the parent's configuration: wg(8) takes the keys and
        # the peer; the address and the route are set on the interface.
        wg_conf = "\n".join(
            line for line in conf.splitlines() if not line.startswith(("Address", "DNS"))
        )
        conf_file = Path(f"/tmp/{self.wg}.conf")
        fd = os.open(conf_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(wg_conf + "\n")
        try:
            subprocess.run(
                ["ip", "netns", "exec", self.netns, "wg", "setconf", self.wg, str(conf_file)],
                check=True, capture_output=True, timeout=20,
            )  # fmt: skip
        finally:
            conf_file.unlink()
        _ip("-n", self.netns, "addr", "add", "10.0.0.1/32", "dev", self.wg)
        _ip("-n", self.netns, "link", "set", self.wg, "up")
        _ip("-n", self.netns, "route", "add", "default", "dev", self.wg)

    def get(self, host: str, path: str) -> tuple[int, str]:
        out = subprocess.run(
            ["ip", "netns", "exec", self.netns, sys.executable, "-c", GET, FAR, host, path],
            check=True, capture_output=True, timeout=60,
        )  # fmt: skip
        status, _, body = out.stdout.decode().partition("\n")
        return int(status), body

    def down(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        subprocess.run(["ip", "netns", "del", self.netns], capture_output=True, timeout=20)
        subprocess.run(["ip", "link", "del", self.veth], capture_output=True, timeout=20)


def _free_udp(host: str) -> int:
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


@pytest.fixture
def phones(tmp_path: Path) -> Iterator[tuple[Proxy, Upstream, Phone, Phone]]:
    for tool in ("ip", "wg", "wireguard-go"):
        assert shutil.which(tool), f"{tool} is missing: .ci/run installs it"
    n = int(TAG) % 60
    kid = Phone("kid-phone", f"qlk{TAG}", f"qvk{TAG}", f"qwk{TAG}", f"10.231.{n * 4}.1", 0)
    dad = Phone("dad-phone", f"qld{TAG}", f"qvd{TAG}", f"qwd{TAG}", f"10.232.{n * 4}.1", 0)
    (tmp_path / "upstream").mkdir()
    upstream = Upstream(tmp_path / "upstream")
    proxy = Proxy(tmp_path / "proxy")
    try:
        for phone in (kid, dad):
            phone.link()
            phone.port = _free_udp(phone.here)
        proxy.config.write_text(
            textwrap.dedent(f"""\
                lists: [lists]
                profiles: {{child: {{}}, adult: {{filter: false}}}}
                devices:
                  - {{name: kid-phone, profile: child, wireguard_port: {kid.port}}}
                  - {{name: dad-phone, profile: adult, wireguard_port: {dad.port}}}
                default_profile: child
                events: {{db: events.sqlite}}
            """),
            encoding="utf-8",
        )
        data = tmp_path / "data"
        cfg = load_config(proxy.config)
        # What `qinglang run` adds (run_args), each bound to its link's address here
        # rather than to every address of the machine.
        modes = ["--mode", "regular"]
        for device, phone in zip(cfg.devices, (kid, dad), strict=True):
            ensure_keys(key_path(data, device.name))
            modes += ["--mode", f"{mode_spec(data, device).rsplit('@', 1)[0]}@"
                      f"{phone.here}:{device.wireguard_port}"]  # fmt: skip
        proxy.extra = [
            "-s", str(ROUTE),
            "--set", f"test_upstream_http={upstream.http_port}",
            "--set", f"test_upstream_https={upstream.https_port}",
            *modes,
            "--set", f"qinglang_data_dir={data}",
            "--set", "qinglang_dashboard=off",
        ]  # fmt: skip
        proxy.start()
        for phone in (kid, dad):
            keys = read_keys(key_path(data, phone.name))
            phone.tunnel(client_config(keys, phone.here, phone.port))
        yield proxy, upstream, kid, dad
    finally:
        for phone in (kid, dad):
            phone.down()
        proxy.stop()
        upstream.close()
    proxy.assert_no_errors()


def test_two_phones_on_wireguard_get_their_own_profiles(
    phones: tuple[Proxy, Upstream, Phone, Phone],
) -> None:
    proxy, _upstream, kid, dad = phones
    status, body = dad.get("casino.example", "/block.html")
    assert status == 200 and "网络赌场" in body  # the parent's phone: adult, unfiltered
    status, body = kid.get("casino.example", "/block.html")
    assert "网络赌场" not in body  # the child's phone: blocked
    assert "qinglang" in body.lower()
    # Both are 10.0.0.1 inside their tunnels; only the listener told them apart, and the
    # event log names the device, not the address every phone shares.
    assert "10.0.0.1" in proxy.log()
    deadline = time.monotonic() + 20
    while not events(proxy, action="block") and time.monotonic() < deadline:
        time.sleep(0.1)
    [blocked] = events(proxy, action="block")
    assert blocked["client"] == "wg:kid-phone" and blocked["profile"] == "child"
    # The set-up page and the block page's links answer on the tunnel too.
    status, body = kid.get("qinglang.home.arpa", "/setup")
    assert status == 200 and 'id="via-proxy"' in body
