"""DNS mode: qinglang as the home's DNS server, for devices that cannot take the proxy's
CA or ignore its settings (smart TVs, consoles, many apps). docs/dns-mode.md.

mitmproxy's ``dns`` mode (``qinglang run --dns [HOST:]PORT`` adds it) hands each query to
``dns_request``. The client's profile comes from its address as for the proxy
(``policy.clients``); ``policy.decide.decide`` judges the name with the profile's request
rules (lists, categories, deny_domains, bypass, payments, time rules, a parent's grants)
and ``policy.dnsrules.verdict`` turns that into a DNS answer: the upstream's, the block
address, NXDOMAIN (canaries, DoH resolvers) or a CNAME to the engine's safe-search host.
An allowed answer whose CNAME chain ends in a blocked name is blocked too.

mitmproxy's own ``DnsResolver`` addon would answer first (it sits before any script or
added addon); ``running`` moves it behind this addon, where it still serves the DNS flows
this addon leaves alone (WireGuard mode's resolver at 10.0.0.53).
"""

from __future__ import annotations

import contextlib
import ipaddress
import logging
import time
from typing import TYPE_CHECKING, Any

import dns.exception
from mitmproxy import ctx
from mitmproxy import dns as mdns
from mitmproxy.net.dns import response_codes, types
from mitmproxy.proxy.mode_specs import DnsMode

from qinglang.engine.verdict import Action, Decision, Reason
from qinglang.policy.clients import peer_ip
from qinglang.policy.decide import Who, counts_time, decide
from qinglang.policy.dnsconfig import DnsConfig, Upstream
from qinglang.policy.dnsrules import Answer, DnsVerdict, verdict
from qinglang.policy.hosts import canonical
from qinglang.policy.urlrules import RequestInfo, RequestRules
from qinglang.proxy import dnsupstream, dohclient
from qinglang.proxy.hookchain import holds
from qinglang.proxy.identity import listener
from qinglang.store.events import Event

if TYPE_CHECKING:  # pragma: no cover
    from qinglang.proxy.filtering import Live, Qinglang

log = logging.getLogger(__name__)

# At most this many (client, name, decision) keys are remembered for the event rate
# limit; past it the table starts again (a flood is then logged once more, not forever).
_MAX_LOG_KEYS = 50_000
_NULL4 = ipaddress.IPv4Address("0.0.0.0")
_NULL6 = ipaddress.IPv6Address("::")


