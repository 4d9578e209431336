"""Runaway code (skynet_monitor): notice a message that runs too long, and keep a killed
service that is still running from running on.

skynet's monitor thread checks each worker every 5 s and logs the message that has not
moved on; so does this one. A service killed while it runs is interrupted at once
(node.kill); if its code swallows that error and keeps looping, the monitor interrupts it
again on each round until its worker comes back and closes it. Each round also nudges
the scheduler, so that a service queued while a worker sleeps (a launch left to the
launching worker, whose delivery ran on) never waits longer than a round, and, when every
worker has been busy for a round, reads and writes the node's sockets (which the workers
poll themselves between deliveries).
"""

from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .node import Node
    from .service import Service

#: skynet's monitor checks every 5 s.
ENDLESS_SECONDS = 5.0
#: How often the monitor looks; a killed service that keeps running is hit this often.
TICK = 0.2


class Monitor:
    def __init__(self, node: Node, endless_seconds: float = ENDLESS_SECONDS) -> None:
        self.node = node
        self.endless_seconds = endless_seconds
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._reported: dict[int, float] = {}  # worker index -> start of the run reported
        self._killed: set[Service] = set()
        #: Services that were reported; skynet.endless() asks.
        self.endless: set[int] = set()

    def start(self) -> None:
        self._thread = threading.Thread(target=self._watch, name="skykernel-monitor", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()

    def killed(self, svc: Service) -> None:
        """A killed service still runs: interrupt it each round until it stops."""
        self._killed.add(svc)

    def _watch(self) -> None:
        while not self._stop.wait(TICK):
            self._check_workers()
            self._hit_killed()
            self.node.scheduler.nudge()
            self.node.scheduler.poll_stalled(TICK)

    def _check_workers(self) -> None:
        now = time.monotonic()
        for w in self.node.scheduler.workers:
            svc, since, batch = w.service, w.since, w.batch
            if svc is None or self._reported.get(w.index) == since:
                continue
            if now - since >= self.endless_seconds:
                self._reported[w.index] = since
                self.endless.add(svc.handle)
                source = batch[0] if batch else 0
                self.node.logger.write(
                    0,
                    f"A message from [ :{source:08x} ] to [ :{svc.handle:08x} ] "
                    f"maybe in an endless loop (version = {svc.run_gen})",
                )

    def _hit_killed(self) -> None:
        for svc in list(self._killed):
            if svc.running is None:
                self._killed.discard(svc)
            else:
                svc.interrupt(b"killed")
