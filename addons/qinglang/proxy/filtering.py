"""The filtering addon: options, configuration, and the hooks every flow goes through.

Each hook is thin. Who is asking comes from ``identity``; whether a request may go
upstream from ``policy.decide``; what to do once a response's headers are in from
``content.headplan``; the body's verdict from the scan workers (``worker.pool`` running
``content.pipeline``) and ``content.pipeline.verdict``; what is written back from
``answers``; the stores from ``stores``. Hooks return early for flows another addon has
already answered.

Youth mode in the hooks: ``http_connect`` refuses bypasses (DoH resolvers, proxies/VPNs,
bare IP addresses); ``tls_clienthello`` intercepts a pass-through host after all when its
rules (time rules included) refuse it, so the child gets a readable answer; ``request``
applies every request rule, checks searches and page addresses with the keyword engine,
counts active minutes, shows the rest reminder and forces safe search. Every moment comes
from one clock (``qinglang_clock`` replaces it in tests).
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import time
from collections.abc import Awaitable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from mitmproxy import ctx, exceptions, http, tls
from mitmproxy.addonmanager import Loader
from mitmproxy.connection import Client

from qinglang.content import compression, mediatypes
from qinglang.content.headplan import (
    Sniffer,
    content_length,
    navigated,
    plan_head,
    range_is_partial,
)
from qinglang.content.pipeline import ScanJob, ScanOutcome, precheck, verdict
from qinglang.content.searchtext import MAX_BODY
from qinglang.deploy import bundle
from qinglang.deploy.neighbors import Neighbors
from qinglang.engine.normalize import BOUNDARY
from qinglang.engine.verdict import Action, Decision, Reason
from qinglang.policy import safesearch, youthgate
from qinglang.policy.clients import IPAddress, peer_ip
from qinglang.policy.config import Config, Profile
from qinglang.policy.decide import (
    Asked,
    Overrides,
    Who,
    counts_time,
    decide,
    other_name,
    quota_state,
)
from qinglang.policy.destination import Target
from qinglang.policy.forwarded import Forwarded
from qinglang.policy.hosts import PROXY_HOST, host_matches, page_url, request_host
from qinglang.policy.quota import Activity, QuotaTracker, StateUnavailable, classify
from qinglang.policy.reload import Rules, load_rules
from qinglang.policy.timerules import Clock, SystemClock
from qinglang.policy.urlrules import KeywordTarget, RequestInfo, RequestRules
from qinglang.policy.youthgate import YouthRules
from qinglang.proxy import answers, scaleout
from qinglang.proxy.identity import (
    META,
    FlowMeta,
    answered,
    as_who,
    conn_user,
    listener,
    meta_of,
    profile_of,
    request_info,
    target_of,
    who,
)
from qinglang.proxy.stores import Stores
from qinglang.store import lastgood
from qinglang.store.events import Event, EventStore
from qinglang.worker.pool import ScanPool, default_workers

log = logging.getLogger(__name__)

__all__ = ["META", "Qinglang"]

OPTIONS = frozenset(
    {
        "qinglang_config",
        "qinglang_config_sha256",
        "qinglang_workers",
        "qinglang_reload",
        "qinglang_scan_timeout",
        "confdir",
        "stream_large_bodies",
    }
)


class Live:
    """The rules in force, the youth-mode rules and the scan workers built from them;
    swapped as one."""

    def __init__(self, rules: Rules, pool: ScanPool, youth: YouthRules) -> None:
        self.rules = rules
        self.pool = pool
        self.youth = youth

    @property
    def config(self) -> Config:
        return self.rules.config

    def profile(
        self, ip: IPAddress | None, user: str | None, port: int | None
    ) -> tuple[str, Profile]:
        """The name and settings of a client's profile."""
        name = self.rules.clients.profile_for(ip, user, port)
        return name, self.config.profiles.get(name) or self.config.profile(None)


