"""Centisecond timers (skynet_timer) on a real monotonic clock."""

from __future__ import annotations

import heapq
import math
import time


class Timer:
    """Keeps pending timeouts; the scheduler asks which are due.

    skynet ticks every centisecond; here a timeout is a deadline in ticks since the
    node started, so a busy node loses no time and an idle one sleeps until the next.
    """

    def __init__(self) -> None:
        self._origin = time.monotonic()
        self.starttime = int(time.time())
        self._heap: list[tuple[int, int, int, int]] = []
        self._seq = 0
        #: The earliest deadline on the monotonic clock (inf: none), so that a worker
        #: checks for due timers with one comparison after each batch.
        self.next_at = math.inf

    def now(self) -> int:
        """Ticks (centiseconds) since the node started: skynet.now()."""
        return self.ticks(time.monotonic())

    def ticks(self, moment: float) -> int:
        """skynet.now() at `moment` on the monotonic clock (0 stays 0: never)."""
        return int((moment - self._origin) * 100) if moment else 0

    def add(self, ticks: int, handle: int, session: int, now: int | None = None) -> bool:
        """`now` lets every timeout one handler set start from the same tick, so they
        fire in the order of their lengths even when the clock ticks while they are
        registered. True if it is now the earliest timeout."""
        self._seq += 1
        start = self.now() if now is None else now
        entry = (start + max(int(ticks), 0), self._seq, handle, session)
        heapq.heappush(self._heap, entry)
        self._set_next()
        return self._heap[0] is entry  # the earliest now: whoever sleeps must wake sooner

    def _set_next(self) -> None:
        heap = self._heap
        self.next_at = self._origin + heap[0][0] / 100 if heap else math.inf

    def expired(self) -> list[tuple[int, int]]:
        """(handle, session) of every due timeout, in deadline then creation order."""
        heap = self._heap
        if not heap:
            return []
        now = self.now()
        due = []
        while heap and heap[0][0] <= now:
            _, _, handle, session = heapq.heappop(heap)
            due.append((handle, session))
        self._set_next()
        return due

    def due(self) -> bool:
        """Is the earliest timeout due? (Cheap enough to ask after every batch.)"""
        heap = self._heap
        return bool(heap) and heap[0][0] <= int((time.monotonic() - self._origin) * 100)

    def seconds_to_next(self) -> float | None:
        if not self._heap:
            return None
        deadline = self._heap[0][0]
        return max(0.0, (deadline + 1) / 100 - (time.monotonic() - self._origin))

    def __len__(self) -> int:
        return len(self._heap)
