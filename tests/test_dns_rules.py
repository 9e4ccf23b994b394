"""DNS mode's pure parts: the dns: config section, upstream and listener syntax, the
mode spec `qinglang run --dns` adds, and the answer for each decision."""

from __future__ import annotations

import ipaddress

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qinglang.deploy.dnsmode import mode_spec, run_args
from qinglang.engine.verdict import ALLOW, Action, Decision, Reason
from qinglang.policy.config import Config, parse_config
from qinglang.policy.dnsconfig import Upstream, parse_listen, parse_upstream
from qinglang.policy.dnsrules import Answer, safe_host, verdict


@pytest.mark.parametrize(
    ("text", "want"),
    [
        ("223.5.5.5", Upstream("udp", "223.5.5.5", 53)),
        ("127.0.0.1:5353", Upstream("udp", "127.0.0.1", 5353)),
        ("[2400:3200::1]:53", Upstream("udp", "2400:3200::1", 53)),
        ("2400:3200::1", Upstream("udp", "2400:3200::1", 53)),
        ("tcp://1.1.1.1", Upstream("tcp", "1.1.1.1", 53)),
        ("tls://1.1.1.1#cloudflare-dns.com", Upstream("tls", "1.1.1.1", 853, "cloudflare-dns.com")),
        ("TLS://[2606:4700::1111]:8853", Upstream("tls", "2606:4700::1111", 8853)),
        # DNS over HTTPS: the path defaults to RFC 8484's /dns-query.
        ("https://223.5.5.5", Upstream("https", "223.5.5.5", 443, None, "/dns-query")),
        (
            "https://1.1.1.1/dns-query#Cloudflare-DNS.com.",
            Upstream("https", "1.1.1.1", 443, "cloudflare-dns.com", "/dns-query"),
        ),
        (
            "https://[2400:3200::1]:8443/resolve?ct=1#dns.alidns.com",
            Upstream("https", "2400:3200::1", 8443, "dns.alidns.com", "/resolve?ct=1"),
        ),
    ],
)
def test_upstreams(text: str, want: Upstream) -> None:
    assert parse_upstream(text) == want
    assert parse_upstream(str(want)) == want  # the canonical text reads back the same


@pytest.mark.parametrize(
    "text",
    ["dns.google", "https://dns.google/dns-query", "1.1.1.1:0", "1.1.1.1:99999", "1.1.1.1#x",
     "tcp://", "[::1", "", "1.1.1.1:53:53", "tcp://1.1.1.1/dns-query", "1.1.1.1/x",
     "https://1.1.1.1/dns query", "https://1.1.1.1/q#bad name", "https://1.1.1.1/q#a..b",
     "https://[::1/dns-query", "h2://1.1.1.1"],
)  # fmt: skip
def test_bad_upstreams(text: str) -> None:
    with pytest.raises(ValueError):
        parse_upstream(text)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=40))
def test_upstream_parser_never_crashes(text: str) -> None:
    try:
        u = parse_upstream(text)
    except ValueError:
        return
    ipaddress.ip_address(u.address)
    assert 0 < u.port < 65536
    assert parse_upstream(str(u)) == u
    if u.protocol == "https":
        assert u.path.startswith("/") and " " not in u.url


@pytest.mark.parametrize(
    ("text", "want"),
    [("53", ("", 53)), ("127.0.0.1:5353", ("127.0.0.1", 5353)), ("[::1]:53", ("::1", 53))],
)
def test_listen(text: str, want: tuple[str, int]) -> None:
    assert parse_listen(text) == want


@pytest.mark.parametrize("text", ["", "dns", "0", "70000", "router.lan:53", "[::1]53"])
def test_bad_listen(text: str) -> None:
    with pytest.raises(ValueError):
        parse_listen(text)


