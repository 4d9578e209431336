"""inject: skynet's debug RUN (_U, _P, captured print) and the notebook's options."""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest

from skykernel.node.inject import inject
from skykernel.node.node import CallError, Node

SERVICES = Path(__file__).resolve().parents[1] / "services_debug" / "service"
CONFIG = 'start = "idle"\nlua_path = "./service/?.lua"\n'


def run(tree, body: Callable[[Node, int], Awaitable[None]]) -> Node:
    """Boot a node, start one `cmdsvc`, run body(node, its handle), shut down."""
    shutil.copytree(SERVICES, tree.root / "service", dirs_exist_ok=True)
    node = tree.node(CONFIG)

    async def main() -> None:
        await node.start()
        try:
            svc = await node.newservice("cmdsvc")
            await asyncio.wait_for(body(node, svc), 30)
        finally:
            await node.shutdown()

    asyncio.run(main())
    return node


# --- skynet's RUN, unchanged ------------------------------------------------------------


def test_classic_run_replies_ok_and_joined_output(tree) -> None:
    async def body(node: Node, svc: int) -> None:
        ok, out = await node.call(svc, "debug", "RUN", "print('a', 1) print('b')", "x.lua")
        assert (ok, out) == (True, b"a\t1\nb")
        # skynet's print stops at the first nil
        ok, out = await node.call(svc, "debug", "RUN", "print(nil, 1) print(2, nil, 3)", "x.lua")
        assert out == b"\n2"
        # an error appends its message (with the traceback) after the output
        ok, out = await node.call(svc, "debug", "RUN", "print('before') error('boom')", "x.lua")
        assert ok is False and out.startswith(b"before\nx.lua:1: boom")
        # extra arguments reach the chunk as ...
        ok, out = await node.call(svc, "debug", "RUN", "print(...)", None, "p", 2)
        assert out == b"p\t2"

    run(tree, body)


def test_U_holds_skynet_internals_by_their_names(tree) -> None:
    async def body(node: Node, svc: int) -> None:
        r = await inject(node, svc, """
            local keys = {}
            for k, v in pairs(_U) do keys[#keys + 1] = k .. '=' .. type(v) end
            table.sort(keys)
            return table.concat(keys, ' ')
        """)
        keys = dict(kv.split("=") for kv in r.values[0].strip('"').split())
        for name in ("proto", "session_id_coroutine", "session_coroutine_id",
                     "session_coroutine_address", "sleep_session", "wakeup_queue",
                     "error_queue", "fork_queue", "coroutine_pool", "skynet", "coroutine",
                     "_ENV"):
            assert keys.get(name) == "table", name
        r = await inject(node, svc, "return _U.proto.lua.name, _U.proto[10] == _U.proto.lua")
        assert r.values == ['"lua"', "true"]

    run(tree, body)


def test_P_lua_CMD_is_the_live_table_and_a_patch_takes_effect(tree) -> None:
    async def body(node: Node, svc: int) -> None:
        assert await node.call(svc, "lua", "get") == (b"v1", 1)
        r = await inject(node, svc, "return type(_P.lua.CMD), type(_P.lua.CMD.get)")
        assert r.values == ['"table"', '"function"']
        r = await inject(node, svc, "_P.lua.CMD.get = function() return 'v2' end")
        assert r.ok
        assert await node.call(svc, "lua", "get") == (b"v2",)
        # the debug protocol is a protocol too
        r = await inject(node, svc, "return _P.debug ~= nil")
        assert r.values == ["true"]

    run(tree, body)


def test_chunk_globals_stay_in_its_env(tree) -> None:
    async def body(node: Node, svc: int) -> None:
        r = await inject(node, svc, "leaked = 1; return leaked")
        assert r.values == ["1"]
        r = await inject(node, svc, "return leaked, SERVICE_NAME")
        assert r.values == ["nil", '"cmdsvc"']

    run(tree, body)


# --- the notebook's extensions ----------------------------------------------------------


def test_returns_nils_and_rendering(tree) -> None:
    async def body(node: Node, svc: int) -> None:
        r = await inject(node, svc, "print(nil, 1) return 1, 'two', {3, x = {y = true}}, nil")
        assert r.ok and r.output == "nil\t1" and r.error is None
        assert r.values == ["1", '"two"', "{ 3, x = { y = true } }", "nil"]
        r = await inject(node, svc, "return 1", returns=False)
        assert r.values == []
        r = await inject(node, svc, "print(nil, 1)", nils=False)
        assert r.output == ""
        r = await inject(node, svc, "1 + 1", expression=True)
        assert r.values == ["2"]
        r = await inject(node, svc, "local t = {} t.self = t return t, print")
        assert r.values[0].startswith("{ self = <cycle: table: 0x")
        assert r.values[1].startswith("function")
        r = await inject(node, svc, "return {}, setmetatable({}, {__tostring = function() "
                         "return 'custom' end})")
        assert r.values == ["{}", "custom"]

    run(tree, body)


def test_a_session_keeps_its_environment(tree) -> None:
    async def body(node: Node, svc: int) -> None:
        await inject(node, svc, "x = 41", session="nb1")
        assert (await inject(node, svc, "return x + 1", session="nb1")).values == ["42"]
        assert (await inject(node, svc, "return x", session="nb2")).values == ["nil"]
        assert (await inject(node, svc, "return x")).values == ["nil"]
        r = await inject(node, svc, "return x", session="nb1", reset=True)
        assert r.values == ["nil"]

    run(tree, body)