@dataclass(slots=True)
class _Request:
    """A request the rules let through so far, on its way through the keyword checks."""

    flow: http.HTTPFlow
    meta: FlowMeta
    rules: RequestRules
    info: RequestInfo
    asked: Asked
    now: datetime
    who: Who
    tracker: QuotaTracker | None  # None: the profile counts no minutes


class Qinglang:
    def __init__(self, config: str = "") -> None:
        self._default_config = config
        self.live: Live | None = None
        self.stores = Stores()
        self._reloader: asyncio.Task[None] | None = None
        self._running = False
        # Running on the last rules that loaded, and why (store/lastgood.py).
        self.fallback: lastgood.Status | None = None
        self.clock: Clock = SystemClock()
        # Behind HAProxy in HTTP mode: the device's address (policy/forwarded.py).
        self.forwarded = Forwarded()
        self._quota_failing = False  # counting minutes failed last time (logged once)
        self.neighbors = Neighbors()  # MAC addresses, for devices written by MAC

    # The stores, as the other addons and the tests read them.
    @property
    def events(self) -> EventStore | None:
        return self.stores.events

    @property
    def quota(self) -> QuotaTracker | None:
        return self.stores.quota

    @property
    def overrides(self) -> Overrides | None:
        return self.stores.overrides

    # --- options and lifecycle -------------------------------------------------

    def load(self, loader: Loader) -> None:
        loader.add_option(
            "qinglang_config",
            str,
            self._default_config,
            "qinglang.yaml; empty: the shipped lists with the child profile for everyone.",
        )
        loader.add_option(
            "qinglang_workers",
            int,
            -1,
            "Scan worker processes. -1: one per core; 0: scan in a thread of this process.",
        )
        loader.add_option(
            "qinglang_reload",
            int,
            2,
            "Seconds between checks of the config and list files for edits; 0: never.",
        )
        loader.add_option(
            "qinglang_scan_timeout",
            int,
            30,
            "Seconds a scan may take before the profile's on_error policy applies.",
        )
        loader.add_option(
            "qinglang_clock",
            str,
            "",
            "Tests only: a file holding the current time (ISO 8601 with an offset), read on "
            "every request; empty: the system clock.",
        )
        scaleout.add_options(loader)

    def configure(self, updated: set[str]) -> None:
        if "qinglang_clock" in updated:
            path = ctx.options.qinglang_clock
            self.clock = youthgate.make_clock(path)
            if path:
                log.warning("qinglang: time rules use the test clock in %s", path)
        scaleout.check_options(updated)
        if "qinglang_trusted_proxies" in updated:
            self.forwarded = scaleout.forwarded_option()
        if "qinglang_config" in updated and bundle.is_url(ctx.options.qinglang_config):
            # Fetched, checked and unpacked once; the option then names the local file
            # (this runs again for it), which the dashboard and the reloader read.
            local = scaleout.fetch_config(
                ctx.options.qinglang_config, ctx.options.qinglang_config_sha256
            )
            ctx.options.update(qinglang_config=str(local))
            return
        if updated & scaleout.OPTIONS and self._running and self.live is not None:
            self.stores.open(self.live.config)
        if not updated & OPTIONS:
            return
        if getattr(ctx.options, "stream_large_bodies", None):
            # mitmproxy would switch a body it is buffering to streaming half-way, and the
            # rest would reach the client unscanned. Size is decided per profile here.
            raise exceptions.OptionsError(
                "qinglang: stream_large_bodies would let large bodies past the filter "
                "unscanned; set max_scan_bytes and on_oversize per profile instead"
            )
        if updated <= {"confdir"} and self.live is not None:
            if self._running:
                self.stores.open(self.live.config)
            return
        path = ctx.options.qinglang_config or None
        fallback: lastgood.Fallback | None = None
        try:
            rules = load_rules(path)
            youth = youthgate.build(rules.config)
        except ValueError as e:  # SourceError: file, line and reason
            # At start, lists that do not load (a conflicting file in the data directory)
            # leave the last rules that loaded in force rather than no filter at all.
            fallback = self._last_good(path, e) if self.live is None else None
            if fallback is None:
                if self.live is None:
                    # Never run half-configured: a proxy without its rules would pass
                    # everything. Requests get a "not ready" page until mitmproxy stops.
                    log.error("qinglang: %s", e)
                    with contextlib.suppress(Exception):
                        ctx.master.shutdown()
                raise exceptions.OptionsError(f"qinglang: {e}") from None
            rules = fallback.rules
            youth = youthgate.build(fallback.config)
        self._loaded(rules, fallback)
        workers = ctx.options.qinglang_workers
        pool = ScanPool(
            rules.lists,
            default_workers() if workers < 0 else workers,
            float(ctx.options.qinglang_scan_timeout),
        )
        self._swap(Live(rules, pool, youth))
        if self._running:
            self.stores.open(rules.config)
            self._start_reloader()
            asyncio.get_running_loop().create_task(self._warm(pool))

    async def running(self) -> None:
        # Options given on the command line are all in by now: only here are the event
        # database (it lives in confdir by default) and the workers started.
        self._running = True
        if self.live is None:
            return
        self.stores.open(self.live.config)
        self._start_reloader()
        self._banner()
        if self.fallback is not None:
            self._record_fallback(self.fallback)
        await self._warm(self.live.pool)

    def done(self) -> None:
        self._running = False
        if self._reloader is not None:
            self._reloader.cancel()
            self._reloader = None
        if self.live is not None:
            self.live.pool.kill()
        self.stores.close()

    async def _warm(self, pool: ScanPool) -> None:
        try:
            await pool.start()
        except Exception as e:
            log.error("qinglang: scan workers failed to start: %s", e)
        _settle_heap()

    def _last_good(self, path: str | None, error: ValueError) -> lastgood.Fallback | None:
        """The last rules that loaded, with ``error`` as the reason; None if there are
        none (or the config itself is what does not load)."""
        try:
            found = lastgood.load(path, str(error))
        except ValueError as e:
            log.error("qinglang: the last rules that loaded do not load either: %s", e)
            return None
        if found is None:
            return None
        # A warning, not an error: mitmdump exits on an error logged during start-up.
        log.warning(
            "qinglang: the lists do not load: %s. The last rules that loaded are in force "
            "until they do (fix or remove the file; it is picked up without a restart).",
            error,
        )
        return found

    def _loaded(self, rules: Rules, fallback: lastgood.Fallback | None) -> None:
        """Keep a copy of rules that loaded; note (or clear) running on the saved ones."""
        self.fallback = None if fallback is None else fallback.status
        try:
            if fallback is None:
                lastgood.save(rules)
            lastgood.write_status(rules.source, self.fallback)
        except OSError as e:
            log.warning("qinglang: cannot keep a copy of the rules in force: %s", e)

    def _reload_outcome(self, problem: str | None) -> None:
        """An edit that does not load leaves the rules in force, the last that loaded: said
        as at start (status file, dashboard, event); an edit that loads clears it."""
        live = self.live
        if live is None:
            return
        if problem is None:
            if self.fallback is not None:
                self.fallback = None
                with contextlib.suppress(OSError):
                    lastgood.write_status(live.rules.source, None)
            return
        status = lastgood.Status(problem, time.time(), None)
        self.fallback = status
        with contextlib.suppress(OSError):
            lastgood.write_status(live.rules.source, status)
        self._record_fallback(status)

    def _record_fallback(self, status: lastgood.Status) -> None:
        log.warning("qinglang: RUNNING ON THE LAST RULES THAT LOADED: %s", status.problem)
        if self.events is not None:
            self.events.record(
                Event(
                    client="-",
                    profile="-",
                    host=PROXY_HOST,
                    path="/",
                    action="error",
                    reason=Reason.RULES_FALLBACK,
                    detail=status.problem[:500],
                )
            )

    def _swap(self, new: Live) -> None:
        old, self.live = self.live, new  # one assignment: flows see old or new, never a mix
        if old is not None:
            old.pool.close()

    async def _apply_rules(self, rules: Rules) -> None:
        """Reload: start workers for the new rules, and only then put them in force."""
        assert self.live is not None
        # Domain lists can be large: read off the event loop. A broken list or rule
        # raises here, and the rules in force stay (the reloader logs why).
        youth = await asyncio.to_thread(youthgate.build, rules.config)
        if rules is self.live.rules:  # only the domain lists changed: the workers stay
            self.live = Live(rules, self.live.pool, youth)
            _settle_heap()
            return
        pool = ScanPool(rules.lists, self.live.pool.workers, self.live.pool.timeout)
        try:
            await pool.start()
        except BaseException:
            pool.close()
            raise
        self.stores.open(rules.config, overrides=False)
        self._swap(Live(rules, pool, youth))
        await asyncio.to_thread(self._loaded, rules, None)
        _settle_heap()

    def _start_reloader(self) -> None:
        if self._reloader is not None:
            self._reloader.cancel()
            self._reloader = None
        interval = ctx.options.qinglang_reload
        if interval > 0 and self.live is not None:
            reloader = youthgate.YouthReloader(
                self.live.rules, interval, self._apply_rules, self._reload_outcome
            )
            self._reloader = asyncio.get_running_loop().create_task(reloader.run())

    def _banner(self) -> None:
        addrs: list[str] = []
        with contextlib.suppress(Exception):
            for a in ctx.master.addons.get("proxyserver").listen_addrs():
                addrs.append(f"{a[0] or '*'}:{a[1]}")
        where = ", ".join(addrs) or f"port {ctx.options.listen_port or 8080}"
        confdir = Path(ctx.options.confdir).expanduser()
        assert self.live is not None
        cfg = self.live.config
        log.info(
            "qinglang: filtering proxy listening on %s; %d terms from %d list files; "
            "default profile %r; events in %s; quota minutes in %s",
            where,
            len(self.live.rules.lists.terms),
            len(self.live.rules.lists.files),
            cfg.default_profile,
            self.stores.events.where if self.stores.events is not None else "(off)",
            self.stores.where_quota(),
        )
        log.info(
            # The set-up page (devicesetup.py) is what the manual and the start-up banner
            # send parents to; mitm.it still works but has no PAC file or fingerprint.
            "qinglang: to install the CA certificate on a device, set its proxy to this "
            "machine and open http://qinglang.home.arpa/setup (or http://mitm.it), or copy "
            "%s (iOS: also turn on full trust under Settings > General > About > "
            "Certificate Trust Settings)",
            confdir / "mitmproxy-ca-cert.pem",
        )

    # --- hooks -----------------------------------------------------------------

    def client_disconnected(self, client: Client) -> None:
        self.forwarded.forget(client.id)

    def http_connect(self, flow: http.HTTPFlow) -> None:
        """Bypass resistance at the tunnel: refused before anything is connected."""
        live = self.live
        if live is None or flow.response or flow.error:
            return
        meta = who(flow, live.rules.clients, self.forwarded, self.neighbors)
        rules = live.youth.for_profile(meta["profile"])
        d = rules.check_connect(flow.request.host, flow.request.port)
        if not d.allowed:
            answers.refuse(flow, self.events, d, asks=self._asks)

    def tls_clienthello(self, data: tls.ClientHelloData) -> None:
        live = self.live
        if live is None or data.ignore_connection:
            return
        client = data.context.client
        ip = self.forwarded.tunnel(client.id, peer_ip(client.peername))
        user = conn_user(client)
        port = listener(client)
        name, prof = live.profile(ip, user, port)
        if not prof.passthrough_hosts:
            return
        host = data.client_hello.sni
        dest = 443
        dialed = None
        if data.context.server.address:
            dest = data.context.server.address[1]
            dialed = other_name(data.context.server.address[0], host or "")
            if not host:
                host = data.context.server.address[0]
        # The server name is the client's to choose: a CONNECT to one site with the name
        # of a pass-through host would otherwise open an unfiltered tunnel. Both the name
        # and the host actually dialled (when it is a name) must be pass-through hosts.
        if host is None:
            return  # no name to go by: intercepted
        names = [host] + ([dialed] if dialed else [])
        if not all(host_matches(n, prof.passthrough_hosts) for n in names):
            return
        # No request will be seen on a connection that is not intercepted, so the rules
        # for the whole host (time rules included) are applied here. If they refuse it,
        # the connection is intercepted after all: the request hook then answers with
        # the time-up or block page instead of a connection that just fails.
        rules = live.youth.for_profile(name)
        now = self.clock.now()
        key = Who(name, live.rules.clients.client_id(ip, port), user).key
        tracker = self._tracker(live) if counts_time(rules) else None
        try:
            quota = quota_state(tracker, key, rules, now)
        except StateUnavailable:
            return  # intercepted: the request hook applies the profile's on_error
        for n in names:
            d = rules.check_connect(n, dest, now=now, quota=quota, intercepted=False)
            if not d.allowed:
                log.debug("qinglang: intercepting pass-through host %s (%s)", n, d.reason)
                return
        data.ignore_connection = True
        log.debug("qinglang: not intercepting %s for profile %s", host, name)

    def requestheaders(self, flow: http.HTTPFlow) -> None:
        """A request a server could read otherwise than the rules (two Host headers, a
        port that is not a number, a host that is not UTF-8 or IDNA) is refused here,
        for every profile, before any addon reads it."""
        if flow.response or flow.error or not flow.live or flow.request.method == "CONNECT":
            return
        problem = target_of(flow).problem
        if problem is None:
            return
        if self.live is not None:
            who(flow, self.live.rules.clients, self.forwarded)  # for the event
        answers.bad_request(flow, self.events, problem)

    def request(self, flow: http.HTTPFlow) -> Awaitable[None] | None:
        """Youth-mode rules for every request (page loads, API calls, media alike).

        Synchronous for almost every request; only when a search or a page address has
        to go through the scan workers does it return a coroutine, which mitmproxy
        awaits (its hook caller awaits any awaitable result) while other flows go on."""
        if flow.response or flow.error or not flow.live:
            return None
        live = self.live
        if live is None:
            answers.block(
                flow,
                self.events,
                Decision(Action.BLOCK, Reason.UNCONFIGURED),
                None,
                asks=False,
                status=503,
            )
            return None
        meta = who(flow, live.rules.clients, self.forwarded, self.neighbors)
        rules = live.youth.for_profile(meta["profile"])
        now = self.clock.now()
        asker = as_who(meta)
        info = request_info(flow.request)
        target = target_of(flow)
        if target.problem is not None:  # requestheaders did not run (a replayed flow)
            answers.bad_request(flow, self.events, target.problem)
            return None
        tracker = self._tracker(live) if counts_time(rules) else None
        on_error = profile_of(live.config, meta).on_error
        asked = decide(
            rules,
            info,
            asker,
            now,
            dialed=other_name(flow.request.host, info.host, written=_client_named(flow)),
            also=target.others,
            tracker=tracker,
            overrides=self.overrides,
            on_error=on_error,
        )
        if asked.grant is not None:  # a parent's grant: no rules, no scan
            meta["override"] = asked.grant
            return None
        d = asked.decision
        if not d.allowed and self._misdirected(
            flow, target, rules, info, asker, now, tracker, on_error
        ):
            answers.misdirected(flow)
            return None
        if d.action == Action.TIMEUP:
            answers.timeup_page(flow, self.events, d, now, rules.rules.time.tz, asks=self._asks)
            return None
        if d.action == Action.BLOCK:
            answers.refuse(flow, self.events, d, asks=self._asks, detail=asked.problem)
            return None
        req = _Request(flow, meta, rules, info, asked, now, asker, tracker)
        targets = rules.keyword_targets(info, _search_body(flow.request, info))
        if targets:
            return self._check_keywords(req, targets)
        self._let_through(req)
        return None

    def _misdirected(
        self,
        flow: http.HTTPFlow,
        target: Target,
        rules: RequestRules,
        info: RequestInfo,
        asker: Who,
        now: datetime,
        tracker: QuotaTracker | None,
        on_error: str,
    ) -> bool:
        """Refused only for the TLS name, on HTTP/2 or 3: a browser that put this request
        on a connection opened for another (blocked) site. A 421 sends it to a connection
        of its own, where its TLS name is its own; a client that fronts a blocked site
        with an allowed name gets nothing either way."""
        req = flow.request
        if target.tls_only is None or not (req.is_http2 or req.is_http3):
            return False
        rest = tuple(n for n in target.others if n != target.tls_only)
        again = decide(
            rules,
            info,
            asker,
            now,
            also=rest,
            tracker=tracker,
            overrides=self.overrides,
            on_error=on_error,
        )
        return again.decision.allowed

    async def _check_keywords(self, r: _Request, targets: list[KeywordTarget]) -> None:
        flow = r.flow
        assert self.live is not None
        prof = profile_of(self.live.config, r.meta)
        for target in targets:
            job = ScanJob(
                # Led by a block separator: a search typed as JSON (`{"word": 1}`) would
                # otherwise be read as JSON, whose keys are not scanned.
                body=(BOUNDARY + target.text).encode("utf-8"),
                content_type="text/plain; charset=utf-8",
                content_encoding=None,
                accept_encoding=None,
                profile=prof,
            )
            out = await self._scan(job)
            if flow.response or flow.error or not flow.live:
                return  # killed or answered while the scan ran
            ruled = r.rules.judge(target, out)
            if ruled is not None:
                answers.refuse(flow, self.events, ruled, asks=self._asks, outcome=out)
                return
            # Fail-closed as for pages: what cannot be checked does not go out.
            d = verdict(out, prof)
            if d.action != Action.BLOCK:
                continue
            answers.block(flow, self.events, d, None, asks=self._asks, detail=out.problem)
            answered(flow)
            return
        self._let_through(r)

    def _let_through(self, r: _Request) -> None:
        """Force safe search, count the minute, remind of a rest when due.

        Safe search comes first: it must hold whatever happens to the minute counting
        (a full disk, a store gone). A minute that cannot be counted applies the
        profile's ``on_error`` when the profile has a daily limit: ``block`` (the default)
        refuses the request, since a child would otherwise browse on with no time limit;
        ``pass`` lets it on uncounted. Minutes for a rest reminder alone go uncounted."""
        # engine_for is cached per host: most requests go to no engine and skip the
        # rewrite (which reads the Host header again).
        if r.rules.rules.safe_search and safesearch.engine_for(r.info.host) is not None:
            safesearch.enforce(r.flow.request)
        time_rules = r.rules.rules.time
        tracker = r.tracker if r.asked.counts else None
        if tracker is None or r.asked.decision.reason == Reason.ALWAYS_ALLOWED:
            return
        info = r.info
        activity = classify(info.method, info.path, info.headers)
        try:
            tracker.note(r.who.key, r.who.profile, time_rules, r.now, activity)
            every = time_rules.rest_reminder
            due = (
                every
                and activity is Activity.PAGE
                and info.method == "GET"
                and tracker.reminder_due(r.who.key, r.now, every)
            )
            streak = tracker.streak_minutes(r.who.key, r.now) if due else 0
        except Exception as e:
            self._uncounted(r, e)
            return
        if self._quota_failing:
            self._quota_failing = False
            log.warning("qinglang: active minutes are counted again")
        if due:
            answers.rest_reminder(r.flow, streak)

    def _uncounted(self, r: _Request, e: Exception) -> None:
        """The minute store failed while counting (a full disk, Redis gone)."""
        if not self._quota_failing:
            self._quota_failing = True
            log.error("qinglang: cannot count active minutes (%s: %s); on_error applies "
                      "until it works again", type(e).__name__, e)  # fmt: skip
        assert self.live is not None
        if r.rules.rules.time.daily_minutes is None:
            return  # only a rest reminder: no limit is lost, the minute goes uncounted
        if profile_of(self.live.config, r.meta).on_error == "pass":
            return  # let on, uncounted (as decide() does when the store is unreachable)
        answers.block(
            r.flow,
            self.events,
            Decision(Action.BLOCK, Reason.ERROR),
            None,
            asks=self._asks,
            detail=f"the minutes cannot be counted: {type(e).__name__}",
        )
        answered(r.flow)

    def responseheaders(self, flow: http.HTTPFlow) -> None:
        if flow.error or not flow.live or flow.response is None or self.live is None:
            return
        meta = who(flow, self.live.rules.clients, self.forwarded, self.neighbors)
        if meta.get("answered"):
            return  # our own block, time-up or reminder page
        if meta.get("override"):  # granted by a parent: passed on unscanned
            meta["plan"] = "pass"
            flow.response.stream = True
            return
        prof = profile_of(self.live.config, meta)
        resp = flow.response
        if prof.filter and host_matches(request_host(flow.request), prof.passthrough_hosts):
            meta["plan"] = "pass"
            resp.stream = True
            return
        hp = plan_head(
            method=flow.request.method,
            status=resp.status_code,
            content_type=resp.headers.get("content-type"),
            content_encoding=resp.headers.get("content-encoding"),
            length=content_length(resp.headers.get("content-length")),
            profile=prof,
            page=navigated(
                flow.request.headers.get("sec-fetch-dest"), flow.request.headers.get("accept")
            ),
        )
        meta["plan"] = hp.action
        if hp.action == "pass":
            resp.stream = True
        elif hp.action == "stream":
            resp.stream = True
            answers.record(
                flow, self.events, Action.PASS, Reason.EVENT_STREAM, detail="streamed, not scanned"
            )
        elif hp.action == "sniff":
            allow = prof.on_oversize == "pass"
            resp.stream = Sniffer(
                resp.headers.get("content-type"),
                allow_text=allow,
                on_text=lambda: answers.record(
                    flow,
                    self.events,
                    Action.PASS if allow else Action.BLOCK,
                    Reason.OVERSIZE,
                    detail=f"text labelled "
                    f"{mediatypes.mime_of(resp.headers.get('content-type'))!r}, "
                    f"{hp.detail}; {'passed' if allow else 'cut off'} unscanned",
                ),
            )
        elif hp.action == "oversize":
            self._act(flow, prof, ScanOutcome("oversize", problem=hp.detail), at_headers=True)

    def response(self, flow: http.HTTPFlow) -> Awaitable[None] | None:
        """Sync unless the body goes to the scan workers (then a coroutine, which
        mitmproxy awaits, as in ``request``)."""
        if flow.error or not flow.live or flow.response is None or self.live is None:
            return None
        meta = meta_of(flow)
        if meta is None or meta.get("plan") != "buffer" or flow.response.stream:
            return None  # answered by an addon, streamed, or nothing to scan
        resp = flow.response
        raw = resp.raw_content
        if not raw:
            return None
        prof = profile_of(self.live.config, meta)
        req = flow.request
        job = ScanJob(
            raw,
            mediatypes.scan_type(
                resp.headers.get("content-type"),
                mediatypes.nosniff(resp.headers.get("x-content-type-options")),
            ),
            resp.headers.get("content-encoding"),
            req.headers.get("accept-encoding"),
            prof,
        )
        # Over the size limit, or never scanned (images, fonts, scripts): decided here,
        # without a trip to a worker.
        early = precheck(raw, job)
        if early is not None:
            self._act(flow, prof, early)
            return None
        url = page_url(req.scheme, request_host(req), req.port, req.path)
        return self._scan_response(flow, prof, job.for_page(req.headers, url))  # notice, link

    async def _scan_response(self, flow: http.HTTPFlow, prof: Profile, job: ScanJob) -> None:
        resp = flow.response
        outcome = await self._scan(job)
        if flow.live and flow.response is resp:
            self._act(flow, prof, outcome)

    # --- acting on a verdict -----------------------------------------------------

    @property
    def _asks(self) -> bool:
        """The dashboard runs and answers "ask for access" and "more time"."""
        return self.overrides is not None

    def _tracker(self, live: Live) -> QuotaTracker:
        # Opened in `running`; hooks driven without it (unit tests) open it on first use.
        quota = self.stores.quota
        return quota if quota is not None else self.stores.open_quota(live.config)

    async def scan(self, job: ScanJob) -> ScanOutcome:
        """A job through the scan workers (for the other addons: WebSocket messages)."""
        return await self._scan(job)

    async def _scan(self, job: ScanJob) -> ScanOutcome:
        for _ in range(3):
            live = self.live
            if live is None:
                break
            try:
                return await live.pool.scan(job)
            except RuntimeError:  # that pool was shut down by a reload: use the new one
                await asyncio.sleep(0)
        return ScanOutcome("error", problem="no scan workers")

    def _act(
        self, flow: http.HTTPFlow, prof: Profile, out: ScanOutcome, at_headers: bool = False
    ) -> None:
        """Do what the verdict on a response says: nothing, the masked page, the block
        page, or (a body the profile lets through unchecked) record that it passed."""
        assert flow.response is not None
        resp = flow.response
        partial = resp.status_code == 206 and range_is_partial(resp.headers.get("content-range"))
        d = verdict(out, prof, partial=partial)
        if d.action == Action.ALLOW:
            return  # untouched: no re-encoding, no header changes
        if d.action == Action.PASS:
            if at_headers:
                resp.stream = True
            answers.record(flow, self.events, Action.PASS, d.reason, detail=out.problem)
            return
        if d.action == Action.BLOCK:
            scanned = out if out.status in ("block", "mask", "allow") else None
            answers.block(
                flow,
                self.events,
                d,
                out.kind,
                asks=self._asks,
                outcome=scanned,
                detail=None if scanned else out.problem,
                at_headers=at_headers,
            )
            return
        answers.masked(flow, out)
        answers.record(flow, self.events, Action.MASK, d.reason, outcome=out)


