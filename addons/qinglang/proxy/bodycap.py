"""A body whose length is not known in advance is never held in memory past its cap.

For a filtering profile a response body is buffered whole so that it can be scanned.
With a ``Content-Length`` over ``max_scan_bytes`` the filtering addon applies
``on_oversize`` as soon as the headers are in; a chunked or close-delimited body says
nothing, and a hostile server can send one that never ends. The same holds for a chunked
upload, which a filtering profile buffers for the outbound guard. Here:

- a response body (``body_cap``, set in ``responseheaders`` for every body a filtering
  profile buffers) that grows past ``max_scan_bytes`` follows ``on_oversize``: ``block``
  stops reading, closes the server connection (resets the HTTP/2 stream) and answers
  with the block page (a JSON 403 for programs), with an event; ``pass`` sends what was
  buffered and the rest on unscanned, with an event;
- a request body of unknown length (``upload_cap``) past ``max_scan_bytes`` gets 413 and
  an event, and the client connection is closed.

Why a wrap of mitmproxy's HTTP layer: mitmproxy 11 and 12 have no hook while a body is
buffered (``responseheaders`` comes before the body, ``response`` after all of it), and
their only bounds are two global options: ``body_size_limit`` kills every flow over it
(known-length media, the parent's downloads, uploads), and ``stream_large_bodies``
switches a buffering body to streaming half-way, so the rest would pass unscanned (the
filtering addon refuses that option). A ``flow.response.stream`` callable cannot hold the
page back until a scan is done. Both options are enforced in
``HttpStream.check_body_size``, which mitmproxy calls after every chunk it appends to the
buffer; its wrap below first does what mitmproxy does, then checks the flow's cap. A flow
without a cap (an unfiltered profile, a streamed body) is not touched.

The wrap is checked against the mitmproxy it runs on when the addon loads; if the method
or its callers changed, the proxy refuses to start (fail closed: a filtering proxy whose
memory a website can exhaust is down for every device anyway), saying why in the log.
"""

from __future__ import annotations

import functools
import inspect
import logging
from collections.abc import Callable, Generator
from dataclasses import dataclass
from typing import Any

from mitmproxy import flow, http, version
from mitmproxy.addonmanager import Loader
from mitmproxy.proxy import commands
from mitmproxy.proxy.layers.http import (
    HttpErrorHook,
    HttpStream,
    RequestProtocolError,
    ResponseData,
    ResponseProtocolError,
    SendHttp,
)

from qinglang.content.pipeline import ScanOutcome, verdict
from qinglang.engine.verdict import Action, Reason
from qinglang.proxy import answers
from qinglang.proxy.filtering import Qinglang
from qinglang.proxy.identity import META, answered, meta_of, profile_of, who

log = logging.getLogger(__name__)

# The mitmproxy releases the wrap was written for (pyproject pins the same range).
SUPPORTED = (11, 13)
_WRAPPED = "_qinglang_body_cap"


@dataclass
class QinglangResponseOverCapHook(commands.StartHook):
    """A buffered response body grew past the flow's ``body_cap``. The handler may put the
    block page in ``flow.response`` or set ``flow.response.stream`` to pass it on; if it
    does neither the body is refused (502) as ``body_size_limit`` refuses it. (mitmproxy
    hands a hook's first argument alone to some addons: the cap stays in the metadata.)"""

    flow: http.HTTPFlow
    name = "qinglang_response_over_cap"


@dataclass
class QinglangRequestOverCapHook(commands.StartHook):
    """A buffered request body of unknown length grew past the flow's ``upload_cap``; the
    request is refused with 413 after the hook."""

    flow: http.HTTPFlow
    name = "qinglang_request_over_cap"


class UnsupportedMitmproxy(RuntimeError):
    pass


Check = Callable[[HttpStream, bool], Generator[Any, Any, bool]]


def check_layer(cls: type = HttpStream, ver: str = version.VERSION) -> Check:
    """mitmproxy's ``check_body_size``, after making sure it is the method the wrap was
    written for and that the buffering states still call it; raises UnsupportedMitmproxy
    otherwise."""
    try:
        major = int(ver.split(".")[0])
    except ValueError:
        major = -1
    if not SUPPORTED[0] <= major < SUPPORTED[1]:
        raise UnsupportedMitmproxy(f"written for mitmproxy 11 and 12, running {ver}")
    original = cls.__dict__.get("check_body_size")
    if not inspect.isgeneratorfunction(original):
        raise UnsupportedMitmproxy("HttpStream.check_body_size is gone or changed")
    params = list(inspect.signature(original).parameters)
    if params != ["self", "request"]:
        raise UnsupportedMitmproxy(f"HttpStream.check_body_size takes {params}")
    for state, buf in (
        ("state_consume_request_body", "request_body_buf"),
        ("state_consume_response_body", "response_body_buf"),
    ):
        try:
            src = inspect.getsource(getattr(cls, state))
        except (AttributeError, OSError, TypeError) as e:
            raise UnsupportedMitmproxy(f"HttpStream.{state}: {e}") from None
        if f"self.{buf} += " not in src or "self.check_body_size(" not in src:
            raise UnsupportedMitmproxy(f"HttpStream.{state} no longer checks its buffer")
    return original


def install(cls: type = HttpStream) -> None:
    """Wrap ``cls.check_body_size`` once per process (every proxy instance shares the
    class; flows without a cap are not touched)."""
    current = cls.__dict__.get("check_body_size")
    if getattr(current, _WRAPPED, False):
        return
    original = check_layer(cls)

    @functools.wraps(original)
    def check_body_size(self: HttpStream, request: bool) -> Generator[Any, Any, bool]:
        if (yield from original(self, request)):
            return True
        # Called for every chunk of every body: a flow without a cap is let go here,
        # before a generator is made for it.
        meta = self.flow.metadata.get(META)
        cap = meta.get("upload_cap" if request else "body_cap") if isinstance(meta, dict) else None
        if cap is None:
            return False
        return (yield from _enforce(self, request, cap))

    setattr(check_body_size, _WRAPPED, True)
    cls.check_body_size = check_body_size  # type: ignore[attr-defined]


