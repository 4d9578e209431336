"""The node's Python API: what the kernel and tests use to drive services."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable

import pytest
from conftest import Tree, messages

from skykernel.node.node import CallError, Node

COUNTER = """
local skynet = require "skynet"
local n = 0
skynet.start(function()
    skynet.dispatch("lua", function(_, _, cmd, ...)
        if cmd == "add" then n = n + (...) return end
        if cmd == "get" then return skynet.ret(skynet.pack(n, SERVICE_NAME)) end
        if cmd == "boom" then error("kaboom") end
        if cmd == "spin" then while true do end end
        if cmd == "hang" then skynet.sleep(100000) end
        skynet.ret(skynet.pack(cmd, ...))
    end)
end)
"""


def drive(node: Node, body: Callable[[Node], Awaitable[None]], timeout: float = 30) -> None:
    async def main() -> None:
        await node.start()
        try:
            await asyncio.wait_for(body(node), timeout)
        finally:
            await node.shutdown()

    asyncio.run(main())


def test_call_send_newservice_and_services(tree: Tree) -> None:
    tree.write({"service/counter.lua": COUNTER})
    node = tree.node()

    async def body(node: Node) -> None:
        addr = await node.newservice("counter")
        # system services take :01-:07; the Python client got the next handle
        assert addr == node.client_address + 1 == 9
        for i in range(1, 11):
            node.send(addr, "lua", "add", i)
        assert await node.call(addr, "lua", "get") == (55, b"counter")
        assert await node.call(addr, "lua", "echo", 1, 2.5, True, {b"k": b"v"}) == (
            b"echo", 1, 2.5, True, {b"k": b"v"})
        await node.wait_idle()
        infos = {s.name: s for s in node.services()}
        assert infos["counter"].address == ":00000009"
        assert infos["counter"].kind == "snlua"
        assert infos["counter"].messages >= 12
        assert infos["launcher"].names == [".launcher"]
        assert infos["counter"].memory and infos["counter"].memory > 0
        assert "bootstrap" not in infos  # it exited after booting

    drive(node, body)


def test_errors_reach_python_callers(tree: Tree) -> None:
    tree.write({"service/counter.lua": COUNTER})
    node = tree.node()

    async def body(node: Node) -> None:
        addr = await node.newservice("counter")
        with pytest.raises(CallError, match="call failed"):
            await node.call(addr, "lua", "boom")
        assert await node.call(addr, "lua", "ping") == (b"ping",)
        with pytest.raises(CallError, match="no service"):
            await node.call(":000000ff", "lua", "x")
        with pytest.raises(CallError, match="call failed"):
            await node.newservice("nosuch")
        assert any("can't find service nosuch" in t for t in messages(node))

    drive(node, body)


def test_kill_from_python_fails_the_call_in_progress(tree: Tree) -> None:
    tree.write({"service/counter.lua": COUNTER})
    node = tree.node()

    async def body(node: Node) -> None:
        addr = await node.newservice("counter")
        pending = asyncio.ensure_future(node.call(addr, "lua", "hang"))
        await node.wait_idle()
        assert node.kill(addr)
        with pytest.raises(CallError, match="call failed"):
            await pending
        assert not node.kill(addr)
        assert all(s.handle != addr for s in node.services())

    drive(node, body)


def test_interrupt_stops_an_endless_handler_when_guarded(tree: Tree) -> None:
    tree.write({"service/counter.lua": COUNTER})
    node = tree.node()
    node.guard = True

    async def body(node: Node) -> None:
        addr = await node.newservice("counter")
        # The loop thread is stuck in Lua, so only another thread can interrupt. Keep
        # asking until the call fails, in case a slow machine runs the spin late.
        stop = threading.Event()

        def interrupt() -> None:
            if not stop.is_set():
                node.interrupt()
                threading.Timer(0.3, interrupt).start()

        threading.Timer(0.3, interrupt).start()
        try:
            with pytest.raises(CallError, match="call failed"):
                await node.call(addr, "lua", "spin")
        finally:
            stop.set()
        assert await node.call(addr, "lua", "ping") == (b"ping",)
        node.send(addr, "lua", "add", 2)
        assert (await node.call(addr, "lua", "get"))[0] == 2
        assert any("interrupted" in t for t in messages(node, addr))

    drive(node, body)


def test_monitor_reports_a_long_message(tree: Tree) -> None:
    tree.write({"service/slow.lua": """
local skynet = require "skynet"
skynet.start(function()
    skynet.dispatch("lua", function()
        local t0 = os.clock()
        while os.clock() - t0 < 1.5 do end
        skynet.ret(skynet.pack("done"))
    end)
end)
"""})
    node = tree.node(endless_seconds=0.5)

    async def body(node: Node) -> None:
        addr = await node.newservice("slow")
        assert await node.call(addr, "lua", "go") == (b"done",)
        [line] = [t for t in messages(node, 0) if "endless" in t]
        assert f"to [ :{addr:08x} ] maybe in an endless loop" in line

    drive(node, body)


def test_run_until_done_returns_when_user_services_exit(tree: Tree) -> None:
    tree.write({"service/main.lua": """
local skynet = require "skynet"
skynet.start(function()
    skynet.timeout(5, function() skynet.error("late") skynet.exit() end)
end)
"""})
    node = tree.node('start = "main"\n')

    async def body(node: Node) -> None:
        assert await node.run_until_done() == 0
        assert "late" in messages(node)

    drive(node, body)


def test_a_services_memory_is_its_whole_heap_as_lua_counts_it(tree: Tree) -> None:
    # skynet counts the whole state (standard libraries included): so must %services,
    # `signal ADDR 1` and skynet.memlimit, whatever lupa's own count leaves out
    tree.write({"service/heap.lua": """
local skynet = require "skynet"
skynet.start(function()
    skynet.dispatch("lua", function()
        collectgarbage()
        skynet.ret(skynet.pack(collectgarbage("count") * 1024))
    end)
end)
"""})
    node = tree.node()

    async def body(node: Node) -> None:
        addr = await node.newservice("heap")
        (counted,) = await node.call(addr, "lua", "count")
        await node.wait_idle()
        reported = node.service(addr).memory()
        assert reported is not None and abs(reported - counted) < 4096, (reported, counted)

    drive(node, body)
