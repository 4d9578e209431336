"""Python stays out of Lua's reach: nothing a service can find exposes a Python attribute.

The walk starts where a service (or a cell injected into it) can start: its globals,
`package.loaded`, the registry, inject's `_U` and `_P`. From every value it follows table
keys and values, metatables, function upvalues, userdata user values and the locals of
suspended coroutines. Every Python object it meets (lupa's POBJECT userdata) must refuse
every attribute, read and write; calling the Python callables with junk arguments yields
error objects, which must refuse them too.
"""

from __future__ import annotations

import asyncio

from conftest import Tree

from skykernel.node.inject import inject
from skykernel.node.node import Node

SERVICE = """
local skynet = require "skynet"
require "skynet.manager"
local CMD = {}
function CMD.ping() return "pong" end
skynet.start(function()
    skynet.dispatch("lua", function(_, _, cmd, ...)
        skynet.ret(skynet.pack(CMD[cmd](...)))
    end)
    -- a coroutine parked in a sleep, so the walk meets a suspended thread's locals
    skynet.fork(function() local parked = skynet.self() skynet.wait() end)
end)
"""

WALK = r"""
local ATTRS = { "__class__", "__self__", "__dict__", "__globals__", "__func__",
    "__closure__", "__code__", "__builtins__", "__traceback__", "__init__", "__module__",
    "__subclasses__", "__getattribute__", "__reduce__", "lua", "node", "args", "handle",
    "with_traceback", "mro", "_command", "__call__", "__doc__" }
local seen, queue, head = {}, {}, 1
local raised = {} -- error objects from junk calls: probed, not called (each call makes one)
local found, leaks, calls = 0, {}, 0

local function push(v)
    local t = type(v)
    if (t == "table" or t == "function" or t == "userdata" or t == "thread") and not seen[v] then
        seen[v] = true
        queue[#queue + 1] = v
    end
end

local function is_python(v)
    local mt = debug.getmetatable(v)
    return type(v) == "userdata" and type(mt) == "table" and rawget(mt, "__name") == "POBJECT"
end

local function probe(obj)
    found = found + 1
    for _, name in ipairs(ATTRS) do
        local ok, got = pcall(function() return obj[name] end)
        if ok then leaks[#leaks + 1] = "read " .. name .. " of " .. tostring(obj) end
        local okset = pcall(function() obj[name] = 1 end)
        if okset then leaks[#leaks + 1] = "wrote " .. name .. " of " .. tostring(obj) end
    end
    if raised[obj] then
        return
    end
    -- calling a callable with junk yields error objects: walk those too
    for _, args in ipairs({ {}, { "NOPE" }, { 1, 2, 3 }, { "QUERY", {} } }) do
        calls = calls + 1
        local ok, err = pcall(obj, table.unpack(args))
        if type(err) == "userdata" then
            raised[err] = true
        end
        push(err)
    end
end

local function walk()
    while head <= #queue do
        local v = queue[head]
        head = head + 1
        local t = type(v)
        push(debug.getmetatable(v))
        if t == "table" then
            for k, x in next, v do push(k) push(x) end
        elseif t == "function" then
            local i = 1
            while true do
                local name, x = debug.getupvalue(v, i)
                if name == nil then break end
                push(x)
                i = i + 1
            end
        elseif t == "userdata" then
            if is_python(v) then probe(v) end
            local i = 1
            while true do
                local x, more = debug.getuservalue(v, i)
                if more == false or more == nil then break end
                push(x)
                i = i + 1
            end
        elseif t == "thread" then
            for level = 0, 64 do
                if not debug.getinfo(v, level, "l") then break end
                local i = 1
                while true do
                    local name, x = debug.getlocal(v, level, i)
                    if name == nil then break end
                    push(x)
                    i = i + 1
                end
            end
        end
    end
end

push(_ENV) push(_G) push(package.loaded) push(debug.getregistry()) push(_U) push(_P)
push(require "skynet.core") push(require "skynet")
walk()
return found, calls, #leaks, table.concat(leaks, "; ", 1, math.min(#leaks, 10))
"""

ROUTE = r"""
local core = require "skynet.core"
local i, bridge = 1, nil
while true do
    local name, v = debug.getupvalue(core.resolve, i)
    if name == nil then break end
    if name == "py_command" then bridge = v end
    i = i + 1
end
assert(bridge, "py_command is an upvalue of resolve")
local ok, err = pcall(function() return bridge.__self__.lua.__class__() end)
return ok, tostring(err)
"""


def _run(tree: Tree, body) -> Node:
    tree.write({"service/target.lua": SERVICE})
    node = tree.node()

    async def main() -> None:
        await node.start()
        try:
            handle = await node.newservice("target")
            await asyncio.wait_for(body(node, handle), 60)
        finally:
            await node.shutdown()

    asyncio.run(main())
    return node


def test_nothing_a_service_reaches_exposes_python(tree: Tree) -> None:
    async def body(node: Node, handle: int) -> None:
        result = await inject(node, handle, WALK)
        assert result.ok, result.error
        found, calls, leaks, where = (int(result.values[0]), int(result.values[1]),
                                      int(result.values[2]), result.values[3])
        # the bridge callables at least (commands, liveness, the interrupt check) and the
        # errors they raise were met, so the walk did reach Python objects
        assert found >= 3 and calls >= 12
        assert leaks == 0, where
        # the service still works: the junk calls broke nothing
        assert await node.call(handle, "lua", "ping") == (b"pong",)

    _run(tree, body)


def test_the_route_from_the_bridge_to_a_new_runtime_is_closed(tree: Tree) -> None:
    async def body(node: Node, handle: int) -> None:
        result = await inject(node, handle, ROUTE)
        assert result.ok, result.error
        assert result.values[0] == "false"
        assert "not reachable from Lua" in result.values[1]

    _run(tree, body)


def test_lua_keeps_its_own_os_and_io(tree: Tree) -> None:
    async def body(node: Node, handle: int) -> None:
        result = await inject(
            node, handle, "return type(os.time()), io.type(io.stdout), os.getenv('HOME') ~= nil")
        assert result.ok, result.error
        assert result.values == ['"number"', '"file"', "true"]

    _run(tree, body)
