"""The links the proxy's own pages show a child: "ask for access" and "blocked by mistake"
on the block page, "ask for more time" on the time-up page, and the bookmarklet.

They all point at the one name the proxy answers itself, ``qinglang.home.arpa``: ``/ask``
is the dashboard's page (childpages.py), ``/report`` the report entry (reportentry.py).
Kept free of the web framework, so the block page can import it cheaply.
"""

from __future__ import annotations

from urllib.parse import quote

from qinglang.pages.risknotice import report_link
from qinglang.policy.hosts import PROXY_HOST

ASK_PATH = "/ask"


def ask_url(event_id: str) -> str:
    """The block page's "ask for access" link."""
    return f"http://{PROXY_HOST}{ASK_PATH}?event={quote(event_id, errors='surrogateescape')}"


def mistake_url(event_id: str, url: str) -> str:
    """The block page's "blocked by mistake" link (the report entry's): ``url`` is the
    blocked address as the block page shows it, without its query."""
    return report_link(url, "mistake", event_id or None)


def time_ask_url(url: str) -> str:
    """The time-is-up page's "ask for more time" link."""
    # surrogateescape: a path read from bytes that were not UTF-8 keeps those bytes.
    target = quote(url, safe="", errors="surrogateescape")
    return f"http://{PROXY_HOST}{ASK_PATH}?kind=time&url={target}"


BOOKMARKLET = (
    f"javascript:location.href='http://{PROXY_HOST}/report?kind=harmful&url='"
    "+encodeURIComponent(location.href)"
)
