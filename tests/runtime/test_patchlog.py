"""The patch log: each change is recorded (time, target, source hash, what changed);
undo reverts hotfixes, module reloads and handler swaps, and says why not for the rest."""

from __future__ import annotations

import asyncio

import pytest

from skykernel.node.inject import inject
from skykernel.reload import hotfix, patchlog, reload_module, restart_service
from skykernel.reload._lua import ReloadError
from skykernel.reload.data import update_data
from skykernel.reload.patchlog import UndoError

SNAX = """
local n = 0
function response.get() n = n + 1 return "old", n end
function response.other() return "other" end
"""

CMDSVC = """
local skynet = require "skynet"
local lib = require "lib"
local CMD = {}
function CMD.hello() return "hello" end
skynet.start(function()
	skynet.dispatch("lua", function(_, _, cmd, ...)
		skynet.retpack(CMD[cmd](...))
	end)
end)
"""


def run(tree, body):
    tree.write({"snax/counter.lua": SNAX, "service/cmdsvc.lua": CMDSVC,
                "lualib/lib.lua": "local M = {}\nfunction M.f() return 1 end\nreturn M\n"})

    async def main():
        node = tree.node('start = ""\nsnax = "./snax/?.lua"\nlua_path = "./lualib/?.lua"\n')
        await node.start()
        try:
            return await body(node)
        finally:
            await node.shutdown()
    return asyncio.run(main())


async def snax_service(node, name="counter"):
    h = await node.newservice("snaxd", name)
    await node.call(h, "snax", 1)  # init
    return h


def test_hotfix_is_recorded_and_undone(tree):
    async def body(node):
        h = await snax_service(node)
        changed, result = await hotfix(node, h, "local n\nfunction response.get() "
                                       "n = n + 10 return 'new', n end\n"
                                       "function hotfix(x) return 'hi ' .. x end", "you")
        assert changed == ["response.get"] and result == "hi you"
        assert await node.call(h, "snax", 5) == (b"new", 10)
        (p,) = patchlog(node).entries
        assert (p.kind, p.number, p.what) == ("hotfix", 1, "response.get")
        assert len(p.source_hash) == 12 and p.revertible
        await patchlog(node).undo(node)
        assert await node.call(h, "snax", 5) == (b"old", 11)  # state kept, old code back
        assert "undone" in patchlog(node).table()
    run(tree, body)


def test_a_failing_hotfix_is_not_recorded(tree):
    async def body(node):
        h = await snax_service(node)
        with pytest.raises(ReloadError, match="Patch mismatch response.nosuch"):
            await hotfix(node, h, "function response.get() return 1 end\n"
                                  "function response.nosuch() end")
        assert await node.call(h, "snax", 5) == (b"old", 1)
        assert patchlog(node).entries == []
    run(tree, body)


def test_handler_swap_found_by_diffing_P(tree):
    async def body(node):
        h = await node.newservice("cmdsvc")
        await inject(node, h, "require('skykernel.swaps').snapshot(_U, _P)")
        await inject(node, h, "_P.lua.CMD.hello = function() return 'patched' end")
        r = await inject(node, h, "print(require('skykernel.swaps').diff(_U, _P))")
        assert r.output == "1\t_P.lua.CMD.hello"
        log = patchlog(node)
        log.record("inject", f":{h:08x}", "cell", "-", "swapped _P.lua.CMD.hello",
                   undo=("inject", h, 1))
        assert await node.call(h, "lua", "hello") == (b"patched",)
        await log.undo(node, 1)
        assert await node.call(h, "lua", "hello") == (b"hello",)
    run(tree, body)


def test_runtime_parts_loaded_on_first_use_are_not_swaps_but_new_handlers_are(tree):
    async def body(node):
        h = await node.newservice("cmdsvc")
        swaps = "require('skykernel.swaps')"
        await inject(node, h, f"{swaps}.snapshot(_U, _P)")
        # skynet.getenv loads on first use: a new function in _P.lua.skynet, not a patch
        r = await inject(node, h, "local skynet = _P.lua.skynet\n"
                                  "print(rawget(skynet, 'getenv'), skynet.getenv('x'),"
                                  " type(rawget(_P.lua.skynet, 'getenv')))")
        assert r.output == "nil\tnil\tfunction", r
        assert (await inject(node, h, f"print({swaps}.diff(_U, _P))")).output == ""
        await inject(node, h, f"{swaps}.snapshot(_U, _P)")
        await inject(node, h, "_P.lua.CMD.bye = function() return 'bye' end")
        r = await inject(node, h, f"print({swaps}.diff(_U, _P))")
        assert r.output == "1\t_P.lua.CMD.bye"
    run(tree, body)


def test_undo_n_and_entries_that_cannot_be_undone(tree):
    async def body(node):
        h = await node.newservice("cmdsvc")
        await reload_module(node, h, "lib", "local M = {}\nfunction M.f() return 2 end\nreturn M")
        await restart_service(node, h)
        await update_data(node, h, "deal", "round = 1", "new")
        await update_data(node, h, "deal", "round = 2")
        log = patchlog(node)
        assert [p.kind for p in log.entries] == ["module", "restart", "data", "data"]
        with pytest.raises(UndoError, match="readers may already have acted"):
            await log.undo(node)
        with pytest.raises(UndoError, match="closed the old Lua state"):
            await log.undo(node, 2)
        # the module reload was in the old state, which the restart closed
        with pytest.raises(UndoError, match="no module reload 1"):
            await log.undo(node, 1)
    run(tree, body)


def test_undo_refuses_when_a_later_patch_changed_the_same_thing(tree):
    async def body(node):
        h = await snax_service(node)
        await hotfix(node, h, "function response.get() return 'one' end")
        await hotfix(node, h, "function response.get() return 'two' end")
        with pytest.raises(UndoError, match="changed again after hotfix 1"):
            await patchlog(node).undo(node, 1)
        await patchlog(node).undo(node)      # #2
        await patchlog(node).undo(node)      # then #1
        assert await node.call(h, "snax", 5) == (b"old", 1)
        with pytest.raises(UndoError, match="every patch has been undone"):
            await patchlog(node).undo(node)
    run(tree, body)
