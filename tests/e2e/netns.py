"""Network namespaces for tests of the router scripts: real nftables, real veth links,
removed at the end (deleting a namespace also deletes its links and rules)."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
NFT_SCRIPT = os.path.join(ROOT, "scripts", "qinglang-nft.sh")


def sh(
    *cmd: str, check: bool = True, timeout: float = 30, input_text: str | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        list(cmd), capture_output=True, text=True, check=check, timeout=timeout, input=input_text
    )


def in_ns(
    ns: str, *cmd: str, check: bool = True, input_text: str | None = None
) -> subprocess.CompletedProcess[str]:
    return sh("ip", "netns", "exec", ns, *cmd, check=check, input_text=input_text)


@contextmanager
def namespaces(*names: str) -> Iterator[list[str]]:
    """Fresh namespaces, unique to this process, with loopback up."""
    made: list[str] = []
    try:
        for n in names:
            ns = f"qlt-{os.getpid()}-{n}"
            sh("ip", "netns", "add", ns)
            made.append(ns)
            sh("ip", "-n", ns, "link", "set", "lo", "up")
        yield made
    finally:
        for ns in made:
            sh("ip", "netns", "del", ns, check=False)


def veth(ns_a: str, name_a: str, ns_b: str, name_b: str) -> None:
    sh("ip", "link", "add", name_a, "netns", ns_a, "type", "veth", "peer", name_b, "netns", ns_b)
    sh("ip", "-n", ns_a, "link", "set", name_a, "up")
    sh("ip", "-n", ns_b, "link", "set", name_b, "up")
