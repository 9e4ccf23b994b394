"""The outbound guard: a request carrying the child's own personal data to a host that is
not on the profile's allow list is stopped before it reaches the server.

A separate mitmproxy addon, loaded after ``Qinglang``: its ``request`` hook reads the
profile that ``Qinglang.request`` resolved into ``flow.metadata`` (nothing is done for a
flow without one, or one another addon has already answered). The profile's ``own_data``
(``config.OwnData``) is looked for in the decoded path and query and in the body
(``reqtext``) with ``owndata.OwnDataMatcher``. A stopped request gets a page in both
languages saying why, and an event naming the kinds of data (``own_data:phone``), never
the values; a path segment that holds one is left out of the event.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable
from dataclasses import dataclass
from html import escape

from mitmproxy import http

from qinglang.content.reqtext import body_texts, url_texts
from qinglang.engine.pii.owndata import OwnDataMatcher
from qinglang.pages import blockpage
from qinglang.pages.i18n import LANGS, Words, choose_lang, in_lang
from qinglang.policy.config import OwnData, Profile
from qinglang.policy.hosts import host_matches, request_host
from qinglang.proxy.filtering import Qinglang
from qinglang.proxy.identity import FlowMeta, meta_of, profile_of
from qinglang.store.events import Event, path_only

REASON_OWN_DATA = "own personal information"
# Bodies larger than this are decoded and searched in a thread, off the event loop.
INLINE_BYTES = 64 * 1024

_KIND_NAMES = {
    "name": ("姓名", "name"),
    "phone": ("手机号", "phone number"),
    "id": ("身份证号", "ID number"),
    "school": ("学校", "school"),
    "address": ("住址", "home address"),
    "email": ("邮箱", "e-mail address"),
}

_TEXT: Words = {
    "title": ("你的个人信息没有被发出去", "Your personal information was not sent"),
    "what": (
        "这个请求要把你的{kinds}发送给 {host}。为了保护你，清朗在它发出之前把它拦了下来。",
        (
            "This request would have sent your {kinds} to {host}. To protect you, qinglang "
            "stopped it before it left."
        ),
    ),
    "why": (
        "把姓名、手机号、身份证号、学校或住址告诉不认识的网站或陌生人，这些信息可能被用来骚扰你、骗你，或者被公开到网上（“开盒”）。",
        (
            "Your name, phone number, ID number, school or home address in the hands of a "
            "website or person you do not know can be used to harass or cheat you, or to "
            "publish your details online (doxxing)."
        ),
    ),
    "help": (
        "如果这是你信任、确实需要这些信息的网站（比如学校的网站），请让家长或老师把它加到允许名单里。",
        (
            "If this is a website you trust that really needs it (your school's, for example), "
            "ask a parent or teacher to add it to the allowed sites."
        ),
    ),
    "event": ("事件编号", "Event id"),
}

_STYLE = (
    "body{margin:0;font-family:system-ui,-apple-system,'PingFang SC','Microsoft YaHei',"
    "sans-serif;background:#eef3f8;color:#1d2430}"
    "main{max-width:34rem;margin:8vh auto;padding:2rem;background:#fff;border-radius:1rem;"
    "box-shadow:0 .5rem 2rem rgba(0,0,0,.08)}h1{font-size:1.5rem;margin:0 0 1rem}"
    "p{line-height:1.6}code{font-size:1.1rem;letter-spacing:.05em}"
    ".other{margin-top:2rem;color:#5b6570;font-size:.9rem;border-top:1px solid #dde3ea;"
    "padding-top:1rem}"
)


@dataclass(frozen=True, slots=True)
class Found:
    """Which own_data keys a request carries, and where (never the values)."""

    in_url: tuple[str, ...] = ()
    in_body: tuple[str, ...] = ()

    @property
    def kinds(self) -> list[str]:
        return sorted(set(self.in_url) | set(self.in_body))

    def __bool__(self) -> bool:
        return bool(self.in_url or self.in_body)

    def detail(self) -> str:
        parts = []
        if self.in_url:
            parts.append(f"{', '.join(f'own_data:{k}' for k in self.in_url)} in the address")
        if self.in_body:
            parts.append(f"{', '.join(f'own_data:{k}' for k in self.in_body)} in the body")
        return "; ".join(parts) + "; not sent"


def find_own_data(
    matcher: OwnDataMatcher, path: str, body: bytes, content_type: str | None
) -> Found:
    """Own data in a request's target (path and query) and body."""
    return Found(
        tuple(matcher.kinds_in(url_texts(path))),
        tuple(matcher.kinds_in(body_texts(body, content_type))) if body else (),
    )


def safe_path(path: str, matcher: OwnDataMatcher) -> str:
    """The path without its query, and with every segment that holds own data replaced by
    ``…``: the event log must not keep the value."""
    segs = path_only(path).split("/")
    return "/".join("…" if seg and matcher.kinds_in(url_texts(seg)) else seg for seg in segs)


def _kinds_text(kinds: list[str], lang: str) -> str:
    names = [_KIND_NAMES[k][0 if lang == "zh" else 1] for k in kinds if k in _KIND_NAMES]
    if lang == "zh":
        return "、".join(names)
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"


