"""Service reload in place: same address and names, queue kept, state carried over, and
a new source that fails to start leaves the old state running."""

from __future__ import annotations

import asyncio

import pytest

from skykernel.node.node import CallError
from skykernel.reload import RestartError, restart_service

COUNTER = """
local skynet = require "skynet"
require "skynet.manager"
local count = 0
local VERSION = {v}
skynet.migrate(function() return {{ count = count }} end)
skynet.start(function()
	skynet.restore(function(state) count = state.count end)
	skynet.dispatch("lua", function(_, _, cmd, n)
		if cmd == "add" then count = count + n
		elseif cmd == "slow" then skynet.sleep(n) end
		skynet.retpack(VERSION, count)
	end)
	skynet.register(".counter")
end)
"""


def run(tree, body):
    async def main():
        node = tree.node()
        await node.start()
        try:
            return await body(node)
        finally:
            await node.shutdown()
    return asyncio.run(main())


def test_reload_keeps_address_name_state_and_queue(tree):
    tree.write({"service/counter.lua": COUNTER.format(v=1)})

    async def body(node):
        h = await node.newservice("counter")
        assert await node.call(".counter", "lua", "add", 5) == (1, 5)
        tree.write({"service/counter.lua": COUNTER.format(v=2)})
        # Workers deliver at once: the test holds the service so that these three are
        # still queued when the reload begins (it holds the service too, then swaps).
        svc = node.service(h)
        node.scheduler.hold(svc)
        for _ in range(3):  # queued before the reload, answered by the new state
            node.send(h, "lua", "add", 1)
        reload = asyncio.ensure_future(restart_service(node, ".counter"))
        await asyncio.sleep(0.05)
        node.scheduler.release(svc)
        info = await reload
        assert info["queued"] == 3 and info["carried"]
        assert await node.call(".counter", "lua", "add", 0) == (2, 8)
        assert node.resolve(".counter") == h
    run(tree, body)


def test_requests_in_flight_fail_or_are_waited_for(tree):
    tree.write({"service/counter.lua": COUNTER.format(v=1)})

    async def body(node):
        h = await node.newservice("counter")
        slow = asyncio.ensure_future(node.call(h, "lua", "slow", 50))
        await node.wait_idle()
        info = await restart_service(node, h)
        assert info["failed"] == 1
        with pytest.raises(CallError):
            await slow
        slow = asyncio.ensure_future(node.call(h, "lua", "slow", 2))
        await node.wait_idle()
        info = await restart_service(node, h, wait=True)
        assert info["failed"] == 0
        assert await slow == (1, 0)
        assert await node.call(h, "lua", "add", 1) == (1, 1)
    run(tree, body)


@pytest.mark.parametrize("broken", [
    "this is not lua",
    "local skynet = require 'skynet'\nskynet.start(function() error('no way') end)",
    "error('raises at load')",
])
def test_new_source_that_fails_to_start_leaves_the_old_state_running(tree, broken):
    tree.write({"service/counter.lua": COUNTER.format(v=1)})

    async def body(node):
        h = await node.newservice("counter")
        await node.call(h, "lua", "add", 7)
        tree.write({"service/counter.lua": broken})
        node.send(h, "lua", "add", 1)
        with pytest.raises(RestartError, match="does not start"):
            await restart_service(node, h)
        assert await node.call(h, "lua", "add", 0) == (1, 8)
        assert node.resolve(".counter") == h
    run(tree, body)


def test_a_service_without_migrate_starts_fresh(tree):
    tree.write({"service/plain.lua": """
local skynet = require "skynet"
local n = 0
skynet.start(function()
	skynet.error("restored", skynet.restore(function() end))
	skynet.dispatch("lua", function() n = n + 1 skynet.retpack(n) end)
end)
"""})

    async def body(node):
        h = await node.newservice("plain")
        assert await node.call(h, "lua") == (1,)
        info = await restart_service(node, h)
        assert not info["carried"]
        assert await node.call(h, "lua") == (1,)
        assert [ln.text for ln in node.logger.history].count("restored false") == 2
    run(tree, body)


def test_a_reloaded_service_keeps_its_memory_limit(tree):
    tree.write({"service/limited.lua": """
local skynet = require "skynet"
require "skynet.manager"
skynet.start(function()
	skynet.dispatch("lua", function(_, _, kb)
		local ok = pcall(function()
			local t = {}
			for i = 1, kb * 64 do t[i] = i end -- about 16 bytes an item
			return t
		end)
		skynet.retpack(ok)
	end)
	skynet.register(".limited")
end)
"""})

    async def body(node):
        h = await node.newservice("limited")
        node.service(h).set_memlimit(2 * 1024 * 1024)  # skynet.memlimit's 2 MB
        assert await node.call(".limited", "lua", 256) == (True,)
        assert await node.call(".limited", "lua", 4096) == (False,)  # 4 MB: refused
        await restart_service(node, ".limited")
        assert node.service(h).memlimit == 2 * 1024 * 1024
        assert await node.call(".limited", "lua", 256) == (True,)
        assert await node.call(".limited", "lua", 4096) == (False,)  # still refused

    run(tree, body)
