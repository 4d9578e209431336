"""A runaway service never freezes the node: the rest keeps running, and it can be stopped.

Whichever way a loop is reached (a timer, a message, a fork, an injected cell), other
services, timers and a debug console keep working while it runs on its worker; the
console's `signal ADDR` breaks the loop with skynet's `signal 0` error and the service
serves the next request.
"""

from __future__ import annotations

import asyncio
import time

import pytest
from conftest import Tree, messages
from test_debug_console import Client, console_port

from skykernel.node.inject import inject
from skykernel.node.node import Node

MAIN = 'local skynet = require "skynet"\n'

LOOPER = """
local skynet = require "skynet"
local CMD = {}
local function spin(how)
    skynet.error("looping from " .. how)
    while true do end
end
function CMD.loop() spin("a message") end
function CMD.fork() skynet.fork(spin, "a fork") end
function CMD.timer() skynet.timeout(1, function() spin("a timer") end) end
function CMD.swallow()
    -- a loop that catches the error it gets and goes on looping
    while true do pcall(function() while true do end end) end
end
function CMD.ping() return "pong" end
skynet.start(function()
    skynet.dispatch("lua", function(session, _, cmd)
        local r = CMD[cmd]()
        if session ~= 0 then skynet.ret(skynet.pack(r)) end
    end)
end)
"""

TICKER = """
local skynet = require "skynet"
local n = 0
skynet.start(function()
    skynet.fork(function()
        while true do
            n = n + 1
            skynet.error("tick " .. n)
            skynet.sleep(5)
        end
    end)
end)
"""


def _run(tree: Tree, body, threads: int = 2) -> Node:
    tree.write({"service/looper.lua": LOOPER, "service/ticker.lua": TICKER})
    node = tree.node(f"start = \"\"\nthread = {threads}\n")

    async def main() -> None:
        await node.start()
        try:
            await asyncio.wait_for(body(node), 60)
        finally:
            await node.shutdown()

    asyncio.run(main())
    return node


async def _until(predicate, timeout: float = 10.0, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.01)


def _ticks(node: Node) -> int:
    return sum(1 for t in messages(node) if t.startswith("tick "))


def _logged(node: Node, text: str) -> bool:
    return any(text in t for t in messages(node))


@pytest.mark.parametrize("how", ["loop", "fork", "timer"])
def test_a_loop_leaves_the_node_running_and_signal_stops_it(tree: Tree, how: str) -> None:
    async def body(node: Node) -> None:
        looper = await node.newservice("looper")
        await node.newservice("ticker")
        await node.newservice("debug_console", 0)
        node.send(looper, "lua", how)
        where = {"loop": "a message", "fork": "a fork", "timer": "a timer"}[how]
        await _until(lambda: _logged(node, f"looping from {where}"), what="the loop")
        # the loop occupies one worker: timers fire, the other service ticks on ...
        before = _ticks(node)
        await _until(lambda: _ticks(node) >= before + 3, what="ticks during the loop")
        # ... and a console answers `list` at once
        client = await Client.connect(console_port(node))
        started = time.monotonic()
        answer = await client.cmd("list")
        assert time.monotonic() - started < 1.0
        assert answer[-1] == "<CMD OK>" and any("snlua looper" in ln for ln in answer)
        assert (await client.cmd(f"signal {looper:x}"))[-1] == "<CMD OK>"
        client.close()
        await _until(lambda: _logged(node, "signal 0") and node.service(looper).running is None,
                     what="the loop to end")
        assert "recv a signal 0" in [ln.text for ln in node.logger.history
                                      if ln.source == looper]
        # the error names the loop's line, the service keeps serving
        assert any("signal 0" in t and "looper.lua" in t for t in messages(node, looper))
        assert await node.call(looper, "lua", "ping") == (b"pong",)

    _run(tree, body)


def test_a_loop_in_an_injected_cell_stops_with_interrupt(tree: Tree) -> None:
    async def body(node: Node) -> None:
        looper = await node.newservice("looper")
        # a cell that shows a value first: showing it borrows the thread's hook and must
        # give the stop hook back
        shown = await inject(node, looper, "return setmetatable({}, {__tostring = "
                             "function() return 'x' end})", session="s")
        assert shown.ok and shown.values == ["x"]
        cell = asyncio.ensure_future(inject(node, looper, "skynet_cell = true\nwhile true do end",
                                            session="s"))
        await _until(lambda: node.service(looper).running is not None, what="the cell to run")
        await asyncio.sleep(0.1)
        assert node.interrupt() == [looper]
        result = await asyncio.wait_for(cell, 10)
        assert not result.ok and "interrupted" in (result.error or "")
        assert await node.call(looper, "lua", "ping") == (b"pong",)

    _run(tree, body)


def test_a_loop_that_swallows_the_error_is_stopped_by_a_kill(tree: Tree) -> None:
    async def body(node: Node) -> None:
        looper = await node.newservice("looper")
        svc = node.service(looper)
        node.send(looper, "lua", "swallow")
        await _until(lambda: svc.running is not None, what="the loop")
        await asyncio.sleep(0.1)
        node.interrupt()  # caught by the loop's own pcall: it goes on
        await asyncio.sleep(0.3)
        assert svc.running is not None
        assert node.kill(looper)
        await _until(lambda: svc.running is None and svc.core is None, what="the kill")
        assert node.handles.resolve(looper) is None

    _run(tree, body)


