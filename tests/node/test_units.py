"""The fast tier: the scheduler, handles and timers on their own, with Python services
(no Lua state is built), in well under a second.

Run alone with `pytest tests -m unit`."""

from __future__ import annotations

import threading
import time

import pytest

from skykernel.node.config import default_config
from skykernel.node.handle import HandleRegistry, format_address, parse_address
from skykernel.node.logger import Logger
from skykernel.node.node import Node
from skykernel.node.proto import PTYPE_ERROR, PTYPE_RESPONSE
from skykernel.node.service import PyService
from skykernel.node.timer import Timer

pytestmark = pytest.mark.unit


# --- timers -------------------------------------------------------------------------------


def test_timeouts_come_due_in_deadline_then_creation_order() -> None:
    timer = Timer()
    now = timer.now()
    assert timer.add(5, 1, 10, now) is True  # the earliest
    assert timer.add(9, 1, 11, now) is False
    assert timer.add(5, 2, 12, now) is False  # same deadline, later: after the first
    assert timer.add(0, 3, 13, now) is True
    assert not timer.due() or timer.expired()[0] == (3, 13)
    time.sleep(0.12)
    assert timer.due()
    got = timer.expired()
    assert [s for _, s in got if s != 13] == [10, 12, 11]
    assert len(timer) == 0 and timer.seconds_to_next() is None
    assert timer.next_at == float("inf")


def test_the_next_deadline_is_one_comparison_away() -> None:
    timer = Timer()
    timer.add(100, 1, 1)
    assert timer.next_at > time.monotonic() + 0.9
    assert 0.9 < timer.seconds_to_next() <= 1.02
    timer.add(1, 1, 2)
    assert timer.next_at < time.monotonic() + 0.02


# --- handles and names --------------------------------------------------------------------


def test_handles_are_never_reused_and_names_follow_their_service() -> None:
    reg = HandleRegistry(harbor=0)
    a, b = reg.allocate(), reg.allocate()
    assert (a, b) == (1, 2)
    reg.register(a, "A")
    reg.register(b, "B")
    reg.bind_name(".a", a)
    reg.bind_name("GLOBAL", a)
    with pytest.raises(ValueError, match="already bound"):
        reg.bind_name(".a", b)
    with pytest.raises(ValueError, match="too long"):
        reg.bind_name("X" * 16, b)
    assert reg.resolve(".a") == a and reg.resolve(":00000002") == b and reg.resolve(b) == b
    assert reg.names_of(a) == [".a", "GLOBAL"]
    reg.retire(a)
    assert reg.resolve(".a") is None and reg.resolve(a) is None and reg.names_of(a) == []
    assert reg.allocate() == 3


def test_address_forms() -> None:
    assert parse_address(":0000000b") == 11
    assert parse_address("b") == 11
    assert parse_address(".launcher") == ".launcher"
    assert parse_address("SERVICE") == "SERVICE"
    assert format_address(11) == ":0000000b"