def test_a_chunk_may_call_and_sleep(tree) -> None:
    async def body(node: Node, svc: int) -> None:
        r = await inject(node, svc, """
            local skynet = require 'skynet'
            skynet.sleep(1)
            local list = skynet.call('.launcher', 'lua', 'LIST')
            return list[skynet.address(skynet.self())]
        """)
        assert r.ok, r.error
        assert r.values == ['"snlua cmdsvc"']

    run(tree, body)


def test_args_reach_the_chunk(tree) -> None:
    async def body(node: Node, svc: int) -> None:
        r = await inject(node, svc, "return select('#', ...), ...", args=("a", None, 3))
        assert r.values == ["3", '"a"', "nil", "3"]

    run(tree, body)


# --- bad input --------------------------------------------------------------------------


def test_syntax_error_names_the_line(tree) -> None:
    async def body(node: Node, svc: int) -> None:
        r = await inject(node, svc, "local a = 1\nlocal b = = 2\n", filename="cell[1]")
        assert not r.ok and r.error is not None
        assert r.error.startswith("cell[1]:2:")
        ok, out = await node.call(svc, "debug", "RUN", "x = = 1", "f.lua")
        assert ok is False and out.startswith(b"f.lua:1:")

    run(tree, body)


def test_runtime_error_leaves_the_service_serving(tree) -> None:
    async def body(node: Node, svc: int) -> None:
        r = await inject(node, svc, "print('partial')\nlocal t = nil\nreturn t.x",
                         filename="cell")
        assert not r.ok and r.output == "partial"
        assert r.error is not None and r.error.startswith("cell:3: attempt to index")
        assert "stack traceback" in r.error and "inject.lua" not in r.error
        assert await node.call(svc, "lua", "echo", 5) == (5,)
        assert (await inject(node, svc, "return 1")).values == ["1"]

    run(tree, body)


def test_inject_into_unknown_or_dead_address(tree) -> None:
    async def body(node: Node, svc: int) -> None:
        with pytest.raises(CallError):
            await inject(node, 0x7777, "return 1")
        with pytest.raises(CallError):
            await inject(node, ".nosuch", "return 1")
        node.kill(svc)
        await node.wait_idle()
        with pytest.raises(CallError):
            await inject(node, svc, "return 1")

    run(tree, body)


def test_chunk_that_exits_its_service(tree) -> None:
    async def body(node: Node, svc: int) -> None:
        with pytest.raises(CallError):
            await inject(node, svc, "require('skynet').exit()")
        # the error reaches the caller before the exit completes, on another worker
        await node.wait_idle()
        assert svc not in {s.handle for s in node.services()}

    run(tree, body)


# --- the other debug commands -----------------------------------------------------------


def test_debug_commands_reply_as_skynet(tree) -> None:
    async def body(node: Node, svc: int) -> None:
        (kb,) = await node.call(svc, "debug", "MEM")
        assert isinstance(kb, float) and kb > 0
        (stat,) = await node.call(svc, "debug", "STAT")
        assert set(stat) == {b"task", b"mqlen", b"cpu", b"message"}
        assert await node.call(svc, "debug", "PING") == ()
        assert await node.call(svc, "debug", "SUPPORT", "lua") == (True,)
        assert await node.call(svc, "debug", "SUPPORT", "nope") == (False,)
        (info,) = await node.call(svc, "debug", "INFO", 1, 2)
        assert info == {b"count": 0, b"args": 2}
        (after_gc,) = await node.call(svc, "debug", "GC")
        assert isinstance(after_gc, float)
        assert await node.call(svc, "debug", "TRACELOG", True) == ()  # flag only: proto "lua"

        blocked = asyncio.ensure_future(node.call(svc, "lua", "block", 10000))
        await node.wait_idle()
        (tasks,) = await node.call(svc, "debug", "TASK")
        assert len(tasks) == 1
        [(session, tb)] = (tasks.items() if isinstance(tasks, dict) else enumerate(tasks, 1))
        assert b"stack traceback" in tb
        (uniq,) = await node.call(svc, "debug", "UNIQTASK")
        assert [k.split(b"\t")[0] for k in uniq] == [b"1"]  # skynet's "count\tsessions:[..]"
        (stat2,) = await node.call(svc, "debug", "STAT")
        assert stat2[b"task"] == 1
        # KILLTASK takes the thread name TASK shows; the blocked caller gets an error
        co_name = await node.call(svc, "debug", "RUN",
                                  "for s, co in pairs(_U.session_id_coroutine) do "
                                  "if type(co) == 'thread' then print(tostring(co)) end end",
                                  None)
        assert await node.call(svc, "debug", "KILLTASK", co_name[1]) == ()
        with pytest.raises(CallError):
            await blocked
        assert await node.call(svc, "debug", "KILLTASK", "thread: 0x0") == (b"Not found",)
        # LINK never answers until the service goes away
        link = asyncio.ensure_future(node.call(svc, "debug", "LINK"))
        await node.wait_idle()
        assert not link.done()
        node.send(svc, "debug", "EXIT")
        with pytest.raises(CallError):
            await link

    run(tree, body)