def _enforce(stream: HttpStream, request: bool, cap: object) -> Generator[Any, Any, bool]:
    buf = stream.request_body_buf if request else stream.response_body_buf
    if not isinstance(cap, int) or len(buf) <= cap:
        return False
    # Decided once: past this point the stream no longer buffers (it streams, or is done).
    if request:
        return (yield from _refuse_upload(stream, cap))
    return (yield from _over_response(stream, cap))


def _refuse_upload(stream: HttpStream, cap: int) -> Generator[Any, Any, bool]:
    f = stream.flow
    yield QinglangRequestOverCapHook(f)
    stream.request_body_buf.clear()
    msg = f"Request body of unknown length is over {cap} bytes."
    f.error = flow.Error(msg)
    yield HttpErrorHook(f)
    # The client's connection is closed after the 413 (the rest of its body is not read).
    yield SendHttp(ResponseProtocolError(stream.stream_id, msg, 413), stream.context.client)
    stream.client_state = stream.state_errored
    f.live = False
    return True


def _over_response(stream: HttpStream, cap: int) -> Generator[Any, Any, bool]:
    f = stream.flow
    before = f.response
    yield QinglangResponseOverCapHook(f)
    if f.response is before and before is not None and before.stream:
        # The profile lets it pass unscanned: what was buffered, then the rest as it comes
        # (what stream_large_bodies does, for this flow alone).
        body = bytes(stream.response_body_buf)
        stream.response_body_buf.clear()
        yield from stream.start_response_stream()
        yield from stream.handle_event(ResponseData(stream.stream_id, body))
        return True
    stream.response_body_buf.clear()
    msg = f"Response body of unknown length is over {cap} bytes."
    # Stop reading: the server connection is closed, whatever it still sends is dropped.
    yield SendHttp(RequestProtocolError(stream.stream_id, msg, 502), stream.context.server)
    if f.response is before:  # nobody answered (a handler failed): refused, never passed
        f.error = flow.Error(msg)
        yield HttpErrorHook(f)
        yield SendHttp(ResponseProtocolError(stream.stream_id, msg, 502), stream.context.client)
        stream.client_state = stream.server_state = stream.state_errored
        f.live = False
        return True
    yield from stream.send_response()
    # What the server sent before the close, and its disconnect, are dropped silently (the
    # answer is out; state_done would take them for a protocol violation).
    stream.client_state = stream.server_state = stream.state_errored
    return True


class BodyCap:
    """Sets each flow's caps and answers the layer's over-cap hooks. Loaded after
    ``Qinglang``, whose ``responseheaders`` decides which bodies are buffered."""

    def __init__(self, main: Qinglang) -> None:
        self.main = main

    def load(self, loader: Loader) -> None:
        # Raised on: `qinglang run` stops with the traceback; mitmdump with the script
        # exits with 1 (its start-up error check) after logging it.
        try:
            install()
        except UnsupportedMitmproxy as e:
            log.error(
                "qinglang: cannot bound bodies of unknown length on this mitmproxy (%s); "
                "refusing to start. Install mitmproxy>=11,<13.",
                e,
            )
            raise

    def requestheaders(self, flow: http.HTTPFlow) -> None:
        live = self.main.live
        req = flow.request
        if live is None or flow.response or flow.error or "content-length" in req.headers:
            return
        if req.http_version.startswith("HTTP/1") and "transfer-encoding" not in req.headers:
            return  # an HTTP/1 request without either header has no body
        meta = who(flow, live.rules.clients, self.main.forwarded)
        prof = profile_of(live.config, meta)
        if prof.filter:
            meta["upload_cap"] = prof.max_scan_bytes

    def responseheaders(self, flow: http.HTTPFlow) -> None:
        live = self.main.live
        resp = flow.response
        meta = meta_of(flow)
        if live is None or resp is None or resp.stream or meta is None or flow.error:
            return
        if meta.get("answered") or meta.get("override"):
            return
        prof = profile_of(live.config, meta)
        if prof.filter:  # buffered for a filtering profile: bounded like a known length
            meta["body_cap"] = prof.max_scan_bytes

    def qinglang_response_over_cap(self, flow: http.HTTPFlow) -> None:
        live = self.main.live
        meta = meta_of(flow)
        if live is None or meta is None or flow.response is None:
            return  # refused (502) by the layer
        cap = meta.get("body_cap")
        prof = profile_of(live.config, meta)
        detail = f"unknown length, over {cap} bytes"
        meta["plan"] = "oversize"  # the response hook does not scan it
        d = verdict(ScanOutcome("oversize", problem=detail), prof)
        if d.action == Action.PASS:
            flow.response.stream = True
            answers.record(
                flow, self.main.events, Action.PASS, d.reason, detail=f"{detail}; passed unscanned"
            )
            return
        answers.block(
            flow,
            self.main.events,
            d,
            None,
            asks=self.main.overrides is not None,
            detail=detail,
        )
        answered(flow)

    def qinglang_request_over_cap(self, flow: http.HTTPFlow) -> None:
        meta = meta_of(flow)
        cap = meta.get("upload_cap") if meta is not None else None
        answers.record(
            flow,
            self.main.events,
            Action.BLOCK,
            Reason.OVERSIZE,
            detail=f"upload of unknown length, over {cap} bytes",
        )


__all__ = ["BodyCap", "UnsupportedMitmproxy", "check_layer", "install"]
