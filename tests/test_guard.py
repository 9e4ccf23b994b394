"""``proxy.guard``: one guard around every hook; driven with mitmproxy's test helpers.

The end-to-end proof (a fault in each stage inside a real mitmdump) is in
``tests/security/test_fail_closed.py``; here each kind of hook and flow the guard handles,
and the transparent-mode names of ``policy.destination``, without a network.
"""

from __future__ import annotations

import asyncio
import textwrap
from pathlib import Path
from typing import Any

import pytest
from mitmproxy import connection, http, tls
from mitmproxy.proxy import context
from mitmproxy.proxy.mode_specs import ProxyMode
from mitmproxy.test import taddons, tflow

from qinglang.proxy.filtering import Qinglang
from qinglang.proxy.guard import Guard
from qinglang.proxy.hookchain import AddonChain

CONFIG = """
    lists: [lists]
    profiles:
      child: {deny_domains: [evil.test]}
      adult: {filter: false}
    clients:
      - {match: 10.0.0.0/8, profile: adult}
    default_profile: child
"""


@pytest.fixture
def config(tmp_path: Path) -> Path:
    (tmp_path / "lists").mkdir()
    (tmp_path / "lists" / "g.yaml").write_text(
        "category: gambling\nterms: [casino]\n", encoding="utf-8"
    )
    cfg = tmp_path / "qinglang.yaml"
    cfg.write_text(textwrap.dedent(CONFIG), encoding="utf-8")
    return cfg


class Broken:
    """An addon whose hooks all raise."""

    def __init__(self) -> None:
        self.calls = 0

    def request(self, flow: http.HTTPFlow) -> None:
        self.calls += 1
        raise KeyError("boom")

    async def response(self, flow: http.HTTPFlow) -> None:
        raise ValueError("boom")

    def responseheaders(self, flow: http.HTTPFlow) -> None:
        raise ValueError("boom")

    def tls_clienthello(self, data: tls.ClientHelloData) -> None:
        data.ignore_connection = True
        raise ValueError("boom")

    def configure(self, updated: set[str]) -> None:
        raise ValueError("configure errors must reach mitmproxy")


def _flow(peer: str = "127.0.0.1", accept: str = "text/html") -> http.HTTPFlow:
    f = tflow.tflow(resp=False)
    f.client_conn.peername = (peer, 5000)
    f.request.headers["host"] = "news.test"
    f.request.headers["accept"] = accept
    f.request.headers["accept-language"] = "en"
    return f


def test_request_error_blocks_a_child_and_passes_a_parent(config: Path) -> None:
    main, broken = Qinglang(), Broken()
    hooks = AddonChain([broken], Guard(main))
    with taddons.context(main) as tctx:
        tctx.configure(main, qinglang_config=str(config), qinglang_workers=0)
        child = _flow()
        hooks.request(child)  # does not raise
        assert child.response is not None and child.response.status_code == 403
        assert b"the filter ran into an error" in child.response.content
        api = _flow(accept="application/json")
        hooks.request(api)
        assert api.response is not None and api.response.headers["content-type"].startswith(
            "application/json"
        )
        parent = _flow(peer="10.1.2.3")
        hooks.request(parent)
        assert parent.response is None  # filter: false goes on
        assert broken.calls == 3
        main.done()


def test_unknown_profile_fails_closed() -> None:
    broken = Broken()
    hooks = AddonChain([broken], Guard(None))
    f = _flow(peer="10.1.2.3")
    hooks.request(f)
    assert f.response is not None and f.response.status_code == 403


