"""Message queues and the worker loop (skynet_mq + skynet_start).

Each service has a queue of flat frames (source, ptype, session, msg); the run queue
holds the services that have messages. A state receives a whole batch per Python->Lua
crossing and returns everything it sent as one flat tuple: few crossings is where the
speed comes from. Python never looks inside a message.
"""

from __future__ import annotations

import time
from collections import deque
from typing import TYPE_CHECKING, Any

from .proto import PTYPE_ERROR, PTYPE_RESPONSE
from .service import LuaService, Service

if TYPE_CHECKING:
    from .node import Node

#: Messages per crossing. Bigger batches amortise the crossing; smaller ones keep
#: services taking turns fairly.
BATCH = 256


class Scheduler:
    def __init__(self, node: Node) -> None:
        self.node = node
        self.services = node.handles.services
        self.runq: deque[Service] = deque()
        self.timer = node.timer
        self.epoch = 0
        self.current: Service | None = None
        self.current_since = 0.0
        self.current_source = 0
        self.version = 0

    # --- routing -----------------------------------------------------------------------

    def push(self, source: int, dest: int, ptype: int, session: int, msg: bytes) -> bool:
        svc = self.services.get(dest)
        if svc is None or svc.dead:
            self._undeliverable(source, dest, ptype, session)
            return False
        svc.queue += (source, ptype, session, msg)
        if not svc.scheduled:
            svc.scheduled = True
            self.runq.append(svc)
        return True

    def route(self, source: int, frames: Any, start: int) -> None:
        """Move a state's outbox into the destinations' queues (dest 0: a timer)."""
        services = self.services
        runq = self.runq
        now = None  # one instant for every timeout in this outbox
        for i in range(start, len(frames), 4):
            dest = frames[i]
            if dest == 0:
                ticks = frames[i + 1]
                if ticks <= 0:
                    self.push(0, source, PTYPE_RESPONSE, frames[i + 2], b"")
                else:
                    if now is None:
                        now = self.timer.now()
                    self.timer.add(ticks, source, frames[i + 2], now)
                continue
            svc = services.get(dest)
            if svc is None or svc.dead:
                self._undeliverable(source, dest, frames[i + 1], frames[i + 2])
                continue
            svc.queue += (source, frames[i + 1], frames[i + 2], frames[i + 3])
            if not svc.scheduled:
                svc.scheduled = True
                runq.append(svc)

    def _undeliverable(self, source: int, dest: int, ptype: int, session: int) -> None:
        # A request to a service that died before it was delivered fails like skynet's
        # queued messages of a dead service: the caller gets an error for its session.
        if session and ptype != PTYPE_RESPONSE and ptype != PTYPE_ERROR:
            self.push(dest, source, PTYPE_ERROR, session, b"")

    def fire_timers(self) -> None:
        for handle, session in self.timer.expired():
            self.push(0, handle, PTYPE_RESPONSE, session, b"")

    # --- the worker loop ---------------------------------------------------------------

    def run(self, budget: float = 0.02) -> bool:
        """Deliver batches for about `budget` seconds; True if work remains."""
        runq = self.runq
        node = self.node
        perf = time.perf_counter
        deadline = perf() + budget
        self.fire_timers()
        while runq:
            svc = runq.popleft()
            if svc.dead:
                continue
            if isinstance(svc, LuaService):
                if not svc.booted:
                    node.boot_service(svc)
                    if svc.dead:
                        continue
                if svc.guarded != node.guard:
                    svc.guarded = node.guard
                    svc.core.set_guard(node.guard)
            q = svc.queue
            head = svc.qhead
            if head >= len(q):
                svc.scheduled = False
                continue
            end = head + BATCH * 4
            if end >= len(q):
                batch = q[head:] if head else q
                svc.queue = []
                svc.qhead = 0
            else:
                batch = q[head:end]
                svc.qhead = end
            svc.messages += len(batch) >> 2
            self.version += 1
            self.current = svc
            self.current_source = batch[0]
            start = perf()
            self.current_since = start
            try:
                out = svc.deliver(self.epoch, *batch)
            except Exception as e:  # the state failed outside any handler: keep the node
                out = 0
                node.service_crashed(svc, e)
            finally:
                self.current = None
                svc.cpu += perf() - start
            if out:
                self.route(svc.handle, out, 1)
            if svc.dead:
                node.reap(svc)
            elif svc.qhead < len(svc.queue):
                runq.append(svc)
            else:
                svc.scheduled = False
            if perf() > deadline:
                self.fire_timers()
                return bool(runq)
        self.fire_timers()
        return bool(runq)
