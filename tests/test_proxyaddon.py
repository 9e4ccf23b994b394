"""The addon's hooks with mitmproxy's own test helpers (taddons, tflow): no network.

Scanning runs in a thread (``qinglang_workers=0``); the end-to-end tests cover the worker
processes and real connections.
"""

from __future__ import annotations

import asyncio
import gzip
import textwrap
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest
from mitmproxy import exceptions, http
from mitmproxy.test import taddons, tflow

from qinglang.proxy.filtering import Qinglang

LIST = """
    category: gambling
    lang: zh
    weight: 10
    terms:
      - {term: 网络赌场, weight: 40}
      - {term: 赌博网站, weight: 120}
"""
CONFIG = """
    lists: [lists]
    profiles:
      child: {max_scan_bytes: 4096}
      adult: {filter: false}
      lenient: {on_error: pass, on_oversize: pass, passthrough_hosts: [bank.example]}
    clients:
      - {match: 10.0.0.0/8, profile: adult}
      - {match: 192.168.1.5, profile: lenient}
      - {user: mum, profile: adult}
    default_profile: child
"""


@pytest.fixture
def config(tmp_path: Path) -> Path:
    (tmp_path / "lists").mkdir()
    (tmp_path / "lists" / "g.yaml").write_text(textwrap.dedent(LIST), encoding="utf-8")
    cfg = tmp_path / "qinglang.yaml"
    cfg.write_text(textwrap.dedent(CONFIG), encoding="utf-8")
    return cfg


def run(body: Callable[[], Awaitable[None]]) -> None:
    asyncio.run(body())


def make_flow(
    body: bytes,
    ctype: str = "text/html; charset=utf-8",
    peer: str = "127.0.0.1",
    headers: dict[str, str] | None = None,
    status: int = 200,
) -> http.HTTPFlow:
    f = tflow.tflow(resp=True)
    f.client_conn.peername = (peer, 50000)
    f.request.headers.clear()
    f.request.headers["host"] = "example.com"
    f.response = http.Response.make(status, b"", {"content-type": ctype})
    f.response.raw_content = body  # as received: no encoding by mitmproxy
    f.response.headers["content-length"] = str(len(body))
    for k, v in (headers or {}).items():
        f.response.headers[k] = v
    return f


async def through(addon: Qinglang, f: http.HTTPFlow) -> http.HTTPFlow:
    """requestheaders .. response, the way mitmproxy calls them for a buffered response."""
    resp = f.response
    f.response = None
    addon.request(f)
    if f.response is not None:  # answered in the request hook
        return f
    f.response = resp
    addon.responseheaders(f)
    pending = addon.response(f)  # a coroutine only when the body goes to the workers
    if pending is not None:
        await pending
    return f


def page(text: str) -> bytes:
    return f"<html><body><p>{text}</p></body></html>".encode()


def test_masks_blocks_and_leaves_clean_pages_alone(config: Path) -> None:
    async def body() -> None:
        addon = Qinglang()
        with taddons.context(addon) as tctx:
            tctx.configure(addon, qinglang_config=str(config), qinglang_workers=0)
            clean = await through(addon, make_flow(page("今天天气很好")))
            assert clean.response.content == page("今天天气很好")

            masked = await through(addon, make_flow(page("这是网络赌场")))
            assert masked.response.content == page("这是****")
            assert masked.response.headers["content-length"] == str(len(page("这是****")))

            blocked = await through(addon, make_flow(page("赌博网站")))
            assert blocked.response.status_code == 403
            assert "赌博网站" not in blocked.response.text
            assert blocked.metadata["qinglang"]["event"]

            adult = await through(addon, make_flow(page("赌博网站"), peer="10.1.2.3"))
            assert adult.response.stream is True  # passes through untouched

            addon.done()

    run(body)


def test_gzip_page_is_masked_and_recompressed_cheaply(config: Path) -> None:
    async def body() -> None:
        addon = Qinglang()
        with taddons.context(addon) as tctx:
            tctx.configure(addon, qinglang_config=str(config), qinglang_workers=0)
            f = make_flow(gzip.compress(page("网络赌场")), headers={"content-encoding": "gzip"})
            f.request.headers["accept-encoding"] = "gzip, br"
            await through(addon, f)
            assert f.response.headers["content-encoding"] == "gzip"
            assert gzip.decompress(f.response.raw_content) == page("****")
            addon.done()

    run(body)