def test_with_one_thread_a_loop_still_stops(tree: Tree) -> None:
    """thread = 1 keeps the single-worker node; the loop holds it until interrupted."""
    async def body(node: Node) -> None:
        looper = await node.newservice("looper")
        node.send(looper, "lua", "loop")
        await _until(lambda: _logged(node, "looping from a message"), what="the loop")
        assert node.threads == 1
        await asyncio.sleep(0.2)
        assert node.interrupt() == [looper]
        assert await node.call(looper, "lua", "ping") == (b"pong",)

    _run(tree, body, threads=1)


def test_a_service_launched_by_a_long_run_still_starts(tree: Tree) -> None:
    """A launch from Lua is left to the launching worker (no hand-off), but a delivery
    that runs on does not keep the new service waiting: the monitor's round gives it the
    other worker."""
    tree.write({
        "service/main.lua": MAIN + """
require "skynet.manager"
skynet.start(function()
    skynet.launch("snlua", "child")
    local t = os.clock()
    while os.clock() - t < 3 do end -- CPU seconds: at least 1.5 s on two workers
    skynet.error("main done")
    skynet.sleep(1)
    skynet.error("END")
end)
""",
        "service/child.lua": MAIN + 'skynet.start(function() skynet.error("child up") end)\n',
    })
    lines = tree.run(threads=2)
    assert lines.index("child up") < lines.index("main done")


PINGPONG = """
local skynet = require "skynet"
local hits = 0
skynet.start(function()
    skynet.dispatch("lua", function(_, _, peer, n)
        if peer == "count" then return skynet.ret(skynet.pack(hits)) end
        hits = hits + 1
        skynet.send(peer, "lua", skynet.self(), n + 1)
    end)
end)
"""


def test_services_messaging_each_other_forever_never_starve_the_rest(tree: Tree) -> None:
    """Two services that send to each other forever, on one worker: each message goes to
    an idle service, which the worker delivers at once while no other waits; a timer's
    ticks still run, a call still gets through, and shutdown ends the worker."""
    tree.write({"service/pingpong.lua": PINGPONG})

    async def body(node: Node) -> None:
        a = await node.newservice("pingpong")
        b = await node.newservice("pingpong")
        node.send(a, "lua", b, 0)
        await node.newservice("ticker")
        await _until(lambda: _ticks(node) >= 3, what="three ticks")
        (hits,) = await node.call(a, "lua", "count")
        assert hits > 100

    node = _run(tree, body, threads=1)
    assert not any(w.thread.is_alive() for w in node.scheduler.workers if w.thread)


RELAY = """
local skynet = require "skynet"
skynet.start(function()
    skynet.dispatch("lua", function(_, _, peer, text)
        if peer == "log" then skynet.error("got " .. text) return end
        skynet.send(peer, "lua", "log", text)
    end)
end)
"""


def test_a_held_service_is_never_handed_a_message_directly(tree: Tree) -> None:
    """A delivery's one message to an idle service goes straight to it on the same
    worker, but not while that service is held (a reload or a kill reading its state):
    it waits in the queue until released."""
    tree.write({"service/relay.lua": RELAY})

    async def body(node: Node) -> None:
        a = await node.newservice("relay")
        b = await node.newservice("relay")
        held = node.handles.services[b]
        node.scheduler.hold(held)
        node.send(a, "lua", b, "hello")
        await _until(lambda: held.mqlen() == 1, what="the message queued for the held service")
        await node.wait_idle()
        assert not _logged(node, "got hello")
        node.scheduler.release(held)
        await _until(lambda: _logged(node, "got hello"), what="the message after release")

    _run(tree, body)


CRUNCHER = """
local skynet = require "skynet"
local done = 0
skynet.start(function()
    skynet.dispatch("lua", function(session, _, cmd, peers)
        if cmd == "batch" then
            -- one delivery queues all the work of both crunchers: each runs it in one
            -- long delivery
            for _, peer in ipairs(peers) do
                for _ = 1, 100 do skynet.send(peer, "lua", "crunch") end
            end
        elseif cmd == "one by one" then
            -- each cruncher sends itself its next piece: deliveries of 3 ms
            for _, peer in ipairs(peers) do skynet.send(peer, "lua", "crunch", "again") end
        elseif cmd == "crunch" then
            local t = skynet.hpc()
            while skynet.hpc() - t < 3e6 do end -- 3 ms of Lua
            done = done + 1
            if peers == "again" and done < 100 then
                skynet.send(skynet.self(), "lua", "crunch", "again")
            end
        else
            skynet.ret(skynet.pack(done))
        end
    end)
end)
"""


@pytest.mark.parametrize("how", ["batch", "one by one"])
def test_long_deliveries_run_on_two_workers_at_once(tree: Tree, how: str) -> None:
    """Work spreads over the workers: two services that each run milliseconds of Lua
    per message run at the same time on `thread = 2`, whether in one long delivery each
    or in many of 3 ms."""
    tree.write({"service/cruncher.lua": CRUNCHER})

    async def body(node: Node) -> None:
        a = await node.newservice("cruncher")
        b = await node.newservice("cruncher")
        driver = await node.newservice("cruncher")
        node.send(driver, "lua", how, [a, b])
        most = 0
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            most = max(most, len(node.scheduler.running()))
            if most == 2:
                break
            await asyncio.sleep(0.001)
        assert most == 2
        for svc in (a, b):
            await _until(lambda svc=svc: node.service(svc).running is None
                         and node.service(svc).mqlen() == 0, what="the crunching")
            assert await node.call(svc, "lua", "count") == (100,)

    _run(tree, body)
