"""The configuration file (``qinglang.yaml``): validation into typed values.

Every problem names the file, the line and the reason; nothing half-valid is returned.
"""

from __future__ import annotations

import ipaddress
import os
import re
import sys
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Discriminator,
    Field,
    StrictBool,
    StrictInt,
    StrictStr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic import Tag as _Tag

from qinglang.engine.bilingual import Bilingual
from qinglang.engine.yamlloc import SourceError, format_loc, line_of, load_yaml
from qinglang.policy.configtext import zh_reason
from qinglang.policy.dnsconfig import DnsConfig
from qinglang.policy.presets import YouthSettings
from qinglang.policy.subscriptions import LISTS_FOLDER, Subscription

CategoryName = Annotated[StrictStr, Field(pattern=r"^[a-z0-9_-]+$")]
OnError = Literal["block", "pass"]
# A host name, IP address or `*.domain` (see clients.host_matches).
_HOST_PATTERN = re.compile(r"^(\*\.)?[A-Za-z0-9_.:\[\]-]+$")


# The machine itself may always sign in (the parent at the proxy's own screen); a child
# reaching the loopback address through the proxy is stopped by the proxy (see the manual,
# "Who can reach it").
DEFAULT_ADMIN_NETWORKS = ("127.0.0.1/32", "::1/128")


def _listen(v: str) -> str:
    parse_listen(v)
    return v


def _network(v: str) -> str:
    try:
        return str(ipaddress.ip_network(v, strict=False))
    except ValueError:
        raise Bilingual(
            f"not an IP address or CIDR: {v!r}", f"不是 IP 地址或网段（CIDR）：{v!r}"
        ) from None


class DashboardConfig(BaseModel):
    """The ``dashboard:`` section of the config file."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    enabled: StrictBool = True
    listen: Annotated[StrictStr, AfterValidator(_listen)] = "0.0.0.0:8081"
    db: StrictStr | None = None  # default: qinglang-dashboard.sqlite in confdir
    secret_key: StrictStr | None = None  # default: qinglang-dashboard.key in confdir
    tls_cert: StrictStr | None = None  # PEM certificate chain: serve HTTPS (Secure cookies)
    tls_key: StrictStr | None = None
    admin_networks: list[Annotated[StrictStr, AfterValidator(_network)]] = list(
        DEFAULT_ADMIN_NETWORKS
    )


def parse_listen(text: str) -> tuple[str, int]:
    """``host:port``, ``[v6]:port`` or ``:port`` -> (host, port)."""
    host, sep, port = text.strip().rpartition(":")
    if not sep or not port.isdigit() or not 0 < int(port) < 65536:
        raise Bilingual(
            f"listen is host:port, e.g. 0.0.0.0:8081, not {text!r}",
            f"listen 应写成 主机:端口，例如 0.0.0.0:8081，而不是 {text!r}",
        )
    host = host.strip("[]") or "0.0.0.0"
    return host, int(port)


class OwnData(BaseModel):
    """The child's own personal data, for the outbound guard (``outbound.py``): a request
    carrying any of it to a host not on ``own_data_allow`` is stopped. Each key takes one
    value or a list. Values are kept as written and compared after normalisation, so
    ``138 1234 5678`` also catches ``13812345678`` and ``１３８-１２３４-５６７８``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: list[StrictStr] = Field(default_factory=list)
    phone: list[StrictStr] = Field(default_factory=list)
    id: list[StrictStr] = Field(default_factory=list)
    school: list[StrictStr] = Field(default_factory=list)
    address: list[StrictStr] = Field(default_factory=list)
    email: list[StrictStr] = Field(default_factory=list)

    @field_validator("*", mode="before")
    @classmethod
    def _one_or_many(cls, v: Any) -> Any:
        # YAML reads an unquoted phone or ID number as an integer.
        def text(x: Any) -> Any:
            return str(x) if isinstance(x, int) and not isinstance(x, bool) else x

        if v is None:
            return []
        return [text(x) for x in v] if isinstance(v, list) else [text(v)]

    @field_validator("*")
    @classmethod
    def _values(cls, v: list[str], info: ValidationInfo) -> list[str]:
        # Imported here: pii.py imports this module. Messages never repeat the value
        # (config errors are logged, and these are a child's personal data).
        from qinglang.engine.pii.detect import canonical, classify_value, is_cn_id, is_mobile

        for i, value in enumerate(v, 1):
            key = canonical(value)
            if not key:
                raise Bilingual(f"value {i} is empty", f"第 {i} 个值是空的")
            if info.field_name == "phone" and not is_mobile(key):
                raise Bilingual(
                    f"value {i} is not a mainland mobile number (11 digits starting 13-19; "
                    "spaces, dashes and +86 are fine)",
                    f"第 {i} 个值不是大陆手机号（13-19 开头的 11 位数字；可带空格、横线和 +86）",
                )
            if info.field_name == "id" and not is_cn_id(key):
                raise Bilingual(
                    f"value {i} is not a resident ID number (18 characters, a real date of "
                    "birth and the right check digit)",
                    f"第 {i} 个值不是居民身份证号（18 位，出生日期真实，校验位正确）",
                )
            if info.field_name == "email" and classify_value(value)[0] != "email":
                raise Bilingual(
                    f"value {i} is not an e-mail address", f"第 {i} 个值不是电子邮件地址"
                )
            if len(key) < 2:
                raise Bilingual(
                    f"value {i} is too short to look for (at least 2 characters)",
                    f"第 {i} 个值太短，无法查找（至少 2 个字符）",
                )
        return v

    def items(self) -> list[tuple[str, str]]:
        """(key, value) for every value given."""
        return [(k, v) for k in type(self).model_fields for v in getattr(self, k)]