def test_a_masked_page_drops_the_headers_its_new_body_falsifies(config: Path) -> None:
    async def body() -> None:
        addon = Qinglang()
        with taddons.context(addon) as tctx:
            tctx.configure(addon, qinglang_config=str(config), qinglang_workers=0)
            f = make_flow(
                gzip.compress(page("网络赌场")),
                headers={
                    "content-encoding": "gzip",
                    "content-md5": "Q2hlY2sgSW50ZWdyaXR5IQ==",
                    "Digest": "sha-256=X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=",
                    "repr-digest": "sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:",
                    "etag": '"v1"',
                },
            )
            f.response.headers.add("Set-Cookie", "a=1")
            f.response.headers.add("Set-Cookie", "b=2")
            await through(addon, f)
            h = f.response.headers
            assert f.response.content == page("****")
            assert h["content-length"] == str(len(f.response.raw_content))
            assert "content-encoding" not in h  # the client accepts no encoding here
            for gone in ("content-md5", "digest", "repr-digest"):
                assert gone not in h
            assert h["etag"] == '"v1"' and h.get_all("set-cookie") == ["a=1", "b=2"]
            assert h["content-type"] == "text/html; charset=utf-8"
            addon.done()

    run(body)


def test_user_name_of_proxy_auth_picks_the_profile(config: Path) -> None:
    async def body() -> None:
        addon = Qinglang()
        with taddons.context(addon) as tctx:
            tctx.configure(addon, qinglang_config=str(config), qinglang_workers=0)
            f = make_flow(page("网络赌场"))
            f.metadata["proxyauth"] = ("mum", "secret")
            await through(addon, f)
            assert f.metadata["qinglang"]["profile"] == "adult"
            assert "secret" not in repr(f.metadata["qinglang"])
            forged = make_flow(page("网络赌场"))
            forged.request.headers["x-forwarded-for"] = "10.0.0.1"  # headers never count
            await through(addon, forged)
            assert forged.metadata["qinglang"]["profile"] == "child"
            addon.done()

    run(body)


def test_oversize_and_broken_bodies_follow_the_profile_policy(config: Path) -> None:
    big = page("x" * 5000)

    async def body() -> None:
        addon = Qinglang()
        with taddons.context(addon) as tctx:
            tctx.configure(addon, qinglang_config=str(config), qinglang_workers=0)
            child = await through(addon, make_flow(big))
            assert child.response.status_code == 403  # fail-closed
            lenient = await through(addon, make_flow(big, peer="192.168.1.5"))
            assert lenient.response.content == big  # fail-open, untouched

            broken = gzip.compress(page("网络赌场"))[:-8]
            f = make_flow(broken, headers={"content-encoding": "gzip"})
            assert (await through(addon, f)).response.status_code == 403
            f = make_flow(broken, peer="192.168.1.5", headers={"content-encoding": "gzip"})
            assert (await through(addon, f)).response.raw_content == broken
            addon.done()

    run(body)


def test_oversize_known_at_headers_sends_block_page_as_the_body(config: Path) -> None:
    async def body() -> None:
        addon = Qinglang()
        with taddons.context(addon) as tctx:
            tctx.configure(addon, qinglang_config=str(config), qinglang_workers=0)
            f = make_flow(b"", headers={"content-length": "999999"})
            addon.request(f)
            addon.responseheaders(f)
            assert f.response.status_code == 403
            assert callable(f.response.stream)
            sent = b"".join(
                c if isinstance(c, bytes) else b"".join(c)
                for c in (f.response.stream(b"<html>upstream"), f.response.stream(b"more"))
            )
            assert sent.startswith(b"<!DOCTYPE html>") and b"upstream" not in sent
            assert f.response.headers["content-length"] == str(len(sent))
            addon.done()

    run(body)


def test_head_204_and_304_are_left_alone(config: Path) -> None:
    async def body() -> None:
        addon = Qinglang()
        with taddons.context(addon) as tctx:
            tctx.configure(addon, qinglang_config=str(config), qinglang_workers=0)
            f = make_flow(page("赌博网站"))
            f.request.method = "HEAD"
            assert (await through(addon, f)).response.status_code == 200
            for status in (204, 304):
                f = make_flow(b"", status=status)
                assert (await through(addon, f)).response.status_code == status
            addon.done()

    run(body)