def test_async_and_header_hooks(config: Path) -> None:
    main, broken = Qinglang(), Broken()
    hooks = AddonChain([broken], Guard(main))
    with taddons.context(main) as tctx:
        tctx.configure(main, qinglang_config=str(config), qinglang_workers=0)
        f = _flow()
        f.response = http.Response.make(200, b"harmful", {"content-type": "text/html"})
        asyncio.run(hooks.response(f))
        assert f.response.status_code == 403 and b"harmful" not in f.response.content
        # At the headers: the page becomes the body, the server's body is dropped.
        g = _flow()
        g.response = http.Response.make(200, b"", {"content-type": "text/html"})
        hooks.responseheaders(g)
        assert g.response is not None and g.response.status_code == 403
        assert callable(g.response.stream)
        first = g.response.stream(b"harmful bytes")
        assert b"harmful" not in bytes(first) and g.response.stream(b"more") == []
        # A body already streaming is cut off.
        h = _flow()
        h.response = http.Response.make(200, b"", {"content-type": "text/html"})
        h.response.stream = True
        asyncio.run(hooks.response(h))
        assert h.error is not None
        main.done()


def test_tls_error_intercepts_instead_of_passing_through() -> None:
    broken = Broken()
    hooks = AddonChain([broken], Guard(None))
    client = tflow.tclient_conn()
    with taddons.context() as tctx:
        ctx = context.Context(client, tctx.options)
        ctx.server = connection.Server(address=("bank.test", 443))
        data = tls.ClientHelloData(ctx, _Hello())  # type: ignore[arg-type]
        hooks.tls_clienthello(data)
    assert data.ignore_connection is False


def test_lifecycle_hooks_are_not_wrapped() -> None:
    broken = Broken()
    hooks = AddonChain([broken], Guard(None))
    with pytest.raises(ValueError, match="must reach"):
        hooks.configure(set())


