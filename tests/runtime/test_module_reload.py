"""Module reload in a running service: checked first (dry run = the plan), applied with
upvalues joined and every reference re-pointed, refused with a reason when unsafe."""

from __future__ import annotations

import asyncio

import pytest

from skykernel.reload import reload_module
from skykernel.reload.patchlog import UndoError, patchlog

GAME_V1 = """
local M = {}
local count = 0
local rules = { max = 3 }
local Hand = {}
Hand.__index = Hand
function Hand:size() return #self.cards end
local function bump(n) count = count + n return count end
function M.play(n) return "v1", bump(n) end
function M.hand(cards) return setmetatable({ cards = cards }, Hand) end
function M.count() return count end
M.Hand = Hand
M.limit = 10
return M
"""

GAME_V2 = """
local M = {}
local count = 0
local rules = { max = 5 }
local Hand = {}
Hand.__index = Hand
function Hand:size() return #self.cards * 100 end
local function bump(n) count = count + n * 2 return count end
function M.play(n) return "v2", bump(n) end
function M.hand(cards) return setmetatable({ cards = cards }, Hand) end
function M.count() return count end
function M.rules() return rules.max end
M.Hand = Hand
M.limit = 99
return M
"""

SERVICE = """
local skynet = require "skynet"
local game = require "game"
local play = game.play            -- a reference the reload must re-point
local hands = {}
local handlers = { play = game.play }
skynet.start(function()
	skynet.dispatch("lua", function(_, _, cmd, ...)
		if cmd == "play" then skynet.retpack(play(...))
		elseif cmd == "via" then skynet.retpack(handlers.play(...))
		elseif cmd == "hand" then
			hands[#hands + 1] = game.hand({ 1, 2 })
			skynet.retpack(hands[1]:size())
		elseif cmd == "info" then
			skynet.retpack(game.count(), game.limit, game.rules and game.rules())
		elseif cmd == "wait" then
			local f = game.play
			skynet.sleep(...)
			skynet.retpack(f(1))
		end
	end)
end)
"""


async def call(node, h, *args):
    """node.call with Lua strings as Python str."""
    return tuple(v.decode() if isinstance(v, bytes) else v
                 for v in await node.call(h, "lua", *args))


def run(tree, body, files=None):
    tree.write({"lualib/game.lua": GAME_V1, "service/player.lua": SERVICE, **(files or {})})

    async def main():
        node = tree.node('start = ""\nlua_path = "./lualib/?.lua"\n')
        await node.start()
        try:
            h = await node.newservice("player")
            return await body(node, h)
        finally:
            await node.shutdown()
    return asyncio.run(main())


def test_dry_run_returns_the_plan_and_changes_nothing(tree):
    async def body(node, h):
        await call(node, h, "play", 1)
        (r,) = await reload_module(node, h, "game", GAME_V2, dry_run=True)
        assert r.status == "dry-run", r.describe()
        assert r.changed == ["game.Hand.size", "game.play", "game.play^bump"]
        assert r.added == ["game.rules"]
        assert "game.play^bump: count" in r.joined
        assert "game.limit" in r.kept
        assert await call(node, h, "play", 1) == ("v1", 2)
        assert patchlog(node).entries == []
    run(tree, body)


def test_reload_joins_state_keeps_data_and_repoints_references(tree):
    async def body(node, h):
        assert await call(node, h, "play", 1) == ("v1", 1)
        assert await call(node, h, "hand") == (2,)
        (r,) = await reload_module(node, h, "game", GAME_V2)
        assert r.status == "applied", r.describe()
        assert await call(node, h, "play", 1) == ("v2", 3)   # local copy re-pointed
        assert await call(node, h, "via", 1) == ("v2", 5)    # table value re-pointed
        assert await call(node, h, "hand") == (200,)          # old object, new method
        assert await call(node, h, "info") == (5, 10, 5)      # data kept, new fn added
    run(tree, body)


def test_second_reload_of_the_same_file_reads_the_disk_again(tree):
    async def body(node, h):
        tree.write({"lualib/game.lua": GAME_V2})
        (r,) = await reload_module(node, h, "game")
        assert r.status == "applied", r.describe()
        assert await call(node, h, "play", 1) == ("v2", 2)
        tree.write({"lualib/game.lua": GAME_V2.replace('"v2"', '"v3"')})
        (r,) = await reload_module(node, h, "game")
        assert r.changed == ["game.play"], r.describe()
        assert await call(node, h, "play", 1) == ("v3", 4)
    run(tree, body)


