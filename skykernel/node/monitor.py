"""Runaway code (skynet_monitor): notice endless loops, and interrupt when asked.

skynet's monitor thread only logs a message that runs too long. We log the same, and
also let the node stop the running message: a count hook (armed only while the node's
guard is on, because any armed hook slows Lua a lot) asks `should_interrupt` and raises a
Lua error in that service alone.
"""

from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .node import Node

#: skynet's monitor checks every 5 s.
ENDLESS_SECONDS = 5.0


class Monitor:
    def __init__(self, node: Node, endless_seconds: float = ENDLESS_SECONDS) -> None:
        self.node = node
        self.endless_seconds = endless_seconds
        self._interrupt = False
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._reported = -1
        self.endless: set[int] = set()

    def start(self) -> None:
        self._thread = threading.Thread(target=self._watch, name="skykernel-monitor", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()

    def interrupt(self) -> None:
        """Ask the running message (if guarded) to stop with an error; thread-safe."""
        self._interrupt = True

    def clear_interrupt(self) -> None:
        """Forget an interrupt no Lua consumed (it came while nothing was running)."""
        self._interrupt = False

    def should_interrupt(self, service: Any) -> bool:
        try:
            if self._interrupt:
                self._interrupt = False
                return True
            return False
        except KeyboardInterrupt:
            # SIGINT reaches Python while the hook runs: it means "stop this Lua".
            return True

    def _watch(self) -> None:
        sched = self.node.scheduler
        while not self._stop.wait(0.5):
            svc = sched.current
            if svc is None:
                continue
            version = sched.version
            if version == self._reported:
                continue
            if time.perf_counter() - sched.current_since >= self.endless_seconds:
                self._reported = version
                self.endless.add(svc.handle)
                self.node.logger.write(
                    0,
                    f"A message from [ :{sched.current_source:08x} ] to [ :{svc.handle:08x} ] "
                    f"maybe in an endless loop (version = {version})",
                )
