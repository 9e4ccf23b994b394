"""WebSocket text messages: chats are where bullying and doxxing reach a child.

mitmproxy hands every message to ``websocket_message`` once it is whole (fragments joined,
permessage-deflate undone; it compresses again on the way out). A text message from the
server goes through the same scan pipeline as a page, as plain text or JSON: harmful words
are masked in place, a message at or over the block threshold is replaced by a short
notice, another person's data is masked. Binary messages pass (they are not text to the
child's screen), and so do the child's own messages (the outbound guard's business).
Each mask or block is recorded as an event, never the message.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from mitmproxy import http

from qinglang.content.pipeline import ScanJob, ScanOutcome, verdict
from qinglang.engine.verdict import Action
from qinglang.pages.wsnotice import blocked_message
from qinglang.policy.hosts import host_matches, request_host
from qinglang.proxy import answers
from qinglang.proxy.identity import profile_of, who

if TYPE_CHECKING:
    from qinglang.proxy.filtering import Qinglang

DETAIL = "websocket message"


class WebSocketGuard:
    def __init__(self, main: Qinglang) -> None:
        self.main = main

    async def websocket_message(self, flow: http.HTTPFlow) -> None:
        ws = flow.websocket
        live = self.main.live
        if ws is None or not ws.messages or live is None:
            return
        msg = ws.messages[-1]
        if msg.from_client or not msg.is_text or msg.dropped:
            return
        meta = who(flow, live.rules.clients, self.main.forwarded)
        if meta.get("override"):
            return  # a parent's grant for this site
        prof = profile_of(live.config, meta)
        if not prof.filter or host_matches(request_host(flow.request), prof.passthrough_hosts):
            return
        job = ScanJob(msg.content, "text/plain; charset=utf-8", None, None, prof)
        out = await self.main.scan(job)
        if msg.dropped or not flow.live:
            return
        d = verdict(out, prof)
        if d.action == Action.ALLOW:
            return  # the message goes on byte for byte
        if d.action == Action.PASS:
            answers.record(flow, self.main.events, Action.PASS, d.reason, detail=DETAIL)
            return
        scanned: ScanOutcome | None = out if out.status in ("block", "mask") else None
        if d.action == Action.MASK and out.body is not None:
            msg.content = out.body
        else:
            notice = blocked_message(flow.request.headers.get("accept-language"))
            msg.content = notice.encode("utf-8")
        answers.record(
            flow,
            self.main.events,
            Action.MASK if d.action == Action.MASK and out.body is not None else Action.BLOCK,
            d.reason,
            outcome=scanned,
            detail=DETAIL if scanned else f"{DETAIL}: {out.problem}",
        )