def test_allocation_is_safe_from_many_threads() -> None:
    reg = HandleRegistry()
    got: list[int] = []

    def take() -> None:
        for _ in range(2000):
            got.append(reg.allocate())

    threads = [threading.Thread(target=take) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(got) == list(range(1, 8001))


# --- the scheduler with Python services ---------------------------------------------------


class Recorder:
    """A Python service's messages, in the order it got them."""

    def __init__(self) -> None:
        self.got: list[tuple[int, int, int, bytes]] = []

    def __call__(self, source: int, ptype: int, session: int, msg: bytes) -> None:
        self.got.append((source, ptype, session, msg))


def _node(threads: int = 2) -> tuple[Node, dict[str, PyService], dict[str, Recorder]]:
    node = Node(default_config(), logger=Logger(), threads=threads)
    services, recorders = {}, {}
    for name in ("a", "b", "c"):
        rec = Recorder()
        svc = PyService(node, node.handles.allocate(), name, rec)
        node.handles.register(svc.handle, svc)
        services[name], recorders[name] = svc, rec
    node.scheduler.start()
    return node, services, recorders


def _settle(node: Node, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with node.scheduler.lock:
            if node.scheduler.idle:
                return
        time.sleep(0.001)
    raise AssertionError("the scheduler did not settle")


def test_each_sources_messages_arrive_in_order_across_workers() -> None:
    node, svc, rec = _node(threads=4)
    try:
        sched = node.scheduler
        pushers = []
        for source in (svc["a"], svc["c"]):
            def push(src: int = source.handle) -> None:
                for i in range(3000):
                    sched.push(src, svc["b"].handle, 10, 0, str(i).encode())
            pushers.append(threading.Thread(target=push))
        for t in pushers:
            t.start()
        for t in pushers:
            t.join()
        _settle(node)
        for source in (svc["a"], svc["c"]):
            seen = [int(m) for s, _, _, m in rec["b"].got if s == source.handle]
            assert seen == list(range(3000))
    finally:
        node.scheduler.stop(5)


def test_a_held_service_gets_nothing_until_released() -> None:
    node, svc, rec = _node()
    try:
        sched = node.scheduler
        sched.hold(svc["b"])
        for i in range(5):
            sched.push(svc["a"].handle, svc["b"].handle, 10, 0, bytes([i]))
        _settle(node)
        assert rec["b"].got == [] and svc["b"].mqlen() == 5
        sched.release(svc["b"])
        _settle(node)
        assert [m for *_, m in rec["b"].got] == [bytes([i]) for i in range(5)]
    finally:
        node.scheduler.stop(5)


def test_a_request_to_a_dead_service_is_answered_with_an_error() -> None:
    node, svc, rec = _node()
    try:
        node.exit_service(svc["b"], log=False)
        assert node.scheduler.push(svc["a"].handle, svc["b"].handle, 10, 7, b"x") is False
        _settle(node)
        assert rec["a"].got == [(svc["b"].handle, PTYPE_ERROR, 7, b"")]
    finally:
        node.scheduler.stop(5)


def test_a_timer_frame_comes_back_as_a_response_when_due() -> None:
    node, svc, rec = _node()
    try:
        # a service's outbox frame with destination 0 asks for a timeout: (0, ticks, session)
        node.scheduler.route_from(svc["c"].handle, (0, 2, 41, b"", 0, 0, 42, b""))
        deadline = time.monotonic() + 5
        while len(rec["c"].got) < 2 and time.monotonic() < deadline:
            time.sleep(0.005)
        assert rec["c"].got == [(0, PTYPE_RESPONSE, 42, b""), (0, PTYPE_RESPONSE, 41, b"")]
    finally:
        node.scheduler.stop(5)


def test_a_retired_services_queued_messages_fail_and_the_epoch_moves() -> None:
    node, svc, rec = _node()
    try:
        sched = node.scheduler
        sched.hold(svc["b"])  # its messages stay queued
        for session in (0, 3, 4):  # a send, then two requests
            sched.push(svc["a"].handle, svc["b"].handle, 10, session, b"x")
        epoch = sched.epoch
        node.exit_service(svc["b"], log=False)
        _settle(node)
        assert sched.epoch > epoch and node.handles.resolve(svc["b"].handle) is None
        # as skynet's drop_message: every dropped message, a send too, is reported to its
        # source as an error, in order
        assert rec["a"].got == [(svc["b"].handle, PTYPE_ERROR, session, b"")
                                for session in (0, 3, 4)]
        assert svc["b"].mqlen() == 0
    finally:
        node.scheduler.stop(5)


def test_what_a_node_holds_for_its_parts_is_its_own() -> None:
    from skykernel.node import shared
    from skykernel.reload.patchlog import patchlog

    a = Node(default_config(), logger=Logger(), threads=1)
    b = Node(default_config(), logger=Logger(), threads=1)
    assert patchlog(a) is patchlog(a) and patchlog(a) is not patchlog(b)
    assert shared.of(a) is shared.of(a) is a.shared and shared.of(b) is not a.shared
    assert a.consoles == [] and a.consoles is not b.consoles
