"""scripts/qinglang-nft.sh in a real network namespace: apply writes its own table,
remove takes exactly that table away, and other rules are never touched."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from .netns import NFT_SCRIPT, in_ns, namespaces

OTHER = """table inet other {
    chain input {
        type filter hook input priority 0; policy accept;
        tcp dport 22 accept
    }
}
"""


@pytest.fixture
def router() -> Iterator[str]:
    with namespaces("router") as (ns,):
        # Someone else's rules, which must survive everything the script does.
        in_ns(ns, "nft", "-f", "-", input_text=OTHER)
        yield ns


def _ruleset(ns: str) -> str:
    return in_ns(ns, "nft", "list", "ruleset").stdout


def test_apply_show_remove(router: str) -> None:
    other_before = in_ns(router, "nft", "list", "table", "inet", "other").stdout
    args = ["--iface", "lan0", "--client", "192.168.50.0/24", "--client", "fd00:50::/64"]
    r = in_ns(router, NFT_SCRIPT, "apply", *args, "--exempt", "192.168.50.23", "--port", "8080")
    assert "applied" in r.stdout
    table = in_ns(router, "nft", "list", "table", "inet", "qinglang").stdout
    assert "hook prerouting" in table and "redirect to :8080" in table
    assert 'iifname "lan0" ip saddr @clients4 jump to_qinglang' in table
    assert 'iifname "lan0" ip6 saddr @clients6 jump to_qinglang' in table
    assert "hook forward" in table and "udp dport 443" in table and "drop" in table
    assert "192.168.50.0/24" in table and "fd00:50::/64" in table
    assert "ip saddr @exempt4 return" in table and "192.168.50.23" in table
    assert in_ns(router, NFT_SCRIPT, "show").stdout == table

    # Applying again replaces the table (a new port), never adds a second copy.
    in_ns(router, NFT_SCRIPT, "apply", "--iface", "lan0", "--port", "3129")
    table = in_ns(router, "nft", "list", "table", "inet", "qinglang").stdout
    assert "redirect to :3129" in table and ":8080" not in table and "@clients4" not in table
    assert _ruleset(router).count("table inet qinglang") == 1

    r = in_ns(router, NFT_SCRIPT, "remove")
    assert "removed" in r.stdout
    assert "qinglang" not in _ruleset(router)
    assert in_ns(router, "nft", "list", "table", "inet", "other").stdout == other_before
    # Removing twice is fine; show says there is nothing.
    assert in_ns(router, NFT_SCRIPT, "remove").returncode == 0
    assert "not applied" in in_ns(router, NFT_SCRIPT, "show").stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ([], "say which clients"),
        (["--client", "192.168.1.0/24;flush ruleset"], "not an IP address"),
        (["--iface", "eth0 }"], "not an interface"),
        (["--client", "10.0.0.0/8", "--port", "70000"], "not a port"),
        (["--client", "10.0.0.0/8", "--bogus"], "unknown option"),
        (["--client", "300.1.1.1"], "nft refused"),
    ],
)
def test_bad_input_changes_nothing(router: str, args: list[str], message: str) -> None:
    before = _ruleset(router)
    r = in_ns(router, NFT_SCRIPT, "apply", *args, check=False)
    assert r.returncode == 2 and message in r.stderr
    assert _ruleset(router) == before