def test_flows_answered_by_another_addon_are_not_touched(config: Path) -> None:
    async def body() -> None:
        addon = Qinglang()
        with taddons.context(addon) as tctx:
            tctx.configure(addon, qinglang_config=str(config), qinglang_workers=0)
            f = make_flow(page("赌博网站"))
            assert addon.response(f) is None  # no request/responseheaders: not ours to scan
            assert f.response.content == page("赌博网站")
            addon.done()

    run(body)


def test_bad_config_is_an_options_error_naming_file_and_line(config: Path) -> None:
    config.write_text("profiles:\n  child:\n    mask: maybe\n", encoding="utf-8")
    addon = Qinglang()
    with taddons.context(addon) as tctx:
        with pytest.raises(exceptions.OptionsError, match=r"qinglang.yaml:3: .*mask"):
            tctx.configure(addon, qinglang_config=str(config), qinglang_workers=0)
        addon.done()


def test_unconfigured_addon_fails_closed() -> None:
    addon = Qinglang()
    f = make_flow(page("hello"))
    f.response = None
    with taddons.context(addon):
        addon.request(f)  # no rules loaded: nothing passes unfiltered
    assert f.response is not None and f.response.status_code == 503


def test_tls_passthrough_per_profile(config: Path) -> None:
    from mitmproxy import connection, tls
    from mitmproxy.proxy import context
    from mitmproxy.test import tutils  # noqa: F401

    addon = Qinglang()
    with taddons.context(addon) as tctx:
        tctx.configure(addon, qinglang_config=str(config), qinglang_workers=0)
        for peer, host, expected in (
            ("192.168.1.5", "www.bank.example", True),
            ("192.168.1.5", "example.com", False),
            ("127.0.0.1", "bank.example", False),
        ):
            client = tflow.tclient_conn()
            client.peername = (peer, 1234)
            ctx = context.Context(client, tctx.options)
            ctx.server = connection.Server(address=(host, 443))
            hello = _client_hello(host)
            data = tls.ClientHelloData(ctx, hello)
            addon.tls_clienthello(data)
            assert data.ignore_connection is expected, (peer, host)
        addon.done()


def _client_hello(sni: str):  # type: ignore[no-untyped-def]
    """A ClientHello object with an SNI, without parsing real bytes."""

    class Hello:
        def __init__(self) -> None:
            self.sni = sni

    return Hello()


def test_stream_large_bodies_is_refused(config: Path) -> None:
    # mitmproxy would stream the rest of a large body unscanned.
    from mitmproxy.addons.proxyserver import Proxyserver

    addon = Qinglang()
    with taddons.context(Proxyserver(), addon) as tctx:
        tctx.configure(addon, qinglang_config=str(config), qinglang_workers=0)
        with pytest.raises(exceptions.OptionsError, match="max_scan_bytes"):
            tctx.configure(addon, stream_large_bodies="1m")
        addon.done()


def test_long_lived_objects_leave_the_collector_after_start_and_reload(config: Path) -> None:
    # A full garbage collection over the proxy's long-lived objects stopped every
    # connection for 60-75 ms (proxy benchmark): once the workers run, and again after each
    # reload (the new rules), they are frozen out of the collector's passes.
    import gc

    from qinglang.policy.reload import load_rules

    def frozen(obj: object) -> bool:
        return not any(o is obj for o in gc.get_objects())  # not in generations 0-2

    async def body() -> None:
        addon = Qinglang()
        with taddons.context(addon) as tctx:
            tctx.configure(addon, qinglang_config=str(config), qinglang_workers=0)
            await addon.running()
            assert addon.live is not None and frozen(addon.live.rules.config)
            lst = config.parent / "lists" / "g.yaml"
            lst.write_text(textwrap.dedent(LIST) + "  - 新词\n", encoding="utf-8")
            new = load_rules(str(config))
            assert not frozen(new.config)
            await addon._apply_rules(new)
            assert addon.live.rules is new and frozen(new.config)
            clean = await through(addon, make_flow(page("新词 出现了")))
            assert clean.response.content == page("** 出现了")  # the new list is in force
            addon.done()
        gc.unfreeze()

    run(body)