# The ports a filtering profile's tunnels may always use: plain HTTP and HTTPS.
WEB_PORTS = frozenset({80, 443})


def parse_port_range(value: object) -> tuple[int, int]:
    """``8443`` or ``"8000-8099"`` -> (first, last), both in 1..65535. Raises ValueError."""
    if isinstance(value, bool):
        raise Bilingual(f"not a port or port range: {value!r}", f"不是端口或端口范围：{value!r}")
    if isinstance(value, int):
        first = last = value
    elif isinstance(value, str):
        a, sep, b = value.strip().partition("-")
        # ASCII digits only, as written in the config: int() would also read "٨٠" or "1_0".
        if not (a.strip().isascii() and a.strip().isdigit()) or (
            sep and not (b.strip().isascii() and b.strip().isdigit())
        ):
            raise Bilingual(
                f'not a port or port range (8443, "8000-8099"): {value!r}',
                f'不是端口或端口范围（例如 8443 或 "8000-8099"）：{value!r}',
            )
        first = int(a)
        last = int(b) if sep else first
    else:
        raise Bilingual(f"not a port or port range: {value!r}", f"不是端口或端口范围：{value!r}")
    if not (1 <= first <= 65535 and 1 <= last <= 65535):
        raise Bilingual(f"ports are 1 to 65535: {value!r}", f"端口应在 1 到 65535 之间：{value!r}")
    if first > last:
        raise Bilingual(
            f"a range goes from the lower port to the higher: {value!r}",
            f"端口范围应从小端口写到大端口：{value!r}",
        )
    return first, last


PortRange = Annotated[tuple[int, int], BeforeValidator(parse_port_range)]