class DnsFilter:
    """The DNS mode addon. Handed the filtering addon, whose rules, clock and stores it
    reads (``addon.chain``)."""

    def __init__(self, main: Qinglang) -> None:
        self.main = main
        self._logged: dict[tuple[str, str, str], float] = {}
        # Queries handed to mitmproxy's own forwarding, by flow id: (rules, who).
        self.forwarded: dict[str, tuple[RequestRules, Who]] = {}
        self._system: list[Upstream] | None = None
        self._doh: dohclient.DohClients | None = None  # DoH upstreams' connections

    def configure(self, updated: set[str]) -> None:
        if "ssl_verify_upstream_trusted_ca" in updated and self._doh is not None:
            # A new CA file: the next DoH query makes a client that trusts it. The old
            # client's connections are left to close with their server.
            self._doh = None

    async def done(self) -> None:
        if self._doh is not None:
            with contextlib.suppress(Exception):
                await self._doh.aclose()
            self._doh = None

    async def running(self) -> None:
        self._before_resolver()
        with contextlib.suppress(Exception):
            if any(str(m).startswith("dns") for m in ctx.options.mode):
                live = self.main.live
                ups = live.config.dns.upstream_list() if live is not None else []
                ups = ups or self._system_upstreams()
                log.info(
                    "qinglang: DNS mode on; upstream resolvers: %s",
                    ", ".join(str(u) for u in ups) or "none (set dns.upstreams)",
                )

    def _before_resolver(self) -> None:
        """Put mitmproxy's DnsResolver right behind the top-level addon that holds this
        one, so this addon sees each query first, and behind a gate that lets through the
        queries this addon has handed to mitmproxy's own forwarding."""
        with contextlib.suppress(Exception):
            mgr = ctx.master.addons
            resolver = mgr.get("dnsresolver")
            if resolver is None:
                return
            chain = mgr.chain
            mine = next(i for i, a in enumerate(chain) if holds(a, self))
            theirs = chain.index(resolver)
            chain.remove(resolver)
            chain.insert(mine if theirs < mine else theirs, _ResolverGate(resolver, self))

    async def dns_request(self, flow: mdns.DNSFlow) -> None:
        if (
            not isinstance(flow.client_conn.proxy_mode, DnsMode)
            or flow.response
            or flow.error
            or not flow.live
        ):
            return
        live = self.main.live
        if live is None:  # not configured yet: nothing is resolved unchecked
            flow.response = flow.request.fail(response_codes.SERVFAIL)
            return
        try:
            await self._answer(flow, live)
        except dnsupstream.UpstreamError as e:
            log.warning("qinglang: DNS: no upstream answered (%s)", e)
            flow.response = flow.request.fail(response_codes.SERVFAIL)
        except Exception:  # fail closed: never an unchecked answer
            log.exception("qinglang: DNS query failed")
            flow.response = flow.request.fail(response_codes.SERVFAIL)
            q = flow.request.question
            name = (canonical(q.name) or "") if q is not None else ""
            self._record(flow, live, name, Decision(Action.BLOCK, Reason.ERROR), "?")

    # -- one query ----------------------------------------------------------------------

    async def _answer(self, flow: mdns.DNSFlow, live: Live) -> None:
        req = flow.request
        cfg = live.config.dns
        ip = peer_ip(flow.client_conn.peername)
        port = listener(flow.client_conn)
        clients = live.rules.clients
        mac = self.main.neighbors.mac_of(ip) if clients.uses_mac else None
        profile = clients.profile_for(ip, None, port, mac)
        rules = live.youth.for_profile(profile)
        q = req.question
        if req.op_code != 0 or q is None or not req.query:
            flow.response = req.fail(response_codes.NOTIMP if q else response_codes.FORMERR)
            return
        name = canonical(q.name) if q.name else None
        who = Who(profile, live.rules.clients.client_id(ip, port))
        v = self._judge(rules, name, who, live)
        if v.answer == Answer.RESOLVE:
            ups = cfg.upstream_list() or self._system_upstreams()
            if len(ups) == 1 and ups[0].protocol == "udp":
                # One plain upstream: mitmproxy forwards the query itself (faster than
                # asking through dnspython, scripts/bench_dns.py); the answer's CNAMEs
                # are checked in dns_response.
                flow.server_conn.address = (ups[0].address, ups[0].port)
                if len(self.forwarded) >= _MAX_LOG_KEYS:  # answers that never came
                    self.forwarded.clear()
                self.forwarded[flow.id] = (rules, who)
                self._record(
                    flow, live, name or q.name[:253], v.decision, types.to_str(q.type), who
                )
                return
            wire = await self._upstream(req.packed, cfg)
            response = mdns.Message.unpack(wire)
            blocked_by = self._cname_blocked(response, rules, who, live)
            if blocked_by is not None:
                v = DnsVerdict(Answer.BLOCK, blocked_by)
            else:
                flow.response = response
        if v.answer == Answer.SAFE and v.target is not None:
            flow.response = await self._safe(req, q, v.target, cfg)
        elif v.answer == Answer.BLOCK:
            flow.response = req.succeed(self._block_records(q, cfg))
        elif v.answer == Answer.NXDOMAIN:
            flow.response = req.fail(response_codes.NXDOMAIN)
        elif v.answer == Answer.REFUSED:
            flow.response = req.fail(response_codes.REFUSED)
        self._record(flow, live, name or q.name[:253], v.decision, types.to_str(q.type), who)

    def dns_response(self, flow: mdns.DNSFlow) -> None:
        """An answer mitmproxy forwarded for this addon: blocked when its CNAME chain
        ends in a blocked name."""
        handed = self.forwarded.pop(flow.id, None)
        live = self.main.live
        if handed is None or flow.response is None or live is None:
            return
        rules, who = handed
        q = flow.request.question
        try:
            blocked_by = self._cname_blocked(flow.response, rules, who, live)
        except Exception:  # fail closed
            log.exception("qinglang: DNS answer check failed")
            flow.response = flow.request.fail(response_codes.SERVFAIL)
            return
        if blocked_by is not None and q is not None:
            flow.response = flow.request.succeed(self._block_records(q, live.config.dns))
            name = canonical(q.name) or q.name[:253]
            self._record(flow, live, name, blocked_by, types.to_str(q.type), who)

    def dns_error(self, flow: mdns.DNSFlow) -> None:
        self.forwarded.pop(flow.id, None)

    def _judge(self, rules: RequestRules, name: str | None, who: Who, live: Live) -> DnsVerdict:
        r = rules.rules
        if name is None:
            d = Decision(Action.BLOCK, Reason.ERROR)
        else:
            now = self.main.clock.now()
            tracker = self.main.quota if counts_time(rules) else None
            profile = live.config.profiles.get(who.profile) or live.config.profile(None)
            d = decide(
                rules,
                RequestInfo("GET", name, "/"),
                who,
                now,
                tracker=tracker,
                overrides=self.main.overrides,
                on_error=profile.on_error,
            ).decision
        return verdict(
            name, d, filtering=r.filter, block_doh=r.bypass.block_doh, safe=r.safe_search
        )

    def _cname_blocked(
        self, response: mdns.Message, rules: RequestRules, who: Who, live: Live
    ) -> Decision | None:
        """The decision that blocks a name in the answer's CNAME chain, if one does."""
        for rr in response.answers:
            if rr.type != types.CNAME:
                continue
            with contextlib.suppress(Exception):
                target = canonical(rr.domain_name)
                v = self._judge(rules, target, who, live)
                if v.blocked:
                    return v.decision
        return None

    async def _upstream(self, wire: bytes, cfg: DnsConfig) -> bytes:
        ups = cfg.upstream_list() or self._system_upstreams()
        q = dnsupstream.parse_query(wire)
        return await dnsupstream.ask(q, ups, cfg.timeout, self._doh_client(ups))

    def _doh_client(self, ups: list[Upstream]) -> dohclient.DohClients | None:
        """The DoH clients, made when an https:// upstream is first asked."""
        if self._doh is None and any(u.protocol == "https" for u in ups):
            cafile = getattr(ctx.options, "ssl_verify_upstream_trusted_ca", None)
            self._doh = dohclient.DohClients(cafile)
        return self._doh

    def _system_upstreams(self) -> list[Upstream]:
        if self._system is None:
            self._system = dnsupstream.system_upstreams()
        return self._system

    async def _safe(
        self, req: mdns.Message, q: mdns.Question, target: str, cfg: DnsConfig
    ) -> mdns.Message:
        """CNAME to the safe-search host, with the upstream's records for it."""
        ups = cfg.upstream_list() or self._system_upstreams()
        records: list[mdns.ResourceRecord] = [
            mdns.ResourceRecord.CNAME(q.name, target, ttl=mdns.ResourceRecord.DEFAULT_TTL)
        ]
        with contextlib.suppress(dnsupstream.UpstreamError, dns.exception.DNSException):
            wire = await dnsupstream.ask(
                dnsupstream.query_for(target, q.type), ups, cfg.timeout, self._doh_client(ups)
            )
            records.extend(mdns.Message.unpack(wire).answers)
        return req.succeed(records)

    @staticmethod
    def _block_records(q: mdns.Question, cfg: DnsConfig) -> list[mdns.ResourceRecord]:
        """A and AAAA get the block address (0.0.0.0 / :: by default); other types none."""
        ttl = cfg.blocked_ttl
        given = [ipaddress.ip_address(a) for a in cfg.block_addresses]
        if q.type == types.A:
            v4 = [a for a in given if isinstance(a, ipaddress.IPv4Address)]
            if given and not v4:
                return []
            return [mdns.ResourceRecord.A(q.name, v4[0] if v4 else _NULL4, ttl=ttl)]
        if q.type == types.AAAA:
            v6 = [a for a in given if isinstance(a, ipaddress.IPv6Address)]
            if given and not v6:
                return []
            return [mdns.ResourceRecord.AAAA(q.name, v6[0] if v6 else _NULL6, ttl=ttl)]
        return []

    # -- events ---------------------------------------------------------------------------

    def _record(
        self,
        flow: mdns.DNSFlow,
        live: Live,
        name: str,
        d: Decision,
        qtype: str,
        who: Who | None = None,
    ) -> None:
        events = self.main.events
        cfg = live.config.dns
        blocked = d.action != Action.ALLOW
        if events is None or cfg.log == "off" or (cfg.log == "blocked" and not blocked):
            return
        if who is None:
            ip = peer_ip(flow.client_conn.peername)
            who = Who(live.rules.clients.profile_for(ip), str(ip) if ip else "")
        action = "block" if blocked else "pass"
        key = (who.client, name, action)
        now = time.time()
        last = self._logged.get(key)
        if last is not None and now - last < cfg.log_interval:
            return
        if len(self._logged) >= _MAX_LOG_KEYS:
            self._logged.clear()
        self._logged[key] = now
        events.record(
            Event(
                client=who.client,
                profile=who.profile,
                host=name,
                path=f"{DNS_PATH_PREFIX}{qtype}",
                action=action,
                reason=str(d.reason) if d.reason else None,
                categories={d.category: 0} if d.category else {},
                detail=d.rule,
                ts=now,
            )
        )


# DNS events are told apart from the proxy's by their path: ``dns:A``, ``dns:AAAA``, ...
DNS_PATH_PREFIX = "dns:"


class _ResolverGate:
    """mitmproxy's DnsResolver, except for the queries this addon forwards itself."""

    def __init__(self, inner: Any, owner: DnsFilter) -> None:
        self.inner = inner
        self.owner = owner

    def configure(self, updated: set[str]) -> None:
        self.inner.configure(updated)

    async def dns_request(self, flow: mdns.DNSFlow) -> None:
        if flow.id not in self.owner.forwarded:
            await self.inner.dns_request(flow)
