"""Message queues, the run queue and the worker threads (skynet_mq + skynet_start).

Each service has a queue of flat frames (source, ptype, session, msg); the run queue
holds the services that have messages. N worker threads take a service off the run
queue, deliver a batch of its messages in one Python->Lua crossing, and route what it
sent. lupa releases the GIL while Lua runs, so services on different workers run in
parallel, and a service that loops occupies one worker, never the node.

A service is on at most one worker at a time (`scheduled` stays set while it runs, as
skynet's `in_global` flag does), so its messages are handled in order and its Lua state
is never entered by two threads. One lock guards every queue, the run queue, the
timers and the handles' liveness; Lua never runs under it.

Python never looks inside a message.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from .proto import PTYPE_ERROR, PTYPE_RESPONSE
from .service import LuaService, Service

if TYPE_CHECKING:
    from .node import Node

#: Messages per crossing. Bigger batches amortise the crossing; smaller ones keep
#: services taking turns fairly.
BATCH = 256

#: How often a busy worker looks at the sockets between deliveries (seconds), when no
#: idle worker waits in the poll.
POLL_EVERY = 0.001

#: How long an idle worker keeps looking at the sockets without sleeping (seconds), when
#: the last wait was that short: a reply that comes within it then costs no sleep and no
#: wake-up, which on this machine kind cost more than the work of a round trip.
SPIN = 0.0002

#: skynet's MQ_OVERLOAD (1024 messages left after one is taken), kept as the queue length
#: in frame values (4 per message) above which a service's queue is reported.
OVERLOAD = (1024 + 1) * 4


class Worker:
    """What the monitor sees of one worker thread: the service it runs, since when (on
    the monotonic clock), and the batch it delivers."""

    __slots__ = ("index", "service", "since", "batch", "thread")

    def __init__(self, index: int) -> None:
        self.index = index
        self.service: Service | None = None
        self.since = 0.0
        self.batch: Any = ()
        self.thread: threading.Thread | None = None


class Scheduler:
    def __init__(self, node: Node, threads: int) -> None:
        self.node = node
        self.services = node.handles.services
        self.timer = node.timer
        self.lock = threading.Lock()
        self._work = threading.Condition(self.lock)
        self.runq: deque[Service] = deque()
        self.workers = [Worker(i) for i in range(max(1, threads))]
        self.epoch = 0
        self._sleeping = 0  # workers waiting for work on the condition
        #: The node's sockets are polled by the workers themselves (leader/followers):
        #: one idle worker at a time waits in the socket server's poll instead of on the
        #: condition, so a reply that arrives is read, and its owner run, by the thread
        #: that was waiting anyway, with no hand-off to another thread. `_polling` is the
        #: role (taken under the lock); `_poller_idle` says an idle worker holds it, to be
        #: woken through the socket server's pipe rather than the condition.
        self._polling = False
        self._poller_idle = False
        #: The last idle wait in the poll ended within SPIN: the next one spins first.
        self._spin = False
        #: When a busy worker polls between two deliveries (inf: no sockets yet). A
        #: socket request sets it to 0, so the requester's next pass runs it at once.
        self.poll_at = float("inf")
        self._busy = 0  # workers delivering a batch
        self._stopping = False
        #: Called under the lock when nothing is queued and no worker is busy.
        self.on_idle: Callable[[], None] | None = None

    # --- starting and stopping ---------------------------------------------------------

    def start(self) -> None:
        for w in self.workers:
            w.thread = threading.Thread(target=self._work_loop, args=(w,), daemon=True,
                                        name=f"skykernel-worker-{w.index}")
            w.thread.start()

    def stop(self, timeout: float) -> list[Worker]:
        """Ask the workers to finish; returns those still running a service after
        `timeout` (a runaway the interrupt could not end)."""
        with self.lock:
            self._stopping = True
            self._work.notify_all()
            if self._poller_idle:
                self.node.net.poke()
        deadline = time.monotonic() + timeout
        for w in self.workers:
            if w.thread is not None:
                w.thread.join(max(0.0, deadline - time.monotonic()))
        return [w for w in self.workers if w.thread is not None and w.thread.is_alive()]

    @property
    def idle(self) -> bool:
        """Nothing queued and nothing running (read under the lock for a firm answer)."""
        return not self.runq and self._busy == 0

    def running(self) -> list[Service]:
        return [s for w in self.workers if (s := w.service) is not None]

    # --- routing (callers hold the lock) -----------------------------------------------

    def enqueue(self, source: int, dest: int, ptype: int, session: int, msg: bytes) -> bool:
        svc = self.services.get(dest)
        if svc is None or svc.dead:
            self._undeliverable(source, dest, ptype, session)
            return False
        svc.queue += (source, ptype, session, msg)
        if not svc.scheduled:
            svc.scheduled = True
            self.runq.append(svc)
        return True

    def retire(self, svc: Service) -> None:
        """The service is gone: mark it dead, retire its handle and names, and fail the
        requests still queued for it, as skynet's dropped messages do. The epoch moves, so
        every state forgets which handles it had seen alive at its next delivery."""
        svc.dead = True
        self.epoch += 1
        self.node.handles.retire(svc.handle)
        q = svc.queue
        for i in range(svc.qhead, len(q), 4):
            source, ptype, session = q[i], q[i + 1], q[i + 2]
            if source and ptype != PTYPE_RESPONSE and ptype != PTYPE_ERROR:
                self.enqueue(svc.handle, source, PTYPE_ERROR, session, b"")
        svc.queue, svc.qhead = [], 0
        self.wake()

    def route(self, source: int, frames: Any, start: int) -> None:
        """Move a state's outbox into the destinations' queues (dest 0: a timer; below
        0: a redirect, whose source rides above the 8 bits of its type)."""
        services = self.services
        runq = self.runq
        now = None  # one instant for every timeout in this outbox
        for i in range(start, len(frames), 4):
            dest = frames[i]
            if dest <= 0:
                if dest < 0:
                    p = frames[i + 1]
                    self.enqueue(p >> 8, -dest, p & 0xFF, frames[i + 2], frames[i + 3])
                    continue
                ticks = frames[i + 1]
                if ticks <= 0:
                    self.enqueue(0, source, PTYPE_RESPONSE, frames[i + 2], b"")
                else:
                    if now is None:
                        now = self.timer.now()
                    if self.timer.add(ticks, source, frames[i + 2], now):
                        self._rouse()  # an idle worker waits for a later deadline
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
            self.enqueue(dest, source, PTYPE_ERROR, session, b"")

    def fire_timers(self) -> None:
        for handle, session in self.timer.expired():
            self.enqueue(0, handle, PTYPE_RESPONSE, session, b"")

    def wake(self, keep: int = 0) -> None:
        """Wake an idle worker if the run queue holds more than `keep` services (the ones
        the calling worker will take itself), as skynet's workers take whatever is
        queued."""
        if len(self.runq) > keep:
            self._rouse()

    def _rouse(self) -> None:
        """Wake one idle worker: one sleeping on the condition, else the one polling
        (which then leaves the poll to the next worker that idles)."""
        if self._sleeping:
            self._work.notify()
        elif self._poller_idle:
            self.node.net.poke()

    # --- from other threads ------------------------------------------------------------

    def push(self, source: int, dest: int, ptype: int, session: int, msg: bytes) -> bool:
        with self.lock:
            ok = self.enqueue(source, dest, ptype, session, msg)
            self.wake()
        return ok

    def route_from(self, source: int, frames: Any, start: int = 0) -> None:
        """Route an outbox while its service is mid-delivery (a burst of sends) or from
        outside a worker: the current worker is busy, so any queued service needs one."""
        with self.lock:
            self.route(source, frames, start)
            self.wake()

    def schedule(self, svc: Service, *, wake: bool = True) -> None:
        """Put a service that has messages (or was just created) on the run queue.

        wake=False leaves it to the calling worker, whose delivery is about to end: a
        service launched from Lua (the launcher's LAUNCH) is built by the worker that
        ran the launch, rather than by a sleeping one woken for it, which costs a hand-off
        between threads and a fight for the GIL (a sixth of a newservice). If that
        delivery runs on instead, the monitor's next round (nudge) wakes a worker."""
        with self.lock:
            if not svc.scheduled and not svc.dead:
                svc.scheduled = True
                self.runq.append(svc)
            if wake:
                self.wake()

    def nudge(self) -> None:
        """The monitor's round (every 0.2 s): a service left queued while a worker
        sleeps gets one."""
        with self.lock:
            self.wake()

    def hold(self, svc: Service) -> None:
        """Keep workers off `svc` until as many release() calls. A batch it is running is
        not cut short: the caller waits until `svc.running` is None."""
        with self.lock:
            svc.holding += 1

    def release(self, svc: Service) -> None:
        with self.lock:
            svc.holding = max(0, svc.holding - 1)
            if svc.holding:
                return
            if svc.qhead < len(svc.queue) and not svc.dead and not svc.scheduled:
                svc.scheduled = True
                self.runq.append(svc)
            self.wake()

    # --- the worker loop ---------------------------------------------------------------

    def _wait_for_work(self) -> bool:
        """Nothing runnable (the lock is held): fire due timers, or sleep until work or
        the next timer; False when the node stops."""
        timer = self.timer
        while not self._stopping:
            if timer.due():
                self.fire_timers()
                if self.runq:
                    return True
            if self._busy == 0 and self.on_idle is not None:
                self.on_idle()
            net = self.node.net
            timeout = timer.seconds_to_next()
            if net is not None and not self._polling:
                self._poll(net, timeout, idle=True, keep=1)
                if self.runq:
                    return True
                continue
            self._sleeping += 1
            self._work.wait(timeout)
            self._sleeping -= 1
            if self.runq:
                return True
        return False

    def _poll(self, net: Any, timeout: float | None, *, idle: bool = False,
              keep: int = 0) -> None:
        """One round of the socket server on this thread, holding the poll role (the
        lock is held on entry and exit, not during the round). An idle worker waits in
        it up to `timeout`; a busy one (idle=False) only reads what is ready. `keep`:
        services the calling worker will take itself, so no other is woken for them."""
        self._polling = True
        self._poller_idle = idle
        spin = idle and self._spin and self._busy == 0  # no worker to fight for the GIL
        self.lock.release()
        try:
            if not idle:
                net.round(0.0, keep)
            elif not (spin and self._spun(net, keep)):
                start = time.monotonic()
                net.round(timeout, keep)
                self._spin = time.monotonic() - start < SPIN
        finally:
            self.lock.acquire()
            self._polling = False
            self._poller_idle = False
            self.poll_at = 0.0 if net.pending else net.polled_at + POLL_EVERY

    def _spun(self, net: Any, keep: int) -> bool:
        """Rounds that do not wait, for up to SPIN: True if work came (the lock is not
        held; the run queue is only peeked at). A spin that finds nothing is not tried
        again until a wait is short again, so an idle node does not burn a core."""
        # The clock is read only once a round has found nothing: usually the first
        # finds what the last delivery sent.
        end = 0.0
        while not self._stopping:
            net.round(0.0, keep)
            if self.runq:
                return True
            if not end:
                end = time.monotonic() + SPIN
            elif time.monotonic() > end:
                break
        self._spin = False
        return False

    def net_started(self) -> None:
        """The node's socket server exists: a sleeping worker becomes its poller."""
        with self.lock:
            self.poll_at = 0.0
            if self._sleeping:
                self._work.notify()

    def end_polls(self) -> None:
        """The socket server stops: a round in progress (the monitor's) ends first, and
        no other begins."""
        deadline = time.monotonic() + 5.0
        with self.lock:
            while self._polling and time.monotonic() < deadline:
                self.lock.release()
                time.sleep(0.005)
                self.lock.acquire()
            self._polling = True
            self.poll_at = float("inf")

    def poll_now(self) -> None:
        """A socket request is waiting: the next pass of any worker polls (lock-free:
        a request can be made with the lock held)."""
        self.poll_at = 0.0
        if self._poller_idle:
            self.node.net.poke()

    def poll_stalled(self, age: float) -> None:
        """The monitor's round: when every worker has been busy for `age` seconds, read
        the sockets from the monitor's thread, so that data and requests do not wait for
        a long delivery to end (their messages still wait for a worker)."""
        net = self.node.net
        if net is None or net.polled_at > time.monotonic() - age:
            return
        with self.lock:
            if self._polling or self._stopping:
                return
            self._poll(net, 0.0)

    def _work_loop(self, worker: Worker) -> None:
        """Take a service, deliver a batch, route what it sent, again.

        This is the node's hot path (one pass per batch, so per message when services
        call each other one by one): it is written flat, and whatever is rare (booting,
        a stop, a kill) is kept off it. Two things make a pass cheaper than its steps:
        - one clock reading per pass, taken when the delivery ends: it is the service's
          CPU time, the next pass's start and the timers' check;
        - a chain: when a delivery sends one message to a service that is idle with an
          empty queue, and no other service waits, this worker delivers it next as is,
          without a trip through the queue and the run queue (skynet's worker would take
          that service next as well, as the only one queued)."""
        lock = self.lock
        runq = self.runq
        timer = self.timer
        clock = time.monotonic
        route = self.route
        services = self.services
        batch_values = BATCH * 4
        chain: Service | None = None
        batch: Any = ()
        lock.acquire()
        now = clock()
        try:
            while True:
                if self._stopping:  # services that keep messaging each other never idle
                    return
                if timer.next_at <= now:
                    self.fire_timers()
                if self.poll_at <= now and not self._polling:
                    self._poll(self.node.net, 0.0, keep=1)
                if chain is not None:
                    svc, chain = chain, None  # batch is the message it was sent
                else:
                    if not runq:
                        if not self._wait_for_work():
                            return
                        now = clock()
                    svc = runq.popleft()
                    if svc.dead:
                        continue
                    if svc.holding:
                        svc.scheduled = False  # release() puts it back
                        continue
                    if not svc.booted:
                        booted = self._boot(worker, svc)
                        now = clock()
                        if not booted:
                            continue
                    q = svc.queue
                    head = svc.qhead
                    end = head + batch_values
                    if len(q) - head > svc.overload_at:
                        self._overload(svc, (len(q) - head) >> 2)
                    if end >= len(q):
                        batch = q[head:] if head else q
                        svc.queue = []
                        svc.qhead = 0
                        svc.overload_at = OVERLOAD
                    else:
                        batch = q[head:end]
                        svc.qhead = end
                    if not batch:
                        svc.scheduled = False
                        continue
                svc.messages += len(batch) >> 2
                svc.running = worker
                svc.run_gen += 1
                self._busy += 1
                epoch = self.epoch
                lock.release()
                start = now
                worker.batch = batch
                worker.since = start
                worker.service = svc
                try:
                    out = svc.deliver(epoch, *batch)
                except Exception as e:  # the state failed outside any handler: keep the node
                    out = self._salvage(svc, e)
                worker.service = None
                now = clock()
                svc.cpu += now - start
                if svc.attention:
                    svc.after_run()
                lock.acquire()
                self._busy -= 1
                svc.running = None
                if out:
                    dest = services.get(out[1]) if len(out) == 5 else None
                    if dest is not None and not dest.dead:  # one message: the usual hop
                        frame = (svc.handle, out[2], out[3], out[4])
                        if (not dest.scheduled and not runq and not dest.queue
                                and dest.booted and not dest.holding and not svc.dead):
                            dest.scheduled = True
                            chain = dest
                            sent = frame
                        else:
                            dest.queue += frame
                            if not dest.scheduled:
                                dest.scheduled = True
                                runq.append(dest)
                    else:
                        route(svc.handle, out, 1)
                if svc.dead:
                    if svc.killed_running:
                        self._fail_unanswered(svc, batch, out)
                    svc.scheduled = False
                    self._reap(svc)
                elif svc.qhead < len(svc.queue) and not svc.holding:
                    runq.append(svc)
                else:
                    svc.scheduled = False
                if chain is not None:
                    batch = sent
                    if runq:  # this worker runs the chain: the queue is another's
                        self._rouse()
                # this worker takes the next service itself: wake another only for a second
                elif len(runq) > 1:
                    self.wake(1)
        finally:
            lock.release()

    def _boot(self, worker: Worker, svc: LuaService) -> bool:
        """Build a new service's state on this worker (the lock is held on entry/exit);
        True if its first messages (skynet.start's) are to be delivered at once.

        Delivering them at once, rather than after every other queued boot, finishes
        one service before the next state is built: its caller is waiting for its
        LAUNCHOK."""
        svc.running = worker
        worker.service = svc
        worker.since = time.monotonic()
        self._busy += 1
        self.lock.release()
        try:
            self.node.boot_service(svc)
        finally:
            worker.service = None
            svc.after_run()
            self.lock.acquire()
            self._busy -= 1
            svc.running = None
        if svc.dead:
            svc.scheduled = False
            self._reap(svc)
            return False
        if svc.holding or svc.qhead >= len(svc.queue):
            svc.scheduled = False
            return False
        return True

    def _overload(self, svc: Service, queued: int) -> None:
        """skynet's warning for a queue that keeps growing: when what is left after taking
        a message passes the threshold (1024 messages), the threshold doubles until it is
        above it and the length is logged; it is back to 1024 once the queue is empty."""
        left = queued - 1
        threshold = (svc.overload_at >> 2) - 1
        while left > threshold:
            threshold *= 2
        svc.overload_at = (threshold + 1) * 4
        text = f"May overload, message queue length = {left}"
        if self.node.config.lua == "5.5":
            text = "error: " + text  # skynet master (Lua 5.5) logs it as an error
        self.node.logger.write(svc.handle, text)

    def _salvage(self, svc: Service, error: BaseException) -> Any:
        """A delivery raised (a killed service raises at every instruction until it gives
        up; a broken state may too): what it sent before that still goes out."""
        if not svc.dead:
            self.node.service_crashed(svc, error)
        svc.after_run()  # disarmed first: a killed state raises at every instruction
        try:
            return svc.salvage()
        except Exception:  # noqa: BLE001 - a state too broken to hand over its outbox
            return 0

    def _fail_unanswered(self, svc: Service, batch: Any, out: Any) -> None:
        """A service killed while it ran: requests of its batch it did not answer fail,
        as a dead service's queued requests do (the lock is held)."""
        answered = set()
        if out:
            for i in range(1, len(out), 4):
                if out[i + 1] == PTYPE_RESPONSE or out[i + 1] == PTYPE_ERROR:
                    answered.add((out[i], out[i + 2]))
        for i in range(0, len(batch), 4):
            source, ptype, session = batch[i], batch[i + 1], batch[i + 2]
            if (session and ptype != PTYPE_RESPONSE and ptype != PTYPE_ERROR
                    and (source, session) not in answered):
                svc.failed.add((source, session))
                self.enqueue(svc.handle, source, PTYPE_ERROR, session, b"")

    def _reap(self, svc: Service) -> None:
        """Close a dead service's state on this worker, without the lock: closing runs
        its finalizers, which are Lua."""
        self.lock.release()
        try:
            self.node.reap(svc)
        finally:
            self.lock.acquire()