class Profile(YouthSettings):  # youth-mode fields: presets.py, docs/youth-mode.md
    """What one kind of client may see. The defaults are the child's."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    filter: StrictBool = True
    block_threshold: Annotated[StrictInt, Field(ge=1)] = 100
    mask: StrictBool = True
    # Mask only terms of at least this weight: e.g. 30 leaves the names of harms
    # (weights 10-20 in the shipped lists) readable in news and prevention pages.
    mask_min_weight: Annotated[StrictInt, Field(ge=1, le=1000)] = 1
    # False (the default): a category whose score on a page is 0 or below, its context
    # words (help lines, prevention, news) outweighing its harm words, has its words left
    # readable; they still count. True: masked wherever they appear (as before).
    mask_in_context: StrictBool = False
    pii: Literal["mask", "off"] = "mask"

    @field_validator("pii", mode="before")
    @classmethod
    def _pii_word(cls, v: Any) -> Any:
        # YAML 1.1 (PyYAML) reads an unquoted off/no/false as False and on/yes/true as
        # True: `pii: off` must mean what it says.
        if isinstance(v, bool):
            return "mask" if v else "off"
        return v

    # Doxxing pages (with ``pii: mask``): a page showing at least this many distinct
    # personal values, of at least two kinds, one of which identifies a person on its own
    # (ID number, bank card, home address), is blocked as "personal information exposure".
    # 0 turns the block off (values are still masked).
    doxxing_threshold: Annotated[StrictInt, Field(ge=0)] = 5
    categories: list[CategoryName] | None = None
    count: Literal["once", "every"] = "once"
    # Bodies over this size (bytes) are not scanned; they follow ``on_oversize``.
    max_scan_bytes: Annotated[StrictInt, Field(ge=1024)] = 10 * 1024 * 1024
    # Fail-closed (block) or fail-open (pass) for bodies too large, or that cannot be
    # decoded or parsed.
    on_oversize: OnError = "block"
    on_error: OnError = "block"
    # Hosts whose TLS is never intercepted (certificate-pinned apps, banking).
    passthrough_hosts: list[StrictStr] = Field(default_factory=list)
    # Ports a tunnel (CONNECT, or a transparent/WireGuard connection) may go to besides 80
    # and 443: a port (8443) or a range ("8000-8099"). What flows must still be TLS or HTTP
    # that is filtered (proxy/tunnels.py).
    allow_ports: list[PortRange] = Field(default_factory=list)

    @field_validator("passthrough_hosts")
    @classmethod
    def _hosts(cls, v: list[str]) -> list[str]:
        for h in v:
            if not _HOST_PATTERN.match(h):
                raise Bilingual(
                    f"not a host name or `*.domain` pattern: {h!r}",
                    f"不是主机名或 `*.domain` 形式：{h!r}",
                )
        return v

    # On a page where personal information was masked, a notice with a report link.
    pii_notice: StrictBool = True
    # The child's own personal data, and the hosts it may be sent to (outbound.py).
    own_data: OwnData | None = None
    own_data_allow: list[StrictStr] = Field(default_factory=list)

    @field_validator("own_data_allow")
    @classmethod
    def _own_data_hosts(cls, v: list[str]) -> list[str]:
        for h in v:
            if not _HOST_PATTERN.match(h):
                raise Bilingual(
                    f"not a host name or `*.domain` pattern: {h!r}",
                    f"不是主机名或 `*.domain` 形式：{h!r}",
                )
        return v

    def counts(self, category: str) -> bool:
        return self.categories is None or category in self.categories

    def port_allowed(self, port: int) -> bool:
        """Whether a tunnel may go to ``port``: always for a profile that does not filter,
        else 80, 443 and the profile's ``allow_ports``."""
        if not self.filter or port in WEB_PORTS:
            return True
        return any(lo <= port <= hi for lo, hi in self.allow_ports)


ADULT = Profile(filter=False, on_oversize="pass", on_error="pass")


Port = Annotated[StrictInt, Field(ge=1, le=65535)]
DeviceName = Annotated[StrictStr, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_-]{0,31}$")]