# Modes where the host mitmproxy dials is the one the client wrote (the URL, the CONNECT or
# SOCKS target), not the address a transparently captured connection was going to.
_NAMED_BY_CLIENT = ("regular", "upstream", "socks5")


def _client_named(flow: http.HTTPFlow) -> bool:
    mode = getattr(flow.client_conn, "proxy_mode", None)
    return getattr(mode, "type_name", "") in _NAMED_BY_CLIENT


def _search_body(request: http.Request, info: RequestInfo) -> bytes:
    """The body of a request to a search engine that may carry the search (a POST form or
    JSON); empty for every other request, whose body the keyword checks never read."""
    if info.method in ("GET", "HEAD") or safesearch.engine_for(info.host) is None:
        return b""
    raw = request.raw_content or b""
    try:  # capped: a compressed body from the client cannot grow past what is read
        return compression.decode(raw, request.headers.get("content-encoding"), MAX_BODY)
    except (compression.BodyTooLarge, compression.BadEncoding):
        return raw[:MAX_BODY]


def _settle_heap() -> None:
    """Take what lives as long as the rules (mitmproxy itself, lists, config, automaton
    wrappers: about 130,000 objects) out of the cyclic garbage collector's full passes.

    Measured on the proxy benchmark: every few seconds under load a full collection walked
    them all and stopped every connection for 60-75 ms. Frozen objects are still freed by
    reference counting; a reload unfreezes first, so the previous rules' cycles are
    collected once (one such pause per reload) before the new ones are frozen."""
    gc.unfreeze()
    gc.collect()
    gc.freeze()
