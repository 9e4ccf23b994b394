"""The device set-up page: the CA certificate, how to trust it on each platform, and the
proxy settings (PAC file, WPAD).

One ASGI app, served in two places: by the proxy itself on
``http://qinglang.home.arpa/setup`` (``devicesetup.DeviceSetup``, as mitmproxy answers
``mitm.it``), and on the dashboard's own listener at ``/setup``, ``/proxy.pac`` and
``/wpad.dat`` for a device not configured yet (no sign-in: these give nothing away that
the network does not already show; the rest of the dashboard still needs one).

Who asks and where the proxy is come from a ``Where`` the caller works out from the
connection (``where_for``), never from a request header.
"""

from __future__ import annotations

import re
from collections.abc import Callable, MutableMapping
from dataclasses import dataclass
from html import escape
from pathlib import Path
from typing import Any

import jinja2
from markupsafe import Markup
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from qinglang.pages import pac
from qinglang.pages.i18n import LANGS, choose_lang, in_lang
from qinglang.pages.setuptext import PLATFORMS, WORDS
from qinglang.store import cafiles

SETUP_PATH = "/setup"
PAC_PATHS = ("/proxy.pac", "/wpad.dat")
HERE = Path(__file__).resolve().parent
_HEADERS = {
    "content-security-policy": "default-src 'none'; style-src 'unsafe-inline'; img-src data:",
    "cache-control": "no-store",
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
}


@dataclass(frozen=True, slots=True)
class Where:
    """What the page says to one device."""

    proxy_host: str  # the address the device reaches the proxy at
    proxy_port: int
    pac_url: str | None  # fetched by the device directly: None when the dashboard is off
    filtered: bool  # the device's profile filters: the PAC fails closed
    via_proxy: bool  # this request came through the proxy


WhereFor = Callable[[MutableMapping[str, Any]], Where]


def is_setup_path(path: str) -> bool:
    p = path.split("?", 1)[0]
    return p.rstrip("/") == SETUP_PATH or p.startswith(SETUP_PATH + "/") or p in PAC_PATHS


def _code(text: str) -> Markup:
    """Escape, then show the parts between backticks as code."""
    parts = escape(text).split("`")
    return Markup("".join(f"<code>{p}</code>" if i % 2 else p for i, p in enumerate(parts)))


def _lang(request: Request) -> str:
    forced = request.query_params.get("lang")
    if forced in LANGS:
        return forced
    return choose_lang(request.headers.get("accept-language"))


def create_setup_app(confdir: Callable[[], Path], where_for: WhereFor) -> Starlette:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(HERE / "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )

    def ca() -> cafiles.CaFiles | None:
        try:
            return cafiles.load(confdir())
        except (cafiles.NoCertificate, ValueError):
            return None

    async def page(request: Request) -> Response:
        lang = _lang(request)
        where = where_for(request.scope)
        files = await run_in_threadpool(ca)
        try:
            proxy = pac.proxy_entry(where.proxy_host, where.proxy_port)
        except ValueError:
            proxy = ""
        fill = {
            "pac": where.pac_url or f"http://{proxy}/proxy.pac",
            "proxy": proxy,
            "ca_pem": "qinglang-ca.pem",
            "ca_crt": "qinglang-ca.crt",
            "ca_name": files.name if files and files.name else cafiles.CA_NAME,
        }

        def step(text: str) -> Markup:
            return _code(text.format(**fill))

        html = env.get_template("setup.html").render(
            lang=lang,
            w=in_lang(WORDS, lang),
            other="en" if lang == "zh" else "zh",
            platforms=PLATFORMS[lang],
            step=step,
            ca=files,
            has_p12=bool(files and files.p12),
            proxy=proxy,
            where=where,
        )
        return HTMLResponse(html, headers=_HEADERS)

    async def download(request: Request) -> Response:
        name = request.path_params["name"]
        if name not in cafiles.DOWNLOADS:
            return Response("not found\n", 404, media_type="text/plain", headers=_HEADERS)
        files = await run_in_threadpool(ca)
        data = cafiles.body(files, name) if files is not None else None
        if data is None:
            return Response("not found\n", 404, media_type="text/plain", headers=_HEADERS)
        return Response(
            data,
            media_type=cafiles.DOWNLOADS[name],
            headers={**_HEADERS, "content-disposition": f'attachment; filename="{name}"'},
        )

    async def pac_file(request: Request) -> Response:
        where = where_for(request.scope)
        try:
            body = pac.render(
                where.proxy_host, where.proxy_port, fallback_direct=not where.filtered
            )
        except ValueError:
            return Response("no proxy address\n", 503, media_type="text/plain")
        return Response(
            body,
            media_type=pac.CONTENT_TYPE,
            headers={"cache-control": "no-store", "x-content-type-options": "nosniff"},
        )

    return Starlette(
        routes=[
            Route(SETUP_PATH, page, methods=["GET", "HEAD"]),
            Route(SETUP_PATH + "/", page, methods=["GET", "HEAD"]),
            Route(SETUP_PATH + "/{name:str}", download, methods=["GET", "HEAD"]),
            *(Route(p, pac_file, methods=["GET", "HEAD"]) for p in PAC_PATHS),
        ]
    )


_SAFE_NAME = re.compile(r"^[A-Za-z0-9.:\[\]-]+$")


def url_host(host: str) -> str:
    """A host for a URL: IPv6 in brackets; anything odd becomes an empty string."""
    if not _SAFE_NAME.match(host):
        return ""
    return f"[{host}]" if ":" in host and not host.startswith("[") else host
