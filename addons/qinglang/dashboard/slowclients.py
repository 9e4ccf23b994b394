"""The dashboard's HTTP protocol with limits uvicorn does not have: a deadline for request
headers, and a cap on the connections one address may hold.

uvicorn 0.55 arms its keep-alive timer only after a response and cancels it on any byte
received, so a client that opens a connection and sends nothing, or its headers a byte at
a time (slowloris), holds the socket for ever; and its ``limit_concurrency`` is one number
for everyone. A child's device must not be able to keep a parent out of the dashboard.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

# Seconds a connection has to send a complete request head, counted from its opening and
# again from the end of each response.
HEADER_TIMEOUT = 10.0
# Connections one address may hold open at once.
MAX_CONNS_PER_CLIENT = 64


def guarded(header_timeout: float, max_conns: int) -> type[H11Protocol]:
    """An ``H11Protocol`` class (for ``uvicorn.Config(http=...)``) with these limits; each
    class keeps its own count of connections per address."""
    open_conns: Counter[str] = Counter()

    class Guarded(H11Protocol):
        _deadline: asyncio.TimerHandle | None = None
        _peer: str | None = None

        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            peer: Any = transport.get_extra_info("peername")
            self._peer = str(peer[0]) if peer else None
            if self._peer is not None:
                if max_conns > 0 and open_conns[self._peer] >= max_conns:
                    self._peer = None  # not counted
                    transport.close()
                    return
                open_conns[self._peer] += 1
            self._arm()

        def connection_lost(self, exc: Exception | None) -> None:
            if self._deadline is not None:
                self._deadline.cancel()
            if self._peer is not None:
                open_conns[self._peer] -= 1
                if open_conns[self._peer] <= 0:
                    del open_conns[self._peer]
                self._peer = None
            super().connection_lost(exc)

        def on_response_complete(self) -> None:
            super().on_response_complete()
            self._arm()

        def _arm(self) -> None:
            if self._deadline is not None:
                self._deadline.cancel()
            if header_timeout > 0:
                self._deadline = self.loop.call_later(header_timeout, self._expire)

        def _expire(self) -> None:
            # Still no complete request head: the client is waiting or trickling bytes.
            if self.conn.their_state is h11.IDLE and not self.transport.is_closing():
                self.transport.close()

    return Guarded