def _section(lang: str, kinds: list[str], host: str, event_id: str) -> str:
    t = in_lang(_TEXT, lang)
    what = t["what"].format(kinds=_kinds_text(kinds, lang), host=host)
    event = f"<p>{escape(t['event'])}: <code>{escape(event_id)}</code></p>" if event_id else ""
    return (
        f"<h1>{escape(t['title'])}</h1><p>{escape(what)}</p><p>{escape(t['why'])}</p>"
        f"<p>{escape(t['help'])}</p>{event}"
    )


def render_page(kinds: list[str], host: str, lang: str, event_id: str = "") -> str:
    """The explanation page, in ``lang`` first and the other language below."""
    lang = lang if lang in LANGS else "zh"
    other = "en" if lang == "zh" else "zh"
    title = in_lang(_TEXT, lang)["title"]
    return (
        f'<!DOCTYPE html><html lang="{"zh-CN" if lang == "zh" else "en"}"><head>'
        '<meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">'
        f'<meta name="robots" content="noindex"><title>{escape(title)}</title>'
        f"<style>{_STYLE}</style></head><body><main>{_section(lang, kinds, host, event_id)}"
        f'<div class="other" lang="{"en" if other == "en" else "zh-CN"}">'
        f"{_section(other, kinds, host, event_id)}</div></main></body></html>"
    )


def response_body(
    kinds: list[str], host: str, event_id: str, accept: str | None, accept_language: str | None
) -> tuple[bytes, str]:
    """(body, Content-Type) of the 403 answer: the page, or JSON for programs."""
    lang = choose_lang(accept_language)
    if blockpage.wants_json(accept):
        doc = {
            "error": "blocked",
            "blocked_by": "qinglang",
            "reason": REASON_OWN_DATA,
            "data": kinds,
            "message": in_lang(_TEXT, lang)["title"],
            "event_id": event_id,
        }
        return json.dumps(doc, ensure_ascii=False).encode(), "application/json; charset=utf-8"
    return render_page(kinds, host, lang, event_id).encode(), "text/html; charset=utf-8"


class OutboundGuard:
    """mitmproxy addon; list it after ``Qinglang`` (addon.py, run.py)."""

    def __init__(self, main: Qinglang | None = None) -> None:
        self._main = main
        # OwnData object -> matcher; the object is kept, so its id is never reused.
        self._matchers: dict[int, tuple[OwnData, OwnDataMatcher]] = {}

    def _qinglang(self) -> Qinglang | None:
        return self._main

    def _matcher(self, own: OwnData) -> OwnDataMatcher:
        hit = self._matchers.get(id(own))
        if hit is not None and hit[0] is own:
            return hit[1]
        if len(self._matchers) > 64:  # old configs after many reloads
            self._matchers.clear()
        m = OwnDataMatcher(own)
        self._matchers[id(own)] = (own, m)
        return m

    def _who(self, flow: http.HTTPFlow) -> tuple[Qinglang, FlowMeta, Profile] | None:
        """The profile the filtering addon resolved for this flow (it runs first)."""
        meta = meta_of(flow)
        if meta is None or "profile" not in meta:
            return None
        main = self._qinglang()
        if main is None or main.live is None:
            return None
        return main, meta, profile_of(main.live.config, meta)

    def request(self, flow: http.HTTPFlow) -> Awaitable[None] | None:
        """Sync unless a large body is searched (in a thread): mitmproxy awaits what a
        hook returns, and a coroutine per request costs more than most checks."""
        if flow.response or flow.error or not flow.live:
            return None
        who = self._who(flow)
        if who is None:
            return None
        main, meta, prof = who
        req = flow.request
        if prof.own_data is None or host_matches(request_host(req), prof.own_data_allow):
            return None
        matcher = self._matcher(prof.own_data)
        if not matcher:
            return None
        body = req.get_content(strict=False) or b""
        ctype = req.headers.get("content-type")
        if len(body) > INLINE_BYTES:
            return self._search_large(flow, main, meta, matcher, body, ctype)
        found = find_own_data(matcher, req.path, body, ctype)
        if found and not flow.response and flow.live:
            self._stop(flow, main, meta, matcher, found)
        return None

    async def _search_large(
        self,
        flow: http.HTTPFlow,
        main: Qinglang,
        meta: FlowMeta,
        matcher: OwnDataMatcher,
        body: bytes,
        ctype: str | None,
    ) -> None:
        found = await asyncio.to_thread(find_own_data, matcher, flow.request.path, body, ctype)
        if found and not flow.response and flow.live:
            self._stop(flow, main, meta, matcher, found)

    def _stop(
        self,
        flow: http.HTTPFlow,
        main: Qinglang,
        meta: FlowMeta,
        matcher: OwnDataMatcher,
        found: Found,
    ) -> None:
        req = flow.request
        ev = Event(
            client=meta.get("client", ""),
            user=meta.get("user"),
            profile=meta.get("profile", ""),
            host=request_host(req),
            path=safe_path(req.path, matcher) if found.in_url else path_only(req.path),
            action="block",
            reason=REASON_OWN_DATA,
            decided_by=tuple(f"own_data:{k}" for k in found.kinds),
            detail=found.detail(),
        )
        meta["event"] = ev.id
        if main.events is not None:
            main.events.record(ev)
        body, ctype = response_body(
            found.kinds,
            request_host(req),
            ev.id,
            req.headers.get("accept"),
            req.headers.get("accept-language"),
        )
        flow.response = http.Response.make(
            403,
            body,
            {
                "content-type": ctype,
                "cache-control": "no-store",
                "x-content-type-options": "nosniff",
            },
        )