def test_the_guard_survives_its_own_failures(config: Path) -> None:
    """Even when the block page cannot be built: a plain 502, never an exception."""
    import qinglang.pages.blockpage as blockpage

    main, broken = Qinglang(), Broken()
    hooks = AddonChain([broken], Guard(main))
    original = blockpage.block_body

    def no_page(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("no page")

    with taddons.context(main) as tctx:
        tctx.configure(main, qinglang_config=str(config), qinglang_workers=0)
        blockpage.block_body = no_page  # type: ignore[assignment]
        try:
            f = _flow()
            hooks.request(f)
        finally:
            blockpage.block_body = original
        assert f.response is not None and f.response.status_code == 502
        main.done()


async def _wait(pending: Any) -> None:
    await pending


class _Hello:
    sni = "bank.test"


@pytest.mark.parametrize(
    ("host_header", "sni", "blocked"),
    [("news.test", "evil.test", True), ("evil.test", "news.test", True),
     ("news.test", "news.test", False), ("news.test", None, False)],
)  # fmt: skip
def test_transparent_mode_judges_the_host_header_and_the_tls_name(
    config: Path, host_header: str, sni: str | None, blocked: bool
) -> None:
    """In transparent and WireGuard modes the dialled host is the server's address: the
    Host header and the TLS name are the names there are, and both are judged."""
    main = Qinglang()
    with taddons.context(main) as tctx:
        tctx.configure(main, qinglang_config=str(config), qinglang_workers=0)
        f = _flow()
        f.client_conn.proxy_mode = ProxyMode.parse("transparent")
        f.request.host = "93.184.216.34"  # as mitmproxy sets it from the server address
        f.request.headers["host"] = host_header
        f.client_conn.sni = sni
        main.requestheaders(f)
        pending = main.request(f)
        if pending is not None:  # the page address goes through the keyword scan
            asyncio.run(_wait(pending))
        assert (f.response is not None and f.response.status_code == 403) is blocked
        main.done()


@pytest.mark.parametrize(("version", "status"), [("HTTP/2.0", 421), ("HTTP/1.1", 403)])
def test_http2_request_on_a_connection_named_for_a_blocked_site(
    config: Path, version: str, status: int
) -> None:
    """HTTP/2 browsers may send a request on a connection opened for another site of the
    same server (connection coalescing). Refused only for that connection's TLS name, the
    request gets a 421 and the browser retries on a connection of its own; HTTP/1.1 has
    no coalescing, so it is a fronting attempt and gets the block page."""
    main = Qinglang()
    with taddons.context(main) as tctx:
        tctx.configure(main, qinglang_config=str(config), qinglang_workers=0)
        f = _flow()
        f.request.http_version = version
        f.request.host = "93.184.216.34"
        f.request.headers["host"] = "news.test"
        f.client_conn.sni = "evil.test"
        main.request(f)
        assert f.response is not None and f.response.status_code == status
        assert b"harmful" not in f.response.content
        main.done()


def test_the_chain_is_one_addon_that_calls_every_hook_of_its_members() -> None:
    """addon.chain hands mitmproxy one addon; every hook of every addon it lists is called
    from it (flow hooks under the guard), and a hook no member has is not defined at all,
    so mitmproxy skips the chain for that event."""
    from qinglang.addon import chain
    from qinglang.proxy.guard import flow_hooks

    (only,) = chain()
    assert isinstance(only, AddonChain)
    assert len(only.members) >= 10
    seen = 0
    for m in only.members:
        for hook in flow_hooks() | {"load", "configure", "running", "done"}:
            fn = getattr(m, hook, None)
            if callable(fn):
                seen += 1
                assert fn in [f for _, f in only.calls[hook]], f"{type(m).__name__}.{hook}"
    assert seen >= 20  # request, response, responseheaders, http_connect, tls_clienthello...
    assert not hasattr(only, "update") and not hasattr(only, "addons")


def test_nested_addons_are_guarded() -> None:
    class Outer:
        def __init__(self) -> None:
            self.addons = [Broken()]

    hooks = AddonChain([Outer()], Guard(None))
    f = _flow()
    hooks.request(f)
    assert f.response is not None and f.response.status_code == 403


class Recorder:
    """Notes the order its hooks run in, into a list shared with others."""

    def __init__(self, name: str, seen: list[str], wait: bool = False) -> None:
        self.name, self.seen, self.wait = name, seen, wait

    def request(self, flow: http.HTTPFlow) -> Any:
        if not self.wait:
            self.seen.append(self.name)
            return None

        async def later() -> None:
            await asyncio.sleep(0)
            self.seen.append(self.name)

        return later()  # a sync hook that hands back something to await, as mitmproxy allows


def test_members_run_in_order_after_an_error_and_after_an_await() -> None:
    """A member that fails does not stop the next one (as mitmproxy runs the next addon),
    and one that hands back an awaitable is awaited before the next one runs."""
    seen: list[str] = []
    broken = Broken()
    members = [Recorder("a", seen), broken, Recorder("b", seen, wait=True), Recorder("c", seen)]
    hooks = AddonChain(members, Guard(None))
    f = _flow()
    pending = hooks.request(f)
    assert seen == ["a"] and pending is not None  # b's work is still to be awaited
    asyncio.run(_wait(pending))
    assert seen == ["a", "b", "c"] and broken.calls == 1
    assert f.response is not None and f.response.status_code == 403  # the error blocked it
    # With nothing to await, the chain stays sync.
    seen.clear()
    assert AddonChain([Recorder("x", seen)], Guard(None)).request(_flow()) is None
    assert seen == ["x"]


class BrokenChat:
    """A WebSocket hook that raises while a message is being checked."""

    async def websocket_message(self, flow: http.HTTPFlow) -> None:
        raise ValueError("boom")


def test_websocket_message_error_drops_the_message_and_closes(config: Path) -> None:
    main, broken = Qinglang(), BrokenChat()
    hooks = AddonChain([broken], Guard(main))
    with taddons.context(main) as tctx:
        tctx.configure(main, qinglang_config=str(config), qinglang_workers=0)
        f = tflow.twebsocketflow()
        f.client_conn.peername = ("127.0.0.1", 5000)
        assert f.websocket is not None
        message = f.websocket.messages[-1]
        asyncio.run(hooks.websocket_message(f))
        # A page can no longer replace an upgraded connection: the message must not go on.
        assert message.dropped
        assert f.error is not None  # killed
        main.done()