def test_suspended_coroutine_locals_are_repointed(tree):
    async def body(node, h):
        waiting = asyncio.ensure_future(call(node, h, "wait", 5))
        await node.wait_idle()
        await reload_module(node, h, "game", GAME_V2)
        assert await waiting == ("v2", 2)
    run(tree, body)


def test_undo_puts_the_old_functions_back(tree):
    async def body(node, h):
        await reload_module(node, h, "game", GAME_V2)
        assert (await call(node, h, "play", 1))[0] == "v2"
        undone = await patchlog(node).undo(node)
        assert undone.kind == "module"
        assert (await call(node, h, "play", 1))[0] == "v1"
        assert await call(node, h, "hand") == (2,)
        assert (await call(node, h, "info"))[2] is None
    run(tree, body)


def refused(tree, source, *, module="game"):
    async def body(node, h):
        (r,) = await reload_module(node, h, module, source)
        assert r.status == "refused"
        assert await call(node, h, "play", 1) == ("v1", 1)  # nothing changed
        return r.refused
    return run(tree, body)


def test_refuses_a_top_level_that_calls_functions(tree):
    reasons = refused(tree, "local skynet = require 'skynet'\nskynet.error('hi')\n" + GAME_V2)
    assert reasons == ['top level has a side effect: calls require("skynet").error']


def test_refuses_a_top_level_that_assigns_globals(tree):
    reasons = refused(tree, "VERSION = 2\n" + GAME_V2)
    assert reasons == ["top level has a side effect: assigns global VERSION"]


def test_refuses_a_new_version_that_raises_during_load(tree):
    (reason,) = refused(tree, "local M = {}\nerror('not today')\nreturn M")
    assert reason.startswith("new version raises during load:") and "not today" in reason


def test_refuses_a_syntax_error(tree):
    (reason,) = refused(tree, "local M = {\nreturn M")
    assert reason.startswith("new version does not compile:")


def test_refuses_a_path_whose_type_changed(tree):
    reasons = refused(tree, GAME_V2.replace("M.limit = 99", "M.limit = {}"))
    assert reasons == ["game.limit changed type from number to table"]


def test_refuses_an_ambiguous_upvalue(tree):
    amb = GAME_V1.replace("return M", """
do local n = 1 function M.a() return n end end
do local n = 2 function M.b() return n end end
return M""")

    async def body(node, h):
        # patching one of the two is fine: it joins its own n
        patched = amb.replace("return n end end\ndo", "return n + 1 end end\ndo")
        (r,) = await reload_module(node, h, "game", patched)
        assert r.status == "applied", r.describe()
        # a new function asking for `n` cannot say which of the two it means
        (r,) = await reload_module(node, h, "game", amb.replace(
            "return M", "local n = 0\nfunction M.c() return n end\nreturn M"))
        assert r.status == "refused"
        assert r.refused == ["ambiguous upvalue n of game.c (2 live variables of that name)"]
    run(tree, body, {"lualib/game.lua": amb})


def test_refuses_a_module_that_is_not_loaded(tree):
    async def body(node, h):
        (r,) = await reload_module(node, h, "nosuch", "return {}")
        assert r.status == "refused" and "not loaded" in r.refused[0]
    run(tree, body)


def test_everywhere_reloads_each_service_that_loaded_it(tree):
    async def body(node, h):
        h2 = await node.newservice("player")
        reports = await reload_module(node, None, "game", GAME_V2)
        assert sorted(r.address for r in reports) == sorted(
            f":{x:08x}" for x in (h, h2))
        assert (await call(node, h2, "play", 1))[0] == "v2"
    run(tree, body)


def test_undo_of_something_not_undoable_says_why(tree):
    async def body(node, h):
        log = patchlog(node)
        log.record("data", ":00000001", "deal", "-", "round 2")
        with pytest.raises(UndoError, match="readers may already have acted"):
            await log.undo(node)
        with pytest.raises(UndoError, match="no patch #7"):
            await log.undo(node, 7)
    run(tree, body)