def test_config_section(tmp_path: object) -> None:
    cfg = parse_config(
        "dns:\n  listen: 5353\n  upstreams: [223.5.5.5, 'tls://1.1.1.1#one.one.one.one']\n"
        "  block_addresses: [192.168.1.5]\n",
        "q.yaml",
    )
    assert cfg.dns.listen == "5353"
    assert [str(u) for u in cfg.dns.upstream_list()] == [
        "223.5.5.5:53",
        "tls://1.1.1.1:853#one.one.one.one",
    ]
    assert Config().dns.listen is None  # off by default
    # A bare `off` is false in YAML 1.1: it still means off.
    assert parse_config("dns: {log: off}\n", "q.yaml").dns.log == "off"


@pytest.mark.parametrize(
    ("body", "says"),
    [
        ("dns:\n  upstreams: [dns.google]\n", "not a name"),
        ("dns:\n  block_addresses: [1.2.3.4, 5.6.7.8]\n", "one IPv4"),
        ("dns:\n  listen: abc\n", "[HOST:]PORT"),
        ("dns:\n  answer: nothing\n", "answer"),
    ],
)
def test_config_errors_name_the_place(body: str, says: str) -> None:
    with pytest.raises(ValueError) as e:
        parse_config(body, "q.yaml")
    assert says in str(e.value) and "dns" in str(e.value)


def test_run_args() -> None:
    cfg = Config()
    assert run_args(cfg, None, ["--listen-port", "8080"]) == ["--listen-port", "8080"]
    assert run_args(cfg, "5353", []) == ["--mode", "regular", "--mode", "dns@5353"]
    # Modes of the user's own are kept as they are.
    assert run_args(cfg, "127.0.0.1:53", ["--mode", "transparent"]) == [
        "--mode",
        "transparent",
        "--mode",
        "dns@127.0.0.1:53",
    ]
    from_config = parse_config("dns: {listen: '[::1]:5353'}\n", "q.yaml")
    assert run_args(from_config, None, [])[-1] == "dns@::1:5353"
    assert mode_spec("53") == "dns@53"


def _v(name: str | None, d: Decision = ALLOW, **kw: bool) -> Answer:
    opts = {"filtering": True, "block_doh": True, "safe": True, **kw}
    return verdict(name, d, **opts).answer


def test_answers() -> None:
    block = Decision(Action.BLOCK, Reason.CATEGORY, "porn")
    timeup = Decision(Action.TIMEUP, Reason.CURFEW)
    doh = Decision(Action.BLOCK, Reason.DOH)
    assert _v("news.example") == Answer.RESOLVE
    assert _v("x.example", block) == Answer.BLOCK
    assert _v("x.example", timeup) == Answer.BLOCK
    assert _v("dns.google", doh) == Answer.NXDOMAIN
    assert _v("use-application-dns.net") == Answer.NXDOMAIN
    assert _v("use-application-dns.net", block_doh=False) == Answer.RESOLVE
    assert _v("mask.icloud.com") == Answer.NXDOMAIN
    assert _v(None) == Answer.REFUSED  # a name nobody can read: fail closed
    assert _v(None, filtering=False) == Answer.RESOLVE
    v = verdict("www.google.de", ALLOW, filtering=True, block_doh=True, safe=True)
    assert (v.answer, v.target) == (Answer.SAFE, "forcesafesearch.google.com")
    assert _v("www.google.de", safe=False) == Answer.RESOLVE


@pytest.mark.parametrize(
    ("name", "want"),
    [
        ("google.com", "forcesafesearch.google.com"),
        ("www.google.co.uk", "forcesafesearch.google.com"),
        ("www.google.com.hk", "forcesafesearch.google.com"),
        ("mail.google.com", None),
        ("google.com.evil.example", None),
        ("m.youtube.com", "restrict.youtube.com"),
        ("www.bing.com", "strict.bing.com"),
        ("duckduckgo.com", "safe.duckduckgo.com"),
        ("www.baidu.com", None),
    ],
)
def test_safe_hosts(name: str, want: str | None) -> None:
    assert safe_host(name) == want