class ClientRule(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    match: StrictStr | None = None  # IP address or CIDR of the peer
    user: StrictStr | None = None  # proxy-authentication user name
    # The port of the proxy listener the connection came in on (`--mode ...@PORT`): over
    # WireGuard every device has the same address, so the listener says which it is.
    listener: Port | None = None
    profile: StrictStr

    @field_validator("match")
    @classmethod
    def _network(cls, v: str | None) -> str | None:
        if v is None:
            return v
        try:
            ipaddress.ip_network(v, strict=False)
        except ValueError:
            raise Bilingual(
                f"not an IP address or CIDR: {v!r}", f"不是 IP 地址或网段（CIDR）：{v!r}"
            ) from None
        return v

    @model_validator(mode="after")
    def _one_key(self) -> ClientRule:
        keys = [k for k in (self.match, self.user, self.listener) if k is not None]
        if len(keys) != 1:
            raise Bilingual(
                "a client rule needs exactly one of `match` (IP/CIDR), `user` or `listener`",
                "每条客户端规则只能有 `match`（IP/CIDR）、`user`、`listener` 中的一项",
            )
        return self

    def network(self) -> ipaddress.IPv4Network | ipaddress.IPv6Network | None:
        return ipaddress.ip_network(self.match, strict=False) if self.match else None


DeviceLabel = Annotated[StrictStr, Field(min_length=1, max_length=40)]
_MAC_RE = re.compile(r"^[0-9a-f]{2}([:-]?)[0-9a-f]{2}(?:\1[0-9a-f]{2}){4}$")


def normalize_mac(text: str) -> str:
    """``AA:BB:...``, ``AA-BB-...`` or ``aabbccddeeff`` -> ``aa:bb:cc:dd:ee:ff``."""
    s = text.strip().lower()
    if not _MAC_RE.match(s):
        raise Bilingual(
            f"not a MAC address: {text!r} (write aa:bb:cc:dd:ee:ff)",
            f"不是 MAC 地址：{text!r}（写成 aa:bb:cc:dd:ee:ff）",
        )
    hexes = re.sub(r"[:-]", "", s)
    return ":".join(hexes[i : i + 2] for i in range(0, 12, 2))


class Device(BaseModel):
    """One device with its own WireGuard listener (``qinglang run`` adds
    ``--mode wireguard:DATA/wireguard/NAME.conf@PORT``); the listener implies the profile."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    name: DeviceName  # also the key file's name
    label: DeviceLabel | None = None  # what pages show (default: the name)
    profile: StrictStr
    wireguard_port: Port

    @property
    def shown(self) -> str:
        return self.label or self.name


class NamedDevice(BaseModel):
    """A device the parent named, known by its address, its MAC address (where the proxy
    is on the same network and sees it) or its proxy log-in; it gets ``profile``."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    name: DeviceName
    label: DeviceLabel | None = None
    profile: StrictStr
    ip: StrictStr | None = None
    mac: StrictStr | None = None
    user: StrictStr | None = None

    @field_validator("ip")
    @classmethod
    def _ip(cls, v: str | None) -> str | None:
        if v is None:
            return v
        try:
            return ipaddress.ip_address(v.strip()).compressed
        except ValueError:
            raise Bilingual(
                f"not an IP address: {v!r} (one device, one address)",
                f"不是 IP 地址：{v!r}（一台设备一个地址）",
            ) from None

    @field_validator("mac")
    @classmethod
    def _mac(cls, v: str | None) -> str | None:
        return normalize_mac(v) if v is not None else None

    @model_validator(mode="after")
    def _one_key(self) -> NamedDevice:
        keys = [k for k in (self.ip, self.mac, self.user) if k is not None]
        if len(keys) != 1:
            raise Bilingual(
                "a device needs exactly one of `ip`, `mac`, `user` or `wireguard_port`",
                "每台设备只能有 `ip`、`mac`、`user`、`wireguard_port` 中的一项",
            )
        return self

    @property
    def shown(self) -> str:
        return self.label or self.name


def _device_kind(v: Any) -> str:
    if isinstance(v, dict):
        return "wireguard" if "wireguard_port" in v else "named"
    return "wireguard" if isinstance(v, Device) else "named"


AnyDevice = Annotated[
    Annotated[Device, _Tag("wireguard")] | Annotated[NamedDevice, _Tag("named")],
    Discriminator(_device_kind),
]


class EventsConfig(BaseModel):
    """The event log (SQLite): where it is and how long events are kept."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    enabled: StrictBool = True
    # Default: qinglang-events.sqlite in mitmproxy's confdir. Relative to the config file.
    db: StrictStr | None = None
    retention_days: Annotated[StrictInt, Field(ge=1, le=3650)] = 30


class QuotaConfig(BaseModel):
    """Where the minutes of the daily quotas are kept (SQLite; survives restarts)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    # Default: qinglang-quota.sqlite next to the event log. Relative to the config file.
    db: StrictStr | None = None
    retention_days: Annotated[StrictInt, Field(ge=2, le=3650)] = 40


class Config(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    lists: list[StrictStr] = Field(default_factory=lambda: ["blocklists"])
    profiles: dict[StrictStr, Profile] = Field(default_factory=lambda: {"child": Profile()})
    clients: list[ClientRule] = Field(default_factory=list)
    # Phones and tablets on WireGuard, one listener each (docs/deploying.md, "Phones: WireGuard").
    # Named devices (docs/configuration.md, "Devices"): by address, MAC or log-in.
    devices: list[AnyDevice] = Field(default_factory=list)
    default_profile: StrictStr = "child"
    events: EventsConfig = Field(default_factory=EventsConfig)
    quota: QuotaConfig = Field(default_factory=QuotaConfig)
    # The parents' dashboard (docs/dashboard.md); its paths are resolved by the dashboard
    # (relative to the config file, else mitmproxy's confdir).
    dashboard: DashboardConfig = Field(default_factory=DashboardConfig)
    # DNS mode (policy/dnsconfig.py, docs/dns-mode.md).
    dns: DnsConfig = Field(default_factory=DnsConfig)
    # Lists fetched from URLs (policy/subscriptions.py, docs/domain-lists.md).
    subscriptions: list[Subscription] = Field(default_factory=list)

    @model_validator(mode="after")
    def _profiles_exist(self) -> Config:
        if self.default_profile not in self.profiles:
            raise Bilingual(
                f"default_profile {self.default_profile!r} is not in `profiles`",
                f"默认档案 {self.default_profile!r} 不在 `profiles` 里",
            )
        for rule in self.clients:
            if rule.profile not in self.profiles:
                raise Bilingual(
                    f"client rule names unknown profile {rule.profile!r}",
                    f"客户端规则用了不存在的档案 {rule.profile!r}",
                )
        return self

    @property
    def wireguard_devices(self) -> list[Device]:
        """The devices with a WireGuard listener of their own."""
        return [d for d in self.devices if isinstance(d, Device)]

    def device_problem(self) -> tuple[tuple[str | int, ...], Bilingual] | None:
        """Where the ``devices`` section is wrong (its location and why), or None."""
        names: dict[str, int] = {}
        ports: dict[int, int] = {}
        keys: dict[tuple[str, str], int] = {}
        for i, d in enumerate(self.devices):
            if d.profile not in self.profiles:
                return ("devices", i, "profile"), Bilingual(
                    f"unknown profile {d.profile!r}", f"档案 {d.profile!r} 不存在"
                )
            if d.name.lower() in names:
                first = names[d.name.lower()]
                return ("devices", i, "name"), Bilingual(
                    f"device name {d.name!r} is also device {first}",
                    f"设备名 {d.name!r} 与第 {first} 台设备重复",
                )
            if isinstance(d, NamedDevice):
                names[d.name.lower()] = i
                kind, value = next((k, v) for k in ("ip", "mac", "user") if (v := getattr(d, k)))
                if (kind, value) in keys:
                    first = keys[(kind, value)]
                    return ("devices", i, kind), Bilingual(
                        f"{kind} {value!r} is also device {first}'s",
                        f"{kind} {value!r} 与第 {first} 台设备重复",
                    )
                keys[(kind, value)] = i
                continue
            if d.wireguard_port in ports:
                first = ports[d.wireguard_port]
                return ("devices", i, "wireguard_port"), Bilingual(
                    f"port {d.wireguard_port} is also the port of device {first} "
                    "(each device needs its own listener)",
                    f"端口 {d.wireguard_port} 与第 {first} 台设备重复（每台设备需要自己的端口）",
                )
            names[d.name.lower()] = i
            ports[d.wireguard_port] = i
        return None

    def profile(self, name: str | None) -> Profile:
        return self.profiles[name or self.default_profile]


def shipped_lists() -> Path:
    """The blocklists/ folder next to the package (a source checkout or editable install),
    else next to the virtual environment (scripts/install.sh puts it there)."""
    env = os.environ.get("QINGLANG_LISTS")
    if env:
        return Path(env)
    source = Path(__file__).resolve().parents[3] / "blocklists"
    beside_venv = Path(sys.prefix).parent / "blocklists"
    return beside_venv if not source.is_dir() and beside_venv.is_dir() else source


# In `lists:`, the lists that come with qinglang wherever it is installed (the data
# directory's default config uses it, so a reinstall never breaks the path).
SHIPPED = "<shipped>"


def _list_path(p: str, base: Path) -> str:
    if p == SHIPPED:
        return str(shipped_lists())
    return str(p if Path(p).is_absolute() else base / p)


def default_config() -> Config:
    return Config(lists=[str(shipped_lists())])


def parse_config(text: str, path: str | Path) -> Config:
    """Validate a config's text; relative list paths are resolved against its folder."""
    data: Any = load_yaml(text, path)
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise SourceError(path, 1, "the config must be a mapping", "配置应是映射（键: 值）")
    try:
        cfg = Config.model_validate(data)
    except ValidationError as e:
        err = e.errors()[0]
        # A device's kind (the tag of the `devices` union) is not a place in the file.
        loc = tuple(
            part
            for i, part in enumerate(err["loc"])
            if not (i == 2 and err["loc"][0] == "devices" and part in ("wireguard", "named"))
        )
        msg = str(err["msg"]).removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            msg = f"unknown key `{loc[-1]}`"
        zh = zh_reason(err, str(loc[-1]) if loc else None)
        where = format_loc(loc)
        raise SourceError(
            path,
            line_of(text, loc),
            f"{where}: {msg}" if where else msg,
            f"{where}: {zh}" if where else zh,
        ) from None
    problem = cfg.device_problem()
    if problem is not None:
        loc, why = problem
        where = format_loc(loc)
        raise SourceError(path, line_of(text, loc), f"{where}: {why.en}", f"{where}: {why.zh}")
    base = Path(path).resolve().parent
    lists = [_list_path(p, base) for p in cfg.lists]
    # Subscriptions' lists, once `qinglang lists update` or `qinglang run` made the folder:
    # a start without them (offline, never fetched) is a start with the other lists.
    fetched = base / LISTS_FOLDER
    if cfg.subscriptions and fetched.is_dir() and str(fetched) not in lists:
        lists.append(str(fetched))
    update: dict[str, Any] = {"lists": lists}
    if cfg.events.db and not Path(cfg.events.db).expanduser().is_absolute():
        update["events"] = cfg.events.model_copy(update={"db": str(base / cfg.events.db)})
    if cfg.quota.db and not Path(cfg.quota.db).expanduser().is_absolute():
        update["quota"] = cfg.quota.model_copy(update={"db": str(base / cfg.quota.db)})
    return cfg.model_copy(update=update)


def load_config(path: str | Path) -> Config:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as e:
        raise SourceError(
            path, None, f"cannot read config: {e.strerror}", f"无法读取配置：{e.strerror}"
        ) from None
    except UnicodeDecodeError:
        raise SourceError(path, None, "config is not UTF-8", "配置不是 UTF-8 编码") from None
    return parse_config(text, path)
