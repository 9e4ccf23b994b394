"""The host a request is for: mitmproxy's ``Request.pretty_host``, parsed once per Host.

``pretty_host`` parses the Host header again on every read (a regular expression, IDNA
and a validity check: about 20 us), and the addons read it six or seven times per
request; at saturation that was a tenth of mitmdump's time per request. The parse is a
pure function of the header's text, so it is cached by that text.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from mitmproxy.net.http import url


@lru_cache(maxsize=4096)
def _host_in(authority: str) -> str:
    return url.parse_authority(authority, check=False)[0]


def request_host(request: Any) -> str:
    """``request.pretty_host`` of a ``mitmproxy.http.Request``: the Host header's (or
    HTTP/2 authority's) host, else the host the request was sent to."""
    authority = request.host_header
    return _host_in(authority) if authority else request.host


def asks_for(request: Any, name: str) -> bool:
    """Whether ``request`` is for ``name`` (lower case, no trailing dot): one of the names
    the proxy answers itself."""
    return request_host(request).lower().rstrip(".") == name
