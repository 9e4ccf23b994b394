"""What to do with a response once its headers are in, before any of its body.

mitmproxy buffers a body unless told to stream it, and once it streams the status and
headers are already on their way. So size and type are decided here: a body that will be
scanned is buffered; one too large to scan follows the profile's ``on_oversize`` policy
right away (a block page, or streamed unscanned by choice, and recorded either way); media
and downloads that are too large or of unknown length stream through a sniffer that stops
anything which turns out to be text in disguise.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from qinglang.content import compression
from qinglang.content import mediatypes as content
from qinglang.content.settings import ResponseSettings

Step = Literal[
    "none",  # no body (HEAD, 204, 304, 1xx): nothing to do
    "pass",  # stream through untouched (unfiltered profile)
    "buffer",  # receive the whole body, then scan it in the response hook
    "oversize",  # too large to scan: the profile's on_oversize decides
    "sniff",  # binary, large or open-ended: stream, checking the first bytes
    "stream",  # an event stream: never ends, passes streamed
]


@dataclass(frozen=True, slots=True)
class HeadPlan:
    action: Step
    detail: str | None = None  # for the event log; never content


def content_length(value: str | None) -> int | None:
    if value is None:
        return None
    try:
        n = int(value.strip())
    except ValueError:
        return None
    return n if n >= 0 else None


def has_body(method: str, status: int) -> bool:
    return not (method.upper() == "HEAD" or status in (204, 304) or 100 <= status < 200)


# Sec-Fetch-Dest values of a request whose response the browser renders itself.
_RENDERED = frozenset({"document", "iframe", "frame", "embed", "object"})


def navigated(fetch_dest: str | None, accept: str | None) -> bool:
    """The browser shows the response as a page (a tab, a frame), as opposed to handing it
    to a script (``EventSource``, ``fetch``). Browsers send ``Sec-Fetch-Dest``; one too old
    for it still asks for ``text/html`` when it navigates (an ``EventSource`` asks for
    ``text/event-stream`` alone; programs other than browsers render nothing)."""
    if fetch_dest:
        return fetch_dest.strip().lower() in _RENDERED
    return "text/html" in (accept or "").lower()


def plan_head(
    *,
    method: str,
    status: int,
    content_type: str | None,
    content_encoding: str | None,
    length: int | None,
    profile: ResponseSettings,
    page: bool = False,
) -> HeadPlan:
    """``page``: the request is a navigation (``navigated``)."""
    if not has_body(method, status):
        return HeadPlan("none")
    if not profile.filter:
        return HeadPlan("pass")
    fam = content.family(content_type)
    limit = profile.max_scan_bytes
    too_big = length is not None and length > limit
    if fam == "stream":
        if not page:
            return HeadPlan("stream", "event stream")
        # Opened as a page, Chromium shows the stream as text as it arrives. One that
        # says how long it is can be scanned; an open-ended one cannot be held back until
        # it ends (it may never end), so it follows on_oversize.
        if length is None or too_big:
            return HeadPlan("oversize", "an event stream opened as a page cannot be checked")
        return HeadPlan("buffer")
    identity = not compression.codings(content_encoding)
    # Video, downloads, endless media streams, huge script bundles: no buffering, but the
    # first bytes are checked so that text labelled as something else cannot slip through.
    sniffable = identity and (fam == "binary" or (too_big and fam in ("script", "style")))
    if sniffable and (too_big or length is None):
        return HeadPlan("sniff", f"{length if length is not None else 'unknown'} bytes")
    if too_big:
        return HeadPlan("oversize", f"Content-Length {length} is over {limit} bytes")
    return HeadPlan("buffer")


def range_is_partial(content_range: str | None) -> bool:
    """A 206 that does not cover the whole resource (``bytes 0-99/100`` is whole)."""
    if not content_range:
        return True
    try:
        unit, _, spec = content_range.strip().partition(" ")
        span, _, total = spec.partition("/")
        first, _, last = span.partition("-")
        if unit.lower() != "bytes" or total.strip() == "*":
            return True
        return not (int(first) == 0 and int(last) + 1 >= int(total))
    except ValueError:
        return True


class Sniffer:
    """A ``flow.response.stream`` callable: holds the first bytes back until they show
    whether the body is what its header says; text in disguise is cut off (or passed, when
    ``allow_text``), everything else flows on unchanged."""

    HOLD = 512

    def __init__(
        self, content_type: str | None, allow_text: bool, on_text: Callable[[], object]
    ) -> None:
        self.content_type = content_type
        self.allow_text = allow_text
        self.on_text = on_text  # called once when text is found
        self.state: Literal["sniffing", "pass", "cut"] = "sniffing"
        self.head = b""

    def __call__(self, chunk: bytes) -> bytes | list[bytes]:
        if self.state == "pass":
            return chunk
        if self.state == "cut":
            return []
        self.head += chunk
        if chunk and len(self.head) < self.HOLD:
            return []
        head, self.head = self.head, b""
        if content.plan_for(self.content_type, head).scans:
            self.on_text()
            if not self.allow_text:
                self.state = "cut"
                return []
        self.state = "pass"
        return head
