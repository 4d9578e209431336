"""Many services calling and sending to each other across workers, with kills in flight:
no message is lost, none is delivered twice, each pair's order holds, and every call
either gets its own answer or fails with `call failed`."""

from __future__ import annotations

import asyncio

from conftest import Tree

PEER = r"""
local skynet = require "skynet"
local me, seed = ...
me = tonumber(me)
local rand = tonumber(seed)
local function random(n)
    rand = (rand * 1103515245 + 12345) % 2147483648
    return rand % n + 1
end

local peers = {}
local sent, received, last = {}, {}, {}
local bad, calls_ok, calls_failed = 0, 0, 0

local CMD = {}
function CMD.seq(from, n)
    local prev = last[from] or 0
    if n ~= prev + 1 then
        bad = bad + 1
        skynet.error(string.format("peer %d: from %d got %d after %d", me, from, n, prev))
    end
    last[from] = n
    received[from] = (received[from] or 0) + 1
end
function CMD.echo(x) return x end
function CMD.flush() return true end
function CMD.report()
    return { sent = sent, received = received, bad = bad, calls_ok = calls_ok,
             calls_failed = calls_failed }
end
function CMD.go(list, rounds, driver)
    peers = list
    skynet.fork(function()
        for i = 1, rounds do
            local k = random(#peers)
            local target = peers[k]
            local n = (sent[k] or 0) + 1
            if skynet.send(target, "lua", "seq", me, n) then
                sent[k] = n
            end
            if i % 7 == 0 then
                local x = me * 100000 + i
                local ok, got = pcall(skynet.call, target, "lua", "echo", x)
                if ok then
                    assert(got == x, "an answer went to the wrong call")
                    calls_ok = calls_ok + 1
                else
                    calls_failed = calls_failed + 1
                end
            end
            if i % 50 == 0 then skynet.yield() end
        end
        -- every message sent before this call is handled before its answer
        for k = 1, #peers do pcall(skynet.call, peers[k], "lua", "flush") end
        skynet.send(driver, "lua", "done", me)
    end)
end

skynet.start(function()
    skynet.dispatch("lua", function(session, _, cmd, ...)
        local r = CMD[cmd](...)
        if session ~= 0 then skynet.ret(skynet.pack(r)) end
    end)
end)
"""

DRIVER = r"""
local skynet = require "skynet"
local waiting, done_count, total = nil, 0, 0
skynet.start(function()
    skynet.dispatch("lua", function(session, _, cmd, n)
        if cmd == "done" then
            done_count = done_count + 1
            if done_count == total and waiting then skynet.wakeup(waiting) end
        elseif cmd == "expect" then
            total = n
            if done_count < total then
                waiting = coroutine.running()
                skynet.wait(waiting)
            end
            skynet.ret(skynet.pack(done_count))
        end
    end)
end)
"""

PEERS = 16
ROUNDS = 1500
KILLED = (3, 8, 12)


def test_no_message_is_lost_or_doubled_with_kills_in_flight(tree: Tree) -> None:
    tree.write({"service/peer.lua": PEER, "service/driver.lua": DRIVER})
    node = tree.node('start = ""\nthread = 4\n')

    async def body() -> dict[int, dict]:
        await node.start()
        try:
            driver = await node.newservice("driver")
            peers = [await node.newservice("peer", i + 1, 7919 * (i + 1)) for i in range(PEERS)]
            for h in peers:
                node.send(h, "lua", "go", peers, ROUNDS, driver)
            # kills while the traffic flows
            await asyncio.sleep(0.05)
            for i in KILLED:
                assert node.kill(peers[i])
                await asyncio.sleep(0.02)
            alive = [h for i, h in enumerate(peers) if i not in KILLED]
            (done,) = await asyncio.wait_for(
                node.call(driver, "lua", "expect", len(alive)), 120)
            assert done >= len(alive)
            return {i: (await node.call(h, "lua", "report"))[0]
                    for i, h in enumerate(peers) if i not in KILLED}
        finally:
            await node.shutdown()

    reports = asyncio.run(body())

    def by_peer(value: dict | list) -> dict[int, int]:
        """A Lua table keyed by peer number (packed as an array when it has no holes)."""
        if isinstance(value, list):
            return {k + 1: v for k, v in enumerate(value) if v is not None}
        return {int(k): v for k, v in value.items()}

    lines = [ln.text for ln in node.logger.history]
    assert not [t for t in lines if "got" in t and "after" in t], "order broken"
    for i, rep in reports.items():
        assert rep[b"bad"] == 0
        assert rep[b"calls_ok"] > 0
        received = by_peer(rep[b"received"])
        for j, other in reports.items():
            sent_to_i = by_peer(other[b"sent"]).get(i + 1, 0)
            # both alive to the end: every message the sender counted arrived, once
            assert received.get(j + 1, 0) == sent_to_i, (i, j)
    assert sum(r[b"calls_failed"] for r in reports.values()) > 0  # calls to the killed
