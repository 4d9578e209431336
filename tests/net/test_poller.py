"""The socket server's poller (node/net/server.py `_Poller`), both kinds: epoll, and the
selectors one a system without epoll gets. A round reads its raw (descriptor, bits)
list and takes the usual event, bytes to read and nothing else, by comparing the bits
with `readable`; every other event goes through `mask`."""

from __future__ import annotations

import select
import socket

import pytest

from skykernel.node.net.server import READ, WRITE, _Poller

KINDS = [pytest.param(True, id="epoll"), pytest.param(False, id="selectors")]


@pytest.fixture(params=KINDS)
def poller(request: pytest.FixtureRequest):
    if request.param and not hasattr(select, "epoll"):
        pytest.skip("this system has no epoll")
    p = _Poller(use_epoll=request.param)
    yield p
    p.close()


def ready(poller: _Poller, timeout: float = 1.0) -> dict[object, int]:
    """What is ready, as the round sees it: registered object -> READ|WRITE."""
    return {poller.objects[fd]: poller.mask(bits) for fd, bits in poller.poll(timeout)}


def test_bytes_to_read_are_the_usual_event(poller: _Poller) -> None:
    a, b = socket.socketpair()
    with a, b:
        poller.register(a.fileno(), READ, "a")
        assert poller.poll(0.0) == []
        b.send(b"x")
        events = poller.poll(1.0)
        assert events == [(a.fileno(), poller.readable)]
        assert poller.mask(poller.readable) == READ


def test_writes_modify_and_unregister(poller: _Poller) -> None:
    a, b = socket.socketpair()
    with a, b:
        poller.register(a.fileno(), WRITE, "a")
        assert ready(poller) == {"a": WRITE}
        b.send(b"x")
        poller.modify(a.fileno(), READ | WRITE)
        assert ready(poller) == {"a": READ | WRITE}
        poller.unregister(a.fileno())
        assert a.fileno() not in poller.objects
        assert poller.poll(0.0) == []
        poller.unregister(a.fileno())  # twice: nothing to do, no error


def test_a_closed_peer_is_not_the_usual_event(poller: _Poller) -> None:
    a, b = socket.socketpair()
    with a:
        poller.register(a.fileno(), READ, "a")
        b.close()
        (fd, bits), = poller.poll(1.0)
        assert fd == a.fileno()
        if poller._epoll is not None:
            # epoll adds its hangup bit: the round takes the slow way, where the mask
            # reads it as both, so the next read or write finds out what happened
            assert bits != poller.readable
            assert poller.mask(bits) == READ | WRITE
        else:
            assert poller.mask(bits) == READ  # selectors report EOF as readable
