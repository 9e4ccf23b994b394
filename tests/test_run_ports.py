"""`qinglang run`'s port checks (deploy/ports.py) with real sockets, and the argument
filter that turns the dashboard off (cli/run.py), property-tested."""

from __future__ import annotations

import os
import socket
import subprocess
import sys

from hypothesis import given, settings
from hypothesis import strategies as st

from qinglang.cli.run import _without_option
from qinglang.deploy import ports


def test_a_port_held_on_one_address_is_taken_for_every_address() -> None:
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        held.listen()
        port = held.getsockname()[1]
        assert ports.is_taken(ports.Wanted("the proxy", "", port, "tcp"))
        assert ports.is_taken(ports.Wanted("the proxy", "127.0.0.1", port, "tcp"))
        assert not ports.is_taken(ports.Wanted("the proxy", "127.0.0.2", port, "tcp"))
        assert not ports.is_taken(ports.Wanted("the proxy", "", port, "udp"))
    assert not ports.is_taken(ports.Wanted("the proxy", "", port, "tcp"))  # freed


def test_an_ipv6_only_listener_is_seen() -> None:
    with socket.socket(socket.AF_INET6) as held:
        held.bind(("::1", 0))
        held.listen()
        port = held.getsockname()[1]
        assert ports.is_taken(ports.Wanted("the dashboard", "", port, "tcp"))


def test_the_holder_is_named_with_its_process() -> None:
    code = (
        "import socket, sys, time\n"
        "s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(('0.0.0.0', 0))\n"
        "print(s.getsockname()[1], flush=True); time.sleep(30)\n"
    )
    other = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        assert other.stdout is not None
        port = int(other.stdout.readline())
        line = ports.describe(ports.Wanted("a WireGuard device", "", port, "udp"))
    finally:
        other.kill()
        other.wait()
    assert line.startswith(f"UDP port {port} for a WireGuard device is already in use")
    assert f"(used by pid {other.pid}: python" in line
    assert os.getpid() != other.pid


names = st.sampled_from(["qinglang_dashboard", "confdir", "qinglang_dashboard_x", "other"])
items = st.one_of(
    st.tuples(st.just("--set"), st.builds(lambda n, v: f"{n}={v}", names, st.text(max_size=5))),
    st.builds(lambda n, v: (f"--set={n}={v}",), names, st.text(max_size=5)),
    st.tuples(st.sampled_from(["--listen-port", "8080", "--mode", "regular", "--set"])),
)


@settings(max_examples=200, deadline=None)
@given(st.lists(items, max_size=8))
def test_without_option_drops_exactly_that_option(parts: list[tuple[str, ...]]) -> None:
    argv = [a for p in parts for a in p]
    out = _without_option(argv, "qinglang_dashboard")
    pairs = list(zip(out, [*out[1:], ""][: len(out)], strict=True))
    assert not any(a == "--set" and b.startswith("qinglang_dashboard=") for a, b in pairs)
    assert not any(a.startswith("--set=qinglang_dashboard=") for a in out)
    # Everything else stays, in order (a subsequence of the input).
    kept = iter(argv)
    assert all(any(a == b for b in kept) for a in out)
    # A look-alike option is not touched.
    assert " ".join(out).count("qinglang_dashboard_x=") == " ".join(argv).count(
        "qinglang_dashboard_x="
    )
