"""Sign-in attempts per client address: a sliding window in memory.

A dictionary of deques is all this needs (one process, a handful of addresses); a
library would add a dependency for ten lines."""

from __future__ import annotations

import threading
from collections import deque


class SlidingWindow:
    def __init__(self, limit: int = 5, window: float = 300.0) -> None:
        self.limit = limit
        self.window = window
        self._hits: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def _prune(self, key: str, now: float) -> deque[float]:
        q = self._hits.setdefault(key, deque())
        while q and q[0] <= now - self.window:
            q.popleft()
        return q

    def retry_after(self, key: str, now: float) -> int:
        """Seconds until ``key`` may try again (0: now)."""
        with self._lock:
            q = self._prune(key, now)
            if len(q) < self.limit:
                return 0
            return max(1, int(q[0] + self.window - now + 0.999))

    def attempt(self, key: str, now: float) -> int:
        """Count an attempt before it is made: 0 when ``key`` may go ahead (the attempt is
        counted), else the seconds until it may try again. Check and count are one step
        under the lock, so concurrent attempts cannot all pass the check first."""
        with self._lock:
            q = self._prune(key, now)
            if len(q) >= self.limit:
                return max(1, int(q[0] + self.window - now + 0.999))
            q.append(now)
            self._forget_idle()
            return 0

    def hit(self, key: str, now: float) -> None:
        with self._lock:
            self._prune(key, now).append(now)
            self._forget_idle()

    def _forget_idle(self) -> None:
        if len(self._hits) > 10_000:  # many addresses: forget the idle ones
            for k in [k for k, q in self._hits.items() if not q]:
                del self._hits[k]

    def clear(self, key: str) -> None:
        with self._lock:
            self._hits.pop(key, None)
