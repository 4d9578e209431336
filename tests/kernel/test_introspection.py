"""The Lua introspection on its own: skykernel.json, skykernel.upvalues and
skykernel.protocols in bare lupa states (the modules inlined into the chunk, as on a node
without skykernel's library) and in a real node; then the views over that data."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from skykernel.node import luastate
from skykernel.node.inject import inject
from skykernel.node.node import Node
from skykernel.views.chain import ProtocolChainView
from skykernel.views.probe import introspection_chunk, lua_literal, node_runner, probe
from skykernel.views.tree import TreeMemory, UpvalueExplorer

SERVICE = """
local skynet = require "skynet"
require "skynet.manager"
local CMD = {}
local count = 0
function CMD.inc(n) count = count + (n or 1) return count end
function CMD.get() return count end
skynet.start(function()
  skynet.dispatch("lua", function(session, source, cmd, ...)
    local f = assert(CMD[cmd], cmd)
    skynet.ret(skynet.pack(f(...)))
  end)
  skynet.register(".counter")
end)
"""


def bare_state() -> Any:
    """A plain state of the suite's Lua whose `print` collects output: no skynet, no
    skykernel."""
    lua = luastate.module().LuaRuntime(register_eval=False)
    lua.execute("OUT = {} function print(s) OUT[#OUT + 1] = s end")
    return lua


def run_bare(lua: Any, setup: str, kind: str, **params: Any) -> dict[str, Any]:
    lua.execute(setup)
    lua.execute(introspection_chunk(kind, inline=True, **params))
    out = lua.eval("OUT[#OUT]")
    return json.loads(out)


# --- json ------------------------------------------------------------------------------


def test_json_encodes_what_python_reads_back() -> None:
    lua = bare_state()
    lua.execute(introspection_chunk("upvalues", inline=True, root="{}"))  # preloads json
    encode = lua.eval("require('skykernel.json').encode")
    value = lua.eval('{1, 2.5, "a\\n\\"q\\"\\1", true, {x = {}, y = 1/0}}')
    assert json.loads(encode(value)) == [1, 2.5, 'a\n"q"\x01', True, {"x": [], "y": None}]
    assert json.loads(encode(lua.eval("{[1] = 1, [3] = 3}"))) == {"1": 1, "3": 3}


def test_lua_literal_round_trips_text_with_any_bytes() -> None:
    lua = bare_state()
    s = 'quote " back \\ nl \n tab \t é \x00'
    assert lua.eval(lua_literal(s)) == s
    assert lua.eval("(" + lua_literal(["a", 1, None, True]) + ")[2]") == 1


# --- upvalues in a bare state -------------------------------------------------------------

SETUP = """
local shared = 0
local t = {name = "t", n = 1}
t.self = t
function inc() shared = shared + 1 return shared end
function get() return shared, t end
big = {}
for i = 1, 250 do big[i] = {i} end
ROOT = {inc = inc, get = get, t = t, big = big}
"""


def test_root_lists_fields_sorted_with_types_and_previews() -> None:
    node = run_bare(bare_state(), SETUP, "upvalues", root="ROOT")
    keys = [c["key"] for c in node["children"]]
    assert keys == ["big", "get", "inc", "t"]
    by_key = {c["key"]: c for c in node["children"]}
    assert by_key["get"]["type"] == "function"
    assert by_key["get"]["expandable"] is True
    assert by_key["get"]["source"].endswith(":6")
    assert by_key["t"]["preview"] == "{3 fields}"
    assert node["total"] == 4 and node["more"] is False


def test_a_function_shows_its_upvalues_and_who_shares_each_cell() -> None:
    node = run_bare(bare_state(), SETUP, "upvalues", root="ROOT", path=["sget"], label="ROOT")
    assert node["type"] == "function" and node["source"].endswith(":6")
    ups = {c["key"]: c for c in node["children"]}
    assert set(ups) == {"shared", "t"}
    assert ups["shared"]["preview"] == "0"
    assert ups["shared"]["shared"] == ["ROOT.inc"]  # inc holds the same cell
    assert "shared" not in ups["t"]


def test_cycles_are_marked_not_followed() -> None:
    node = run_bare(bare_state(), SETUP, "upvalues", root="ROOT", path=["st"])
    self_row = next(c for c in node["children"] if c["key"] == "self")
    assert self_row["cycle"] is True
    assert "expandable" not in self_row
    # through an upvalue too: get -> t -> self is the same t
    deep = run_bare(bare_state(), SETUP, "upvalues", root="ROOT", path=["sget", "u2"])
    assert next(c for c in deep["children"] if c["key"] == "self")["cycle"] is True


def test_children_come_in_pages() -> None:
    lua = bare_state()
    first = run_bare(lua, SETUP, "upvalues", root="ROOT", path=["sbig"])
    assert len(first["children"]) == 200 and first["total"] == 250 and first["more"]
    assert first["children"][0]["key"] == "[1]"
    rest = run_bare(lua, "", "upvalues", root="ROOT", path=["sbig"], offset=200)
    assert [c["key"] for c in rest["children"]][:2] == ["[201]", "[202]"]
    assert len(rest["children"]) == 50 and rest["more"] is False


def test_a_path_that_no_longer_exists_says_so() -> None:
    node = run_bare(bare_state(), SETUP, "upvalues", root="ROOT", path=["smissing", "sx"])
    assert "no such key" in node["error"]


def test_protocols_without_skynet_report_nothing_registered() -> None:
    data = run_bare(bare_state(), "", "protocols")
    assert data == {"protocols": [], "entry": [], "counts": "none"}


# --- in a real node ----------------------------------------------------------------------


def with_counter(tree: Any, body: Any) -> None:
    idle = 'local skynet = require "skynet"\nskynet.start(function() end)\n'
    tree.write({"service/counter.lua": SERVICE, "service/idle.lua": idle})
    node = tree.node('start = "idle"\nlua_path = "./service/?.lua"\n')

    async def main() -> None:
        await node.start()
        try:
            handle = await node.newservice("counter")
            await asyncio.wait_for(body(node, handle), 30)
        finally:
            await node.shutdown()

    asyncio.run(main())


def test_protocol_chain_from_entry_point_to_each_handler(tree: Any) -> None:
    async def body(node: Node, handle: int) -> None:
        await node.call(handle, "lua", "inc", 2)
        run = node_runner(node, handle)
        data = await probe(run, "protocols")
        assert [e["name"] for e in data["entry"]][0] == "skynet.dispatch_message"
        lua = next(p for p in data["protocols"] if p["name"] == "lua")
        assert lua["id"] == 10 and lua["dispatch"]["file"] == "./service/counter.lua"
        assert lua["count"] == 1  # counted per dispatch function
        assert data["counts"] == "command"
        cmd = next(t for t in lua["tables"] if t["name"] == "CMD")
        assert [h["name"] for h in cmd["handlers"]] == ["get", "inc"]
        # and per handler, by the command name each message started with
        assert [h["count"] for h in cmd["handlers"]] == [0, 1]
        assert all("replaced" not in h for h in cmd["handlers"])
        # a patch from a cell: another file, another identity
        r = await inject(node, handle, "_P.lua.CMD.inc = function(n) return -1 end")
        assert r.ok, r.error
        data = await probe(run, "protocols")
        cmd = next(t for t in next(p for p in data["protocols"] if p["name"] == "lua")["tables"]
                   if t["name"] == "CMD")
        inc = next(h for h in cmd["handlers"] if h["name"] == "inc")
        assert inc["replaced"].startswith("changed since first seen (was ./service/counter.lua:")
        assert "replaced" not in next(h for h in cmd["handlers"] if h["name"] == "get")

    with_counter(tree, body)


def test_the_same_chunk_works_with_modules_inlined(tree: Any) -> None:
    async def body(node: Node, handle: int) -> None:
        chunk = introspection_chunk("upvalues", inline=True, root="_P.lua.CMD")
        r = await inject(node, handle, chunk, returns=False)
        assert r.ok, r.error
        assert [c["key"] for c in json.loads(r.output)["children"]] == ["get", "inc"]

    with_counter(tree, body)


def test_explorer_highlights_what_a_patch_changed(tree: Any) -> None:
    async def body(node: Node, handle: int) -> None:
        run = node_runner(node, handle)

        async def fetch(path: tuple[str, ...], offset: int, limit: int) -> dict[str, Any]:
            return await probe(run, "upvalues", path=list(path), offset=offset, limit=limit)

        memory = TreeMemory()
        before = UpvalueExplorer(fetch, memory=memory)
        await before.populate()
        for path in [("s_P",), ("s_P", "slua"), ("s_P", "slua", "sCMD")]:
            await before.toggle(path)
        assert "inc  function  ./service/counter.lua:6" in before.text()
        assert "changed" not in before.text()
        await inject(node, handle, "_P.lua.CMD.inc = function(n) return -1 end")
        after = UpvalueExplorer(fetch, memory=memory)
        await after.populate()  # reopens what the last view had open
        changed = [ln.strip() for ln in after.text().splitlines() if "● changed" in ln]
        assert len(changed) == 1 and changed[0].startswith("inc  function  (load):1")
        assert "sk-changed" in after.html()
        await inject(node, handle, "_P.lua.CMD.get = function() return -2 end")
        await before.refresh()  # the first view, refreshed, sees the next patch
        changed = [ln.strip() for ln in before.text().splitlines() if "● changed" in ln]
        assert len(changed) == 1 and changed[0].startswith("get  function  (load):1")

    with_counter(tree, body)


def test_chain_view_shows_generation_and_replaced_handlers(tree: Any) -> None:
    async def body(node: Node, handle: int) -> None:
        run = node_runner(node, handle)
        svc = node.handles.services[handle]

        async def fetch() -> tuple[dict[str, Any], dict[str, int]]:
            return (await probe(run, "protocols"),
                    {f: c.generation for f, c in svc.chunks.items()})

        view = ProtocolChainView(fetch)
        await view.refresh()
        assert "CMD.inc  ./service/counter.lua:6  gen 1" in view.text()
        node.codecache.clear()
        await inject(node, handle, "_P.lua.CMD.get = function() return 0 end")
        await view.refresh()
        assert "CMD.get  (load):1  gen cell  REPLACED" in view.text()
        assert "sk-replaced" in view.html()

    with_counter(tree, body)


@pytest.mark.parametrize("kind", ["upvalues", "protocols"])
def test_unknown_kinds_and_chunks_compile(kind: str) -> None:
    lua = bare_state()
    assert lua.eval(f"load({lua_literal(introspection_chunk(kind, inline=True))}) ~= nil")
    with pytest.raises(ValueError):
        introspection_chunk("nope")
