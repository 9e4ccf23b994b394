"""WebSocket chats through a real mitmdump with the addon: a real ``websockets`` server on
127.0.0.1 sends chat messages, a real ``websockets`` client (permessage-deflate on, as
browsers negotiate it) receives them through the proxy as the child."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import threading
import time
from collections.abc import Iterator

import pytest
from websockets.asyncio.client import connect
from websockets.asyncio.server import ServerConnection, serve

from .conftest import ADULT, CHILD, Proxy
from .upstream import BLOCK_TERMS, CLEAN_TEXT, MASK_TERM

CHAT: list[str | bytes] = [
    f"小明：{CLEAN_TEXT}",
    f"小红：快来{MASK_TERM}玩",
    '{"from": "x", "text": "\\u7f51\\u7edc\\u8d4c\\u573a"}',  # the word, as escapes
    f"陌生人：{BLOCK_TERMS}",
    "他的身份证号是 11010519491231002X，住址在这里",
    b"\x00\x01binary " + MASK_TERM.encode(),
    "再见" * 3,
]


class ChatServer:
    """Sends CHAT to every client that connects, then echoes what the client sends."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.port = 0
        ready = threading.Event()
        self.thread = threading.Thread(target=self._run, args=(ready,), daemon=True)
        self.thread.start()
        ready.wait(10)

    def _run(self, ready: threading.Event) -> None:
        asyncio.set_event_loop(self.loop)

        async def handler(ws: ServerConnection) -> None:
            for m in CHAT:
                await ws.send(m)
            async for m in ws:
                await ws.send(m)

        async def main() -> None:
            async with serve(handler, "127.0.0.1", 0) as server:
                self.port = next(iter(server.sockets)).getsockname()[1]
                ready.set()
                await asyncio.Future()

        self.loop.run_until_complete(main())


@pytest.fixture(scope="module")
def chat() -> Iterator[ChatServer]:
    yield ChatServer()


async def _receive(proxy: Proxy, port: int, source: str = CHILD) -> list[str | bytes]:
    got: list[str | bytes] = []
    async with connect(
        f"ws://127.0.0.1:{port}/chat",
        proxy=proxy.url,
        local_addr=(source, 0),
        compression="deflate",
        open_timeout=20,
        additional_headers={"Accept-Language": "zh-CN"},
    ) as ws:
        # Compressed end to end: mitmproxy inflates for the hook and deflates again.
        assert ws.response is not None
        assert "permessage-deflate" in ws.response.headers.get("Sec-WebSocket-Extensions", "")
        for _ in CHAT:
            got.append(await asyncio.wait_for(ws.recv(), 20))
        await ws.send("hi")
        got.append(await asyncio.wait_for(ws.recv(), 20))
    return got


def _events(proxy: Proxy, n: int) -> list[tuple[str, str | None]]:
    """The chat's events (the shared proxy's log holds other tests' too), once there are
    ``n`` of them (the log writes in batches)."""
    deadline = time.monotonic() + 10
    rows: list[tuple[str, str | None]] = []
    while time.monotonic() < deadline:
        with sqlite3.connect(proxy.events_db) as db:
            rows = db.execute(
                "SELECT action, detail FROM events WHERE path = '/chat' ORDER BY ts"
            ).fetchall()
        if len(rows) >= n:
            break
        time.sleep(0.2)
    return rows


def test_chat_messages_are_scanned(proxy: Proxy, chat: ChatServer) -> None:
    got = asyncio.run(_receive(proxy, chat.port))
    clean, masked, escaped, blocked, pii, binary, bye, echo = got
    assert clean == CHAT[0]  # byte for byte
    assert bye == CHAT[6] and echo == "hi"
    assert isinstance(masked, str) and MASK_TERM not in masked and "小红：快来" in masked
    assert "*" in masked
    # JSON: the escaped word is masked, the message stays JSON.
    assert isinstance(escaped, str) and json.loads(escaped)["from"] == "x"
    assert MASK_TERM not in json.loads(escaped)["text"]
    assert isinstance(blocked, str) and "清朗" in blocked and "casino" not in blocked
    assert isinstance(pii, str) and "11010519491231002X" not in pii and "住址在这里" in pii
    assert binary == CHAT[5]  # binary messages pass untouched
    rows = _events(proxy, 4)
    assert sorted(a for a, _ in rows) == ["block", "mask", "mask", "mask"], rows
    assert all(detail == "websocket message" for _, detail in rows), rows
    # An event says what was decided, never the message.
    for _, detail in rows:
        assert MASK_TERM not in (detail or "") and "11010519491231002X" not in (detail or "")


def test_an_unfiltered_profile_gets_every_message_as_sent(proxy: Proxy, chat: ChatServer) -> None:
    got = asyncio.run(_receive(proxy, chat.port, ADULT))
    assert got == [*CHAT, "hi"]
