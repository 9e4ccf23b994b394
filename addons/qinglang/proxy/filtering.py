"""The mitmproxy addon: options, configuration and the flow hooks.

Each hook is thin; the decisions live in small modules that run without mitmproxy:
``clients`` (who is asking), ``urlrules`` (youth mode: may this request go upstream at
all; built per profile by ``youthgate``), ``plan`` (what to do once the headers are in),
``scanjob`` (the body through the engine, in a worker process), ``blockpage``, ``timeup``
and ``events``. Hooks return early for flows another addon has already answered.

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
import sqlite3
from collections.abc import Awaitable
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import Any

from mitmproxy import ctx, exceptions, http, tls
from mitmproxy.connection import Client

from qinglang.content import compression
from qinglang.content import mediatypes as content
from qinglang.content.headplan import Sniffer, content_length, plan_head, range_is_partial
from qinglang.content.pipeline import ScanJob, ScanOutcome
from qinglang.deploy import bundle
from qinglang.engine.normalize import BOUNDARY
from qinglang.engine.verdict import Action, Decision, Reason
from qinglang.pages import blockpage, timeup
from qinglang.pages.i18n import choose_lang
from qinglang.pages.links import time_ask_url
from qinglang.policy import safesearch, youthgate
from qinglang.policy.clients import IPAddress, listener_port, peer_ip, proxy_user
from qinglang.policy.config import Config, Profile
from qinglang.policy.forwarded import Forwarded
from qinglang.policy.hosts import host_matches, page_url, request_host
from qinglang.policy.quota import (
    Activity,
    QuotaTracker,
    StateUnavailable,
    classify,
)
from qinglang.policy.reload import Rules, load_rules
from qinglang.policy.timerules import Clock, SystemClock
from qinglang.policy.urlrules import KeywordTarget, RequestInfo, RequestRules
from qinglang.policy.youthgate import YouthRules
from qinglang.proxy import overridegate, scaleout
from qinglang.store.events import Event, EventStore, path_only
from qinglang.store.paths import quota_db_path
from qinglang.store.quota import SqliteQuotaStore
from qinglang.worker.pool import ScanPool, default_workers

log = logging.getLogger(__name__)

META = "qinglang"  # flow.metadata key: {"profile", "client", "user", "plan", "event"}
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
# Response headers a rewritten page drops: set again from the new body, or no longer true.
_REWRITTEN = frozenset(
    {b"content-encoding", b"content-length", b"transfer-encoding"}
    | {b"content-md5", b"digest", b"content-digest", b"repr-digest"}
)


class _Live:
    """The rules in force, the youth-mode rules and the scan workers built from them;
    swapped as one."""

    def __init__(self, rules: Rules, pool: ScanPool, youth: YouthRules) -> None:
        self.rules = rules
        self.pool = pool
        self.youth = youth

    @property
    def config(self) -> Config:
        return self.rules.config


@dataclass(slots=True)
class _Asked:
    """A request the rules let through so far, on its way through the keyword checks."""

    flow: http.HTTPFlow
    meta: dict[str, Any]
    rules: RequestRules
    info: RequestInfo
    decision: Decision
    now: datetime
    key: str  # whose minutes (youthgate.client_key)
    tracker: QuotaTracker | None  # None: the profile counts no minutes


class _BlockStream:
    """Stream callable that sends a prepared block page and drops the upstream body."""

    def __init__(self, body: bytes) -> None:
        self.body: bytes | None = body

    def __call__(self, chunk: bytes) -> bytes | list[bytes]:
        out, self.body = self.body, None
        return out if out is not None else []


class Qinglang:
    def __init__(self, config: str = "") -> None:
        self._default_config = config
        self.live: _Live | None = None
        self.events: EventStore | None = None
        self._events_key: tuple[str, float] | None = None
        self._reloader: asyncio.Task[None] | None = None
        self._running = False
        self.quota: QuotaTracker | None = None
        self._quota_key: tuple[str, int] | None = None
        self.clock: Clock = SystemClock()
        # A parent's answers from the dashboard (overridegate.py); None: no dashboard.
        self.overrides: overridegate.Overrides | None = None
        self._overrides_key: tuple[str, str] | None = None
        # Behind HAProxy in HTTP mode: the device's address (forwarded.py).
        self.forwarded = Forwarded()

    # --- options and lifecycle -------------------------------------------------

    def load(self, loader: Any) -> None:
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
            self._open_events(self.live.config)
            self._open_quota(self.live.config)
            self._open_overrides(self.live.config)
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
                self._open_events(self.live.config)
                self._open_quota(self.live.config)
                self._open_overrides(self.live.config)
            return
        path = ctx.options.qinglang_config or None
        try:
            rules = load_rules(path)
            youth = youthgate.build(rules.config)
        except ValueError as e:  # SourceError: file, line and reason
            if self.live is None:
                # Never run half-configured: a proxy without its rules would pass
                # everything. Requests get a "not ready" page until mitmproxy stops.
                log.error("qinglang: %s", e)
                with contextlib.suppress(Exception):
                    ctx.master.shutdown()
            raise exceptions.OptionsError(f"qinglang: {e}") from None
        workers = ctx.options.qinglang_workers
        pool = ScanPool(
            rules.lists,
            default_workers() if workers < 0 else workers,
            float(ctx.options.qinglang_scan_timeout),
        )
        self._swap(_Live(rules, pool, youth))
        if self._running:
            self._open_events(rules.config)
            self._open_quota(rules.config)
            self._open_overrides(rules.config)
            self._start_reloader()
            asyncio.get_running_loop().create_task(self._warm(pool))

    async def running(self) -> None:
        # Options given on the command line are all in by now: only here are the event
        # database (it lives in confdir by default) and the workers started.
        self._running = True
        if self.live is None:
            return
        self._open_events(self.live.config)
        self._open_quota(self.live.config)
        self._open_overrides(self.live.config)
        self._start_reloader()
        self._banner()
        await self._warm(self.live.pool)

    def done(self) -> None:
        self._running = False
        if self._reloader is not None:
            self._reloader.cancel()
            self._reloader = None
        if self.live is not None:
            self.live.pool.kill()
        if self.events is not None:
            self.events.close()
            self.events = None
        if self.quota is not None:
            self.quota.store.close()
            self.quota, self._quota_key = None, None
        if self.overrides is not None:
            self.overrides.close()
            self.overrides, self._overrides_key = None, None

    async def _warm(self, pool: ScanPool) -> None:
        try:
            await pool.start()
        except Exception as e:
            log.error("qinglang: scan workers failed to start: %s", e)
        _settle_heap()

    def _swap(self, new: _Live) -> None:
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
            self.live = _Live(rules, self.live.pool, youth)
            _settle_heap()
            return
        pool = ScanPool(rules.lists, self.live.pool.workers, self.live.pool.timeout)
        try:
            await pool.start()
        except BaseException:
            pool.close()
            raise
        self._open_events(rules.config)
        self._open_quota(rules.config)
        self._swap(_Live(rules, pool, youth))
        _settle_heap()

    def _start_reloader(self) -> None:
        if self._reloader is not None:
            self._reloader.cancel()
            self._reloader = None
        interval = ctx.options.qinglang_reload
        if interval > 0 and self.live is not None:
            reloader = youthgate.YouthReloader(self.live.rules, interval, self._apply_rules)
            self._reloader = asyncio.get_running_loop().create_task(reloader.run())

    def _open_events(self, cfg: Config) -> None:
        ev = cfg.events
        if not ev.enabled:
            if self.events is not None:
                self.events.close()
            self.events, self._events_key = None, None
            return
        url = scaleout.store_option()
        if url is not None:
            key: tuple[str, float] = (url.url, ev.retention_days)
        else:
            db = ev.db or str(Path(ctx.options.confdir).expanduser() / "qinglang-events.sqlite")
            key = (str(Path(db).expanduser()), ev.retention_days)
        if key == self._events_key:
            return
        new = scaleout.event_store(url, key[0], ev.retention_days)
        if self.events is not None:
            self.events.close()
        self.events, self._events_key = new, key

    def _open_overrides(self, cfg: Config) -> None:
        """The dashboard's overrides (opened once, again only when their files move)."""
        option = str(getattr(ctx.options, "qinglang_dashboard", "") or "").strip().lower()
        on = option != "off" and (bool(option) or cfg.dashboard.enabled)
        paths = overridegate.store_paths(
            cfg, ctx.options.qinglang_config or None, ctx.options.confdir
        )
        state = scaleout.state_option()
        where = state.url if state is not None else str(paths[0])
        key = (where, str(paths[1])) if on else None
        if key == self._overrides_key and (key is None or self.overrides is not None):
            return
        if self.overrides is not None:
            self.overrides.close()
        if not on:
            self.overrides = None
        elif state is not None:
            self.overrides = scaleout.shared_overrides(state, paths[1])
        else:
            self.overrides = overridegate.open_store(*paths)
        self._overrides_key = key

    def _open_quota(self, cfg: Config) -> QuotaTracker:
        """The quota database (opened once, again only when its path changes)."""
        state = scaleout.state_option()
        path = quota_db_path(cfg, ctx.options.confdir)
        key = (state.url if state else str(path), cfg.quota.retention_days)
        if self.quota is not None and key == self._quota_key:
            return self.quota
        if state is not None:
            shared = scaleout.quota_store(state, cfg.quota.retention_days)
            if self.quota is not None:
                self.quota.store.close()
            self.quota, self._quota_key = QuotaTracker(shared), key
            return self.quota
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            store = SqliteQuotaStore(path, retention_days=cfg.quota.retention_days)
        except (OSError, sqlite3.Error) as e:
            # Limits still hold while the proxy runs; only a restart forgets the minutes.
            log.error(
                "qinglang: cannot open the quota database %s (%s); minutes are kept "
                "in memory until it can be opened",
                path,
                e,
            )
            store = SqliteQuotaStore(":memory:", retention_days=cfg.quota.retention_days)
            key = ("", 0)
        if self.quota is not None:
            self.quota.store.close()
        self.quota, self._quota_key = QuotaTracker(store), key
        return self.quota

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
            self.events.where if self.events is not None else "(off)",
            scaleout.where_quota(self.quota, self._quota_key),
        )
        log.info(
            # The set-up page (devicesetup.py) is what the README and the start-up banner
            # send parents to; mitm.it still works but has no PAC file or fingerprint.
            "qinglang: to install the CA certificate on a device, set its proxy to this "
            "machine and open http://qinglang.home.arpa/setup (or http://mitm.it), or copy "
            "%s (iOS: also turn on full trust under Settings > General > About > "
            "Certificate Trust Settings)",
            confdir / "mitmproxy-ca-cert.pem",
        )

    # --- who is asking ---------------------------------------------------------

    @staticmethod
    def _conn_user(client: Client) -> str | None:
        with contextlib.suppress(Exception):
            auth = ctx.master.addons.get("proxyauth")
            if auth is not None:
                return proxy_user({"proxyauth": auth.authenticated.get(client)})
        return None

    def _who(self, flow: http.HTTPFlow) -> dict[str, Any]:
        meta = flow.metadata.get(META)
        if isinstance(meta, dict) and "profile" in meta:
            return meta
        assert self.live is not None
        ip: IPAddress | None = self.forwarded.client(
            flow.client_conn.id, peer_ip(flow.client_conn.peername), flow.request.headers
        )
        user = proxy_user(flow.metadata) or self._conn_user(flow.client_conn)
        listener = listener_port(flow.client_conn, ctx.options.listen_port)
        clients = self.live.rules.clients
        name = clients.profile_for(ip, user, listener)
        meta = {"profile": name, "client": clients.client_id(ip, listener), "user": user}
        flow.metadata[META] = meta
        return meta

    def _profile(self, meta: dict[str, Any]) -> Profile:
        assert self.live is not None
        cfg = self.live.config
        # After a reload the profile may be gone: the default then applies.
        return cfg.profiles.get(meta["profile"]) or cfg.profile(None)

    # --- hooks -----------------------------------------------------------------

    def client_disconnected(self, client: Client) -> None:
        self.forwarded.forget(client.id)

    def http_connect(self, flow: http.HTTPFlow) -> None:
        """Bypass resistance at the tunnel: refused before anything is connected."""
        live = self.live
        if live is None or flow.response or flow.error:
            return
        meta = self._who(flow)
        rules = live.youth.for_profile(meta["profile"])
        d = rules.check_connect(flow.request.host, flow.request.port)
        if not d.allowed:
            self._refuse(flow, d)

    def tls_clienthello(self, data: tls.ClientHelloData) -> None:
        live = self.live
        if live is None or data.ignore_connection:
            return
        client = data.context.client
        ip = self.forwarded.tunnel(client.id, peer_ip(client.peername))
        user = self._conn_user(client)
        listener = listener_port(client, ctx.options.listen_port)
        name = live.rules.clients.profile_for(ip, user, listener)
        prof = live.config.profiles.get(name) or live.config.profile(None)
        if not prof.passthrough_hosts:
            return
        host = data.client_hello.sni
        port = 443
        dialed = None
        if data.context.server.address:
            port = data.context.server.address[1]
            dialed = youthgate.other_name(data.context.server.address[0], host or "")
            if not host:
                host = data.context.server.address[0]
        # The server name is the client's to choose: a CONNECT to one site with the name
        # of a pass-through host would otherwise open an unfiltered tunnel. Both the name
        # and the host actually dialled (when it is a name) must be pass-through hosts.
        names = [host] + ([dialed] if dialed else [])
        if not all(host_matches(n, prof.passthrough_hosts) for n in names):
            return
        # No request will be seen on a connection that is not intercepted, so the rules
        # for the whole host (time rules included) are applied here. If they refuse it,
        # the connection is intercepted after all: the request hook then answers with
        # the time-up or block page instead of a connection that just fails.
        rules = live.youth.for_profile(name)
        now = self.clock.now()
        key = youthgate.client_key(user, live.rules.clients.client_id(ip, listener))
        tracker = self._tracker(live) if youthgate.counts_time(rules) else None
        try:
            quota = youthgate.quota_state(tracker, key, rules, now)
        except StateUnavailable:
            return  # intercepted: the request hook applies the profile's on_error
        for n in names:
            d = rules.check_connect(n, port, now=now, quota=quota, intercepted=False)
            if not d.allowed:
                log.debug("qinglang: intercepting pass-through host %s (%s)", n, d.reason)
                return
        data.ignore_connection = True
        log.debug("qinglang: not intercepting %s for profile %s", host, name)

    def request(self, flow: http.HTTPFlow) -> Awaitable[None] | None:
        """Youth-mode rules for every request (page loads, API calls, media alike).

        Synchronous for almost every request; only when a search or a page address has
        to go through the scan workers does it return a coroutine, which mitmproxy
        awaits (its hook caller awaits any awaitable result) while other flows go on."""
        if flow.response or flow.error or not flow.live:
            return None
        live = self.live
        if live is None:
            self._block(flow, Decision(Action.BLOCK, Reason.UNCONFIGURED), None, status=503)
            return None
        meta = self._who(flow)
        rules = live.youth.for_profile(meta["profile"])
        now = self.clock.now()
        client, user = meta.get("client", ""), meta.get("user")
        store = self.overrides
        if store is not None and self._granted(flow, store, client, user, now.timestamp()):
            return None
        key = youthgate.client_key(user, client)
        tracker = self._tracker(live) if youthgate.counts_time(rules) else None
        info = youthgate.request_info(flow.request)
        try:
            quota = youthgate.quota_state(tracker, key, rules, now)
        except StateUnavailable:
            if self._state_down(flow, meta):
                return None
            quota, tracker = None, None  # on_error: pass, uncounted while it is down
        if store is not None:
            quota = overridegate.with_extra(store, quota, client, user, now.timestamp())
        d = rules.check(info, now, quota)
        dialed = youthgate.other_name(flow.request.host, info.host)
        if dialed is not None:
            # The rules read the Host header, which the client writes; the proxy dials
            # the CONNECT (or absolute-URL) host. A Host header naming an allowed site
            # must not open a blocked one: the stricter verdict of the two holds.
            d = youthgate.stricter(d, rules.check(replace(info, host=dialed), now, quota))
        if store is not None:
            d = overridegate.lift(d, rules, now, quota, store, client, user)
        if d.action == "timeup":
            self._timeup(flow, d, rules, now)
            return None
        if d.action == "block":
            self._refuse(flow, d)
            return None
        asked = _Asked(flow, meta, rules, info, d, now, key, tracker)
        targets = rules.keyword_targets(info)
        if targets:
            return self._check_keywords(asked, targets)
        self._let_through(asked)
        return None

    @staticmethod
    def _granted(
        flow: http.HTTPFlow, store: overridegate.Overrides, client: str, user: str | None, ts: float
    ) -> bool:
        """A parent granted this page or site: no rules, no scan. The host dialled must
        be granted too (a forged Host header must not borrow a granted site)."""
        req = flow.request
        host = request_host(req)
        o = store.lookup(client, host, req.path, ts, user)
        dialed = youthgate.other_name(req.host, host) if o is not None else None
        if o is None or (
            dialed is not None and not store.lookup(client, dialed, req.path, ts, user)
        ):
            return False
        meta = flow.metadata[META]
        meta["override"] = o.id
        return True

    async def _check_keywords(self, asked: _Asked, targets: list[KeywordTarget]) -> None:
        flow = asked.flow
        prof = self._profile(asked.meta)
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
            verdict = asked.rules.judge(target, out)
            if verdict is not None:
                self._refuse(flow, verdict, outcome=out)
                return
            # Fail-closed as for pages: what cannot be checked does not go out.
            if out.status == "error" and prof.on_error == "block":
                reason = Reason.ERROR
            elif out.status == "oversize" and prof.on_oversize == "block":
                reason = Reason.OVERSIZE
            else:
                continue
            self._block(flow, Decision(Action.BLOCK, reason), None, detail=out.problem)
            self._answered(flow)
            return
        self._let_through(asked)

    def _let_through(self, a: _Asked) -> None:
        """Count the minute, remind of a rest when due, force safe search."""
        time_rules = a.rules.rules.time
        if a.tracker is not None and a.decision.reason != Reason.ALWAYS_ALLOWED:
            info = a.info
            activity = classify(info.method, info.path, info.headers)
            # Shared state down: this minute goes uncounted (on_error already applied).
            with contextlib.suppress(StateUnavailable):
                a.tracker.note(a.key, a.meta["profile"], time_rules, a.now, activity)
            every = time_rules.rest_reminder
            if (
                every
                and activity is Activity.PAGE
                and info.method == "GET"
                and a.tracker.reminder_due(a.key, a.now, every)
            ):
                self._rest_reminder(a.flow, a.tracker.streak_minutes(a.key, a.now))
                return
        # engine_for is cached per host: most requests go to no engine and skip the
        # rewrite (which reads the Host header again).
        if a.rules.rules.safe_search and safesearch.engine_for(a.info.host) is not None:
            safesearch.enforce(a.flow.request)

    def responseheaders(self, flow: http.HTTPFlow) -> None:
        if flow.error or not flow.live or flow.response is None or self.live is None:
            return
        meta = self._who(flow)
        if meta.get("answered"):
            return  # our own block, time-up or reminder page
        if meta.get("override"):  # granted by a parent: passed on unscanned
            meta["plan"] = "pass"
            flow.response.stream = True
            return
        prof = self._profile(meta)
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
        )
        meta["plan"] = hp.action
        if hp.action == "pass":
            resp.stream = True
        elif hp.action == "stream":
            resp.stream = True
            self._record(flow, "pass", "event stream", detail="streamed, not scanned")
        elif hp.action == "sniff":
            allow = prof.on_oversize == "pass"
            resp.stream = Sniffer(
                resp.headers.get("content-type"),
                allow_text=allow,
                on_text=lambda: self._record(
                    flow,
                    "pass" if allow else "block",
                    Reason.OVERSIZE,
                    detail=f"text labelled {content.mime_of(resp.headers.get('content-type'))!r}, "
                    f"{hp.detail}; {'passed' if allow else 'cut off'} unscanned",
                ),
            )
        elif hp.action == "oversize":
            self._oversize(flow, prof, hp.detail, at_headers=True)

    async def response(self, flow: http.HTTPFlow) -> None:
        if flow.error or not flow.live or flow.response is None or self.live is None:
            return
        meta = flow.metadata.get(META)
        if not isinstance(meta, dict) or meta.get("plan") != "buffer" or flow.response.stream:
            return  # answered by an addon, streamed, or nothing to scan
        resp = flow.response
        raw = resp.raw_content
        if not raw:
            return
        prof = self._profile(meta)
        ctype = resp.headers.get("content-type")
        cenc = resp.headers.get("content-encoding")
        if len(raw) > prof.max_scan_bytes:
            self._oversize(flow, prof, f"body of {len(raw)} bytes is over {prof.max_scan_bytes}")
            return
        if not compression.codings(cenc) and not content.plan_for(ctype, raw).scans:
            return  # images, fonts, scripts: byte for byte, without a trip to a worker
        job = ScanJob(raw, ctype, cenc, flow.request.headers.get("accept-encoding"), prof)
        req = flow.request
        job = job.for_page(req.headers, page_url(req.scheme, request_host(req), req.port, req.path))
        outcome = await self._scan(job)
        if flow.live and flow.response is resp:
            self._apply(flow, prof, outcome)

    # --- decisions -------------------------------------------------------------

    def _tracker(self, live: _Live) -> QuotaTracker:
        # Opened in `running`; hooks driven without it (unit tests) open it on first use.
        return self.quota if self.quota is not None else self._open_quota(live.config)

    def _state_down(self, flow: http.HTTPFlow, meta: dict[str, Any]) -> bool:
        """The shared quota store is unreachable: the profile's ``on_error`` decides. With
        ``block`` (fail-closed, the default) the request gets the block page, as a page that
        cannot be scanned does; with ``pass`` it goes through uncounted. True: answered."""
        prof = self._profile(meta)
        if prof.on_error != "block":
            return False
        self._block(
            flow,
            Decision(Action.BLOCK, Reason.ERROR),
            None,
            detail="the shared quota store is unreachable",
        )
        self._answered(flow)
        return True

    @staticmethod
    def _answered(flow: http.HTTPFlow) -> None:
        meta = flow.metadata.get(META)
        if isinstance(meta, dict):
            meta["answered"] = True

    def _refuse(
        self, flow: http.HTTPFlow, d: Decision, *, outcome: ScanOutcome | None = None
    ) -> None:
        """The block page for a request rule (a CONNECT gets the same 403)."""
        # Keyword verdicts carry the list terms in the outcome; other rules name the
        # listed domain, pattern or category that decided.
        detail = None if outcome is not None else d.rule
        self._block(
            flow, Decision(Action.BLOCK, d.reason, d.category), None, outcome=outcome, detail=detail
        )
        self._answered(flow)

    def _timeup(self, flow: http.HTTPFlow, d: Decision, rules: RequestRules, now: datetime) -> None:
        req = flow.request
        reply = timeup.timeup_reply(
            d.reason,
            d.returns_at,
            now,
            method=req.method,
            path=req.path,
            headers=req.headers,
            category=d.category,
            tz=rules.rules.time.tz,
            ask=time_ask_url(page_url(req.scheme, request_host(req), req.port, req.path))
            if self.overrides is not None  # the dashboard answers it
            else None,
        )
        if reply.headers.get("Content-Type", "").startswith("text/html"):
            # Page loads only: apps polling through the night would flood the log.
            back = d.returns_at.isoformat() if d.returns_at else "not within a week"
            self._record(flow, "block", d.reason, detail=f"time is up; access returns {back}")
        flow.response = http.Response.make(reply.status, reply.body, reply.headers)
        self._answered(flow)

    def _rest_reminder(self, flow: http.HTTPFlow, minutes: int) -> None:
        lang = choose_lang(flow.request.headers.get("accept-language"))
        body = timeup.render_rest_reminder(minutes, lang).encode("utf-8")
        flow.response = http.Response.make(
            200,
            body,
            {
                "content-type": "text/html; charset=utf-8",
                "cache-control": "no-store",
                "x-qinglang": "rest-reminder",
            },
        )
        self._answered(flow)

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

    def _apply(self, flow: http.HTTPFlow, prof: Profile, out: ScanOutcome) -> None:
        assert flow.response is not None
        resp = flow.response
        if out.status == "oversize":
            self._oversize(flow, prof, out.problem)
            return
        if out.status == "error":
            self._policy(flow, prof.on_error, Reason.ERROR, out.problem, out.kind)
            return
        if out.status == "skip":
            return
        partial = resp.status_code == 206 and range_is_partial(resp.headers.get("content-range"))
        if out.status == "block":
            self._block(
                flow, Decision(Action.BLOCK, out.reason, out.top_category), out.kind, outcome=out
            )
            return
        if partial and (prof.on_error == "block" or out.status == "mask"):
            # A fragment can split a word at either end, and a masked fragment no longer
            # fits its Content-Range: text is only let through whole.
            self._block(flow, Decision(Action.BLOCK, Reason.PARTIAL), out.kind, outcome=out)
            return
        if out.status == "allow":
            return  # untouched: no re-encoding, no header changes
        # mask
        assert out.body is not None
        resp.raw_content = out.body
        # One pass over the fields: each look-up, set or delete in mitmproxy's Headers
        # walks all of them (measured: 30 us for this block done name by name).
        drop = _REWRITTEN
        if out.content_type:
            drop = drop | {b"content-type"}
        if resp.status_code == 206:  # a whole-resource range, now rewritten: a plain 200
            resp.status_code = 200
            resp.reason = "OK"
            drop = drop | {b"content-range"}
        fields = [(k, v) for k, v in resp.headers.fields if k.lower() not in drop]
        if out.content_encoding:
            fields.append((b"content-encoding", out.content_encoding.encode("ascii")))
        fields.append((b"content-length", str(len(out.body)).encode("ascii")))
        if out.content_type:
            fields.append((b"content-type", out.content_type.encode("utf-8", "surrogateescape")))
        resp.headers = http.Headers(fields)
        reason = Reason.PII if out.pii and not out.decided_by else Reason.KEYWORDS
        self._record(flow, "mask", reason, outcome=out)

    def _oversize(
        self, flow: http.HTTPFlow, prof: Profile, detail: str | None, at_headers: bool = False
    ) -> None:
        assert flow.response is not None
        if prof.on_oversize == "pass":
            if at_headers:
                flow.response.stream = True
            self._record(flow, "pass", Reason.OVERSIZE, detail=detail)
            return
        self._block(
            flow,
            Decision(Action.BLOCK, Reason.OVERSIZE),
            None,
            detail=detail,
            at_headers=at_headers,
        )

    def _policy(
        self,
        flow: http.HTTPFlow,
        policy: str,
        reason: str,
        detail: str | None,
        kind: str | None,
    ) -> None:
        if policy == "pass":
            self._record(flow, "pass", reason, detail=detail)
        else:
            self._block(flow, Decision(Action.BLOCK, reason), kind, detail=detail)

    def _block(
        self,
        flow: http.HTTPFlow,
        decision: Decision,
        kind: str | None,
        *,
        outcome: ScanOutcome | None = None,
        detail: str | None = None,
        at_headers: bool = False,
        status: int = 403,
    ) -> None:
        event_id = ""
        if status == 403:
            event_id = self._record(flow, "block", decision.reason, outcome=outcome, detail=detail)
        req = flow.request
        body, ctype = blockpage.block_body(
            decision,
            event_id,
            accept=req.headers.get("accept"),
            accept_language=req.headers.get("accept-language"),
            kind=kind,
            url=f"{request_host(req)}{path_only(req.path)}",
            asks=self.overrides is not None,  # the dashboard answers them
        )
        headers = {
            "content-type": ctype,
            "cache-control": "no-store",
            "x-content-type-options": "nosniff",
        }
        if at_headers and flow.response is not None:
            # The status and headers go out before the body arrives: send the block page
            # as the body and drop what the server sends.
            resp = flow.response
            resp.status_code = status
            resp.reason = "Forbidden"
            fields = [(k.encode(), v.encode()) for k, v in headers.items()]
            resp.headers = http.Headers([*fields, (b"content-length", str(len(body)).encode())])
            resp.stream = _BlockStream(body)
            return
        flow.response = http.Response.make(status, body, headers)

    def _record(
        self,
        flow: http.HTTPFlow,
        action: str,
        reason: str | None,
        *,
        outcome: ScanOutcome | None = None,
        detail: str | None = None,
    ) -> str:
        meta = flow.metadata.get(META) or {}
        host = request_host(flow.request)
        ev = Event(
            client=meta.get("client", ""),
            user=meta.get("user"),
            profile=meta.get("profile", ""),
            host=host,
            path=youthgate.event_path(host, flow.request.path),
            action=action,
            reason=reason,
            categories=dict(outcome.categories) if outcome else {},
            score=outcome.score if outcome else 0,
            decided_by=(outcome.decided_by + tuple(f"pii:{k}" for k in outcome.pii))
            if outcome
            else (),
            detail=detail or (outcome.problem if outcome else None),
        )
        if isinstance(meta, dict):
            meta["event"] = ev.id
        if self.events is not None:
            self.events.record(ev)
        return ev.id


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


def running_qinglang(main: Qinglang | None) -> Qinglang | None:
    """``main`` if given (tests), else the ``Qinglang`` addon loaded in this master;
    for the addons that work beside it (report entry, outbound guard)."""
    if main is not None:
        return main
    with contextlib.suppress(Exception):
        addon = ctx.master.addons.get("qinglang")
        if isinstance(addon, Qinglang):
            return addon
    return None
