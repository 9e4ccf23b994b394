"""The ``dns:`` section of the config: DNS mode's listener, upstream resolvers and what a
blocked name is answered with (docs/dns-mode.md).

Upstreams are written as AdGuard Home and most resolvers write them: ``223.5.5.5`` or
``223.5.5.5:53`` (UDP, TCP when the answer is truncated), ``[2400:3200::1]:53``,
``tcp://IP[:PORT]``, ``tls://IP[:PORT][#NAME]`` (DNS over TLS; ``NAME`` is checked
against the server's certificate), ``https://IP[:PORT][/PATH][#NAME]`` (DNS over HTTPS,
RFC 8484; the path defaults to ``/dns-query``, ``NAME`` is sent as the TLS server name
and Host and checked against the certificate). An address, not a name: the resolver
cannot look up its own upstream.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StrictStr, field_validator

from qinglang.engine.bilingual import Bilingual

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


@dataclass(frozen=True, slots=True)
class Upstream:
    """One upstream resolver."""

    protocol: Literal["udp", "tcp", "tls", "https"]
    address: str
    port: int
    server_name: str | None = None  # DoT/DoH: the name its certificate must carry
    path: str = ""  # DoH: the URL's path (and query), "/dns-query" by default

    def __str__(self) -> str:
        host = f"[{self.address}]" if ":" in self.address else self.address
        scheme = "" if self.protocol == "udp" else f"{self.protocol}://"
        name = f"#{self.server_name}" if self.server_name else ""
        return f"{scheme}{host}:{self.port}{self.path}{name}"

    @property
    def url(self) -> str:
        """DoH: the URL asked (to the address; the name goes in SNI and Host)."""
        host = f"[{self.address}]" if ":" in self.address else self.address
        return f"https://{host}:{self.port}{self.path}"


_DEFAULT_PORTS = {"udp": 53, "tcp": 53, "tls": 853, "https": 443}
_DOH_PATH = "/dns-query"
# What a DoH path may hold: RFC 3986's path and query characters, no fragment, no
# spaces or controls (it is sent as written).
_PATH_CHARS = frozenset(
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~!$&'()*+,;=:@/?%"
)


def _server_name(name: str, text: str) -> str:
    """A DNS name for SNI and certificate checks (IDNA as the TLS stack sends it)."""
    try:
        ascii_name = name.strip().rstrip(".").encode("idna").decode("ascii").lower()
    except UnicodeError:
        raise Bilingual(
            f"not a server name in upstream {text!r}", f"上游里的服务器名无效：{text!r}"
        ) from None
    labels = ascii_name.split(".")
    if (
        not ascii_name
        or len(ascii_name) > 253
        or not all(0 < len(x) <= 63 and x.replace("-", "").isalnum() for x in labels)
    ):
        raise Bilingual(
            f"not a server name in upstream {text!r}", f"上游里的服务器名无效：{text!r}"
        )
    return ascii_name


def parse_upstream(text: str) -> Upstream:
    """``[tcp://|tls://|https://]ADDRESS[:PORT][/PATH][#NAME]`` -> Upstream; ValueError
    for anything else (a path only for https://)."""
    s = text.strip()
    protocol: Literal["udp", "tcp", "tls", "https"] = "udp"
    for scheme in ("udp", "tcp", "tls", "https"):
        if s.lower().startswith(f"{scheme}://"):
            protocol = scheme
            s = s[len(scheme) + 3 :]
            break
    else:
        if "://" in s:
            raise Bilingual(
                f"unknown upstream protocol in {text!r} (plain address, tcp://, tls:// or https://)",
                f"未知的上游协议：{text!r}（可用纯地址、tcp://、tls:// 或 https://）",
            )
    s, _, name = s.partition("#")
    if name and protocol not in ("tls", "https"):
        raise Bilingual(
            f"a #name belongs only to a tls:// or https:// upstream: {text!r}",
            f"只有 tls:// 或 https:// 上游可以带 #名称：{text!r}",
        )
    path = ""
    if protocol == "https":
        slash = s.find("/")
        s, path = (s, _DOH_PATH) if slash < 0 else (s[:slash], s[slash:])
        if not set(path) <= _PATH_CHARS:
            raise Bilingual(
                f"not a URL path in upstream {text!r}", f"上游里的网址路径无效：{text!r}"
            )
    elif "/" in s:
        raise Bilingual(
            f"a /path belongs only to an https:// upstream: {text!r}",
            f"只有 https:// 上游可以带 /路径：{text!r}",
        )
    port = _DEFAULT_PORTS[protocol]
    if s.startswith("["):
        host, sep, rest = s[1:].partition("]")
        if not sep or (rest and not rest.startswith(":")):
            raise Bilingual(f"not an upstream address: {text!r}", f"不是上游地址：{text!r}")
        port_text = rest[1:]
    elif s.count(":") == 1:
        host, _, port_text = s.partition(":")
    else:
        host, port_text = s, ""
    if port_text:
        if not port_text.isdigit() or not 0 < int(port_text) < 65536:
            raise Bilingual(f"not a port in upstream {text!r}", f"上游里的端口无效：{text!r}")
        port = int(port_text)
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        raise Bilingual(
            f"an upstream is an IP address, not a name: {text!r} "
            "(write tls://1.1.1.1#cloudflare-dns.com or "
            "https://1.1.1.1/dns-query#cloudflare-dns.com for a named server)",
            f"上游应是 IP 地址而不是名称：{text!r}（有名称的服务器写成 "
            "tls://1.1.1.1#cloudflare-dns.com 或 https://1.1.1.1/dns-query#cloudflare-dns.com）",
        ) from None
    server_name = _server_name(name, text) if name else None
    return Upstream(protocol, ip.compressed, port, server_name, path)


def parse_listen(text: str) -> tuple[str, int]:
    """``--dns`` / ``dns.listen``: ``PORT`` or ``HOST:PORT`` -> (host or "", port)."""
    s = str(text).strip()
    host, port_text = "", s
    if s.startswith("["):
        inner, sep, rest = s[1:].partition("]")
        if not sep or not rest.startswith(":"):
            raise Bilingual(f"not [HOST:]PORT: {text!r}", f"应写成 [主机:]端口：{text!r}")
        host, port_text = inner, rest[1:]
    elif ":" in s:
        host, _, port_text = s.rpartition(":")
    if not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise Bilingual(f"not [HOST:]PORT: {text!r}", f"应写成 [主机:]端口：{text!r}")
    if host:
        try:
            host = ipaddress.ip_address(host).compressed
        except ValueError:
            raise Bilingual(
                f"the DNS listener's host is an IP address: {text!r}",
                f"DNS 监听的主机应是 IP 地址：{text!r}",
            ) from None
    return host, int(port_text)


def _upstream(v: str) -> str:
    return str(parse_upstream(v))


def _listen(v: str | int) -> str:
    host, port = parse_listen(str(v))
    return f"[{host}]:{port}" if ":" in host else (f"{host}:{port}" if host else str(port))


def _address(v: str) -> str:
    try:
        return ipaddress.ip_address(v.strip()).compressed
    except ValueError:
        raise Bilingual(f"not an IP address: {v!r}", f"不是 IP 地址：{v!r}") from None


UpstreamText = Annotated[StrictStr, AfterValidator(_upstream)]
AddressText = Annotated[StrictStr, AfterValidator(_address)]


class DnsConfig(BaseModel):
    """``dns:``: DNS mode (off unless ``listen`` or ``qinglang run --dns`` is given)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    listen: str | None = None
    # Empty: the machine's own resolvers (loopback ones left out, which may be us).
    upstreams: list[UpstreamText] = Field(default_factory=list)
    # What a blocked name resolves to: empty for 0.0.0.0 and :: (as AdGuard Home's
    # default), else the address(es) of a block page (one IPv4 and/or one IPv6).
    block_addresses: list[AddressText] = Field(default_factory=list, max_length=2)
    # TTL of the answers qinglang makes (blocked names, canaries): short, so a schedule
    # that opens is seen soon.
    blocked_ttl: Annotated[int, Field(ge=0, le=86400)] = 10
    timeout: Annotated[float, Field(gt=0, le=30)] = 3.0
    # Which queries become events, and at most one event per client, name and decision in
    # this many seconds.
    log: Literal["all", "blocked", "off"] = "all"
    log_interval: Annotated[int, Field(ge=0, le=86400)] = 300

    @field_validator("listen", mode="before")
    @classmethod
    def _listen_text(cls, v: object) -> object:
        if isinstance(v, int) and not isinstance(v, bool):
            v = str(v)
        return _listen(v) if isinstance(v, str) else v

    @field_validator("log", mode="before")
    @classmethod
    def _log_off(cls, v: object) -> object:
        # YAML 1.1 reads a bare `off` as false.
        return "off" if v is False else v

    @field_validator("block_addresses")
    @classmethod
    def _one_per_family(cls, v: list[str]) -> list[str]:
        versions = [ipaddress.ip_address(a).version for a in v]
        if len(set(versions)) != len(versions):
            raise Bilingual(
                "block_addresses takes at most one IPv4 and one IPv6 address",
                "block_addresses 最多一个 IPv4 地址和一个 IPv6 地址",
            )
        return v

    def upstream_list(self) -> list[Upstream]:
        return [parse_upstream(u) for u in self.upstreams]
