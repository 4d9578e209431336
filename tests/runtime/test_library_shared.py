"""What skynet shares between services in C, shared through the node here: multicast,
sharedata (its proxies, packstring of one), sharetable, datasheet, sharemap. Each program
runs on real skynet (both builds, where present) and on skykernel: same lines, except
where docs/differences.md says why not (a write to a sharetable is not refused here)."""

from __future__ import annotations

import asyncio

import pytest
from conftest import Tree
from test_library_modules import compare, normalize, run_ours

from skykernel.node import shared

# --- multicast -------------------------------------------------------------------------

MULTICAST = {
    "service/sub.lua": """
local skynet = require "skynet"
local mc = require "skynet.multicast"
local name = ...
skynet.start(function()
    local chans = {}
    skynet.dispatch("lua", function(_, _, cmd, id)
        if cmd == "sub" then
            local ch = mc.new { channel = id, dispatch = function(channel, source, ...)
                skynet.error(name, "got", tostring(channel), skynet.address(source), ...)
            end }
            ch:subscribe()
            ch:subscribe()
            chans[id] = ch
            skynet.retpack(tostring(ch))
        else
            chans[id]:unsubscribe()
            skynet.retpack(true)
        end
    end)
end)
""",
    "service/main.lua": """
local skynet = require "skynet"
local mc = require "skynet.multicast"
local datacenter = require "skynet.datacenter"
skynet.start(function()
    skynet.error("BEGIN")
    local ch, ch2 = mc.new(), mc.new()
    skynet.error("main channels", ch.channel, ch2.channel, tostring(ch), tostring(ch2))
    skynet.error("main multicastd in datacenter", skynet.address(datacenter.get("multicast", 0)))
    local a, b = skynet.newservice("sub", "A"), skynet.newservice("sub", "B")
    skynet.error("main sub", skynet.call(a, "lua", "sub", ch.channel),
        skynet.call(b, "lua", "sub", ch.channel))
    ch:publish("hello", 1, 2)
    skynet.sleep(5)
    skynet.call(a, "lua", "unsub", ch.channel)
    ch:publish("second")
    skynet.sleep(5)
    local mine = mc.new { channel = ch2.channel, dispatch = function(c, src, ...)
        skynet.error("main self got", ...)
    end }
    mine:subscribe()
    ch2:publish("to self")
    skynet.sleep(5)
    local ch3 = mc.new {
        pack = function(...) return skynet.pack("custom", ...) end,
        unpack = function(msg, sz) return "raw", skynet.unpack(msg, sz) end,
        dispatch = function(c, src, ...) skynet.error("main ch3 got", ...) end,
    }
    ch3:subscribe()
    ch3:publish("a", "b")
    skynet.sleep(5)
    ch:delete()
    skynet.error("main after delete", ch.channel, (select(2, pcall(ch.publish, ch, "x"))))
    mine:unsubscribe()
    ch2:publish("nobody listens")
    skynet.sleep(5)
    local ghost = mc.new { channel = 12345, dispatch = print }
    skynet.error("main unknown channel", pcall(ghost.subscribe, ghost))
    skynet.error("END")
end)
""",
}


def test_multicast_as_on_skynet(tree: Tree, real_skynet: str) -> None:
    ours = compare(tree, real_skynet, MULTICAST, tagged=True)
    assert "A got [Multicast:0] :00000008 hello 1 2" in ours


def test_multicast_on_skykernel(tree: Tree) -> None:
    tree.write(MULTICAST)
    lines = normalize(run_ours(tree))
    assert lines[:2] == ["main channels 0 256 [Multicast:0] [Multicast:100]",
                         "main multicastd in datacenter :00000009"]
    assert [ln for ln in lines if ln.startswith("A ")] == [
        "A got [Multicast:0] :00000008 hello 1 2"]
    assert [ln for ln in lines if ln.startswith("B ")] == [
        "B got [Multicast:0] :00000008 hello 1 2", "B got [Multicast:0] :00000008 second"]
    assert "main self got to self" in lines
    assert "main ch3 got raw custom a b" in lines
    assert "main after delete nil assertion failed!" in lines
    assert not any("nobody listens" in ln for ln in lines)
    assert "main unknown channel false call failed" in lines


# --- sharedata ------------------------------------------------------------------------

SHAREDATA = {
    "service/reader.lua": """
local skynet = require "skynet"
local sharedata = require "skynet.sharedata"
local deal
skynet.start(function()
    deal = sharedata.query("deal")
    skynet.dispatch("lua", function()
        skynet.retpack(deal.round, #deal.hands)
    end)
end)
""",
    "service/main.lua": r"""
local skynet = require "skynet"
local sharedata = require "skynet.sharedata"
local function first(err) return (tostring(err):match("[^\n]*")) end
skynet.start(function()
    skynet.error("BEGIN")
    sharedata.new("deal", { round = 1, hands = { 5, 5 } })
    local reader = skynet.newservice("reader")
    skynet.error("read", skynet.call(reader, "lua"))
    sharedata.update("deal", { round = 2, hands = { 7, 7, 7 } })
    skynet.sleep(1)
    skynet.error("after update", skynet.call(reader, "lua"))
    sharedata.delete("deal")
    skynet.sleep(1)
    skynet.error("after delete, held proxies still read", skynet.call(reader, "lua"))
    skynet.error("query deleted", pcall(sharedata.query, "deal"))
    skynet.error("delete missing", pcall(sharedata.delete, "nothere"))
    sharedata.update("fresh", { z = 1 })
    skynet.error("update makes it", sharedata.query("fresh").z)
    skynet.error("new existing", pcall(sharedata.new, "fresh", {}))
    skynet.error("deepcopy", sharedata.deepcopy("fresh").z, sharedata.deepcopy("fresh", "z"),
        sharedata.deepcopy("fresh", "nope"))
    sharedata.new("n", { list = { 10, 20, { x = 1 } }, a = 1 })
    local n = sharedata.query("n")
    skynet.error("write", first(select(2, pcall(function() n.a = 2 end))))
    skynet.error("write deep", first(select(2, pcall(function() n.list[3].x = 2 end))))
    skynet.error("same proxy", n.list == n.list, sharedata.query("n") == n, type(n))
    local keys = {}
    for k, v in pairs(n.list) do keys[#keys + 1] = k .. "=" .. type(v) end
    skynet.error("pairs", table.concat(keys, " "), #n.list, n.list[4], n.nothing)
    local packed = skynet.packstring(n.list)
    skynet.error("packstring of a proxy", (packed:gsub(".", function(c)
        return string.format("%02x", c:byte()) end)))
    local t = skynet.unpack(skynet.packstring(n))
    skynet.error("packstring of the root", t.a, #t.list, t.list[3].x, getmetatable(t))
    sharedata.new("src", "x = 1\ny = { 2, 3 }")
    skynet.error("from source", sharedata.query("src").x, sharedata.query("src").y[2])
    skynet.error("END")
end)
""",
}

SHAREDATA_LINES = [
    "read 1 2", "after update 2 3", "after delete, held proxies still read 2 3",
    "query deleted false call failed", "delete missing false call failed", "update makes it 1",
    "new existing false call failed", "deepcopy 1 1", "write Error newindex, the key []",
    "write deep Error newindex, the key [.list.3]", "same proxy true true table",
    "pairs 1=number 2=number 3=table 3 nil nil",
    # a proxy packs what its __pairs shows, every entry as a key-value pair
    "packstring of a proxy 060a010a0a0a020a140a03060c780a010000",
    "packstring of the root 1 3 1 nil", "from source 1 3",
]


def test_sharedata_as_on_skynet(tree: Tree, real_skynet: str) -> None:
    assert compare(tree, real_skynet, SHAREDATA) == SHAREDATA_LINES


def test_sharedata_on_skykernel(tree: Tree) -> None:
    tree.write(SHAREDATA)
    assert normalize(run_ours(tree)) == SHAREDATA_LINES


# --- sharetable -----------------------------------------------------------------------

SHARETABLE = {
    "data.lua": """
local arg = ...
return { name = "file", list = { 1, 2, 3 }, nested = { a = { b = "deep" } }, arg = arg }
""",
    "service/reader.lua": """
local skynet = require "skynet"
local sharetable = require "skynet.sharetable"
local held
skynet.start(function()
    skynet.dispatch("lua", function(_, _, cmd, name)
        if cmd == "query" then
            held = sharetable.query(name)
            skynet.retpack(held.name, #held.list, held.nested.a.b)
        else
            local old, list = held, held.list
            sharetable.update(name)
            skynet.retpack(held.name, old == held, held.list == list, #list, list[4])
        end
    end)
end)
""",
    "service/main.lua": """
local skynet = require "skynet"
local sharetable = require "skynet.sharetable"
skynet.start(function()
    skynet.error("BEGIN")
    sharetable.loadfile("data.lua", 42)
    local t = sharetable.query("data.lua")
    skynet.error("file", t.name, #t.list, t.nested.a.b, t.arg)
    skynet.error("a table", type(t), getmetatable(t), rawget(t, "name"), rawlen(t.list))
    local keys = {}
    for k in pairs(t) do keys[#keys + 1] = k end
    table.sort(keys)
    skynet.error("keys", table.concat(keys, " "), next(t) ~= nil)
    sharetable.loadstring("str", "return { x = 1, y = { 2 } }")
    skynet.error("string", sharetable.query("str").x, sharetable.query("str").y[1])
    sharetable.loadtable("tbl", { k = "v", n = { 1, 2 } })
    skynet.error("table", sharetable.query("tbl").k, #sharetable.query("tbl").n)
    skynet.error("missing", sharetable.query("nope"))
    skynet.error("loadtable of a string", pcall(sharetable.loadtable, "bad", "notatable"))
    skynet.error("loadstring that does not compile",
        pcall(sharetable.loadstring, "bad2", "return 1 +"))
    local all = sharetable.queryall({ "str", "tbl", "nope" })
    keys = {}
    for k in pairs(all) do keys[#keys + 1] = k end
    table.sort(keys)
    skynet.error("queryall of a list", table.concat(keys, " "))
    keys = {}
    for k in pairs(sharetable.queryall()) do keys[#keys + 1] = k end
    table.sort(keys)
    skynet.error("queryall", table.concat(keys, " "))
    local r = skynet.newservice("reader")
    skynet.error("reader", skynet.call(r, "lua", "query", "data.lua"))
    sharetable.loadtable("data.lua",
        { name = "v2", list = { 7, 8, 9, 10 }, nested = { a = { b = "v2" } } })
    skynet.error("reader update", skynet.call(r, "lua", "update", "data.lua"))
    local keep = { ref = t, list = t.list }
    local old = t
    local mt = setmetatable({}, { __index = t.nested })
    sharetable.update("data.lua")
    skynet.error("every reference moves", t.name, old.name, keep.ref.name, keep.list[4], t == old,
        mt.a.b)
    skynet.error("END")
end)
""",
}

SHARETABLE_LINES = [
    "file file 3 deep 42", "a table table nil file 3", "keys arg list name nested true",
    "string 1 2", "table v 2", "missing", "loadtable of a string false assertion failed!",
    "loadstring that does not compile false call failed", "queryall of a list str tbl",
    "queryall data.lua str tbl", "reader file 3 deep", "reader update v2 true true 4 10",
    "every reference moves v2 v2 v2 10 true v2",
]


def test_sharetable_as_on_skynet(tree: Tree, real_skynet: str) -> None:
    assert compare(tree, real_skynet, SHARETABLE) == SHARETABLE_LINES


def test_sharetable_on_skykernel(tree: Tree) -> None:
    tree.write(SHARETABLE)
    assert normalize(run_ours(tree)) == SHARETABLE_LINES


# --- datasheet ------------------------------------------------------------------------

DATASHEET = {
    "service/reader.lua": """
local skynet = require "skynet"
local datasheet = require "skynet.datasheet"
local d, sub
skynet.start(function()
    skynet.dispatch("lua", function(_, _, cmd)
        if cmd == "query" then
            d = datasheet.query("cfg")
            sub = d.sub
            skynet.retpack(d.a, d.sub.x, #d.list, d.list[2])
        else
            local ok, err = pcall(function() return sub.x end)
            err = tostring(err):gsub("^.-:%d+: ", ""):gsub("index = %d+", "index = N")
            skynet.retpack(d.a, d.sub, #d.list, d.list[4], ok, err)
        end
    end)
end)
""",
    "service/main.lua": """
local skynet = require "skynet"
local builder = require "skynet.datasheet.builder"
local datasheet = require "skynet.datasheet"
local dump = require "skynet.datasheet.dump"
skynet.start(function()
    skynet.error("BEGIN")
    builder.new("cfg", { a = 1, sub = { x = "y" }, list = { 10, 20, 30 }, f = 1.5, b = true })
    local d = datasheet.query("cfg")
    skynet.error("query", d.a, d.sub.x, #d.list, d.list[3], d.f, d.b, d.none)
    skynet.error("a plain table once read", type(d), getmetatable(d), next(d) ~= nil)
    local keys = {}
    for k, v in pairs(d) do keys[#keys + 1] = k .. "=" .. type(v) end
    table.sort(keys)
    skynet.error("pairs", table.concat(keys, " "))
    local sum = 0
    for _, v in ipairs(d.list) do sum = sum + v end
    skynet.error("ipairs sum", sum)
    skynet.error("same table", d.sub == d.sub, datasheet.query("cfg") == d)
    local r = skynet.newservice("reader")
    skynet.error("reader", skynet.call(r, "lua", "query"))
    builder.update("cfg", { a = 2, list = { 1, 2, 3, 4 } })
    skynet.sleep(5)
    skynet.error("after update", d.a, d.sub, #d.list, d.list[4])
    skynet.error("reader after update", skynet.call(r, "lua", "show"))
    skynet.error("new twice", pcall(builder.new, "cfg", {}))
    skynet.error("update missing", pcall(builder.update, "none", {}))
    skynet.error("query missing", pcall(datasheet.query, "none"))
    skynet.error("query missing again", pcall(datasheet.query, "none"))
    local _, bad = pcall(builder.new, "bad", { f = print })
    skynet.error("bad value", (bad:match("Unsupport value %a+")))
    local s = builder.compile({ 1, 2, "x", true, 2^40, -5, { 7 } })
    skynet.error("compile", (s:gsub(".", function(c) return string.format("%02x", c:byte()) end)))
    local t = dump.undump(s)
    skynet.error("undump", t[1], t[2], t[3], t[4], t[5], t[6], t[7][1])
    skynet.error("END")
end)
""",
}

DATASHEET_LINES = [
    "query 1 y 3 30 1.5 true nil", "a plain table once read table nil true",
    "pairs a=number b=boolean f=number list=table sub=table", "ipairs sum 60",
    "same table true true", "reader 1 y 3 20", "after update 2 nil 4 4",
    "reader after update 2 nil 4 4 false Invalid proxy (index = N)",
    "new twice false assertion failed!", "update missing false assertion failed!",
    "query missing false call failed", "query missing again false call failed",
    "bad value Unsupport value function",
    "compile 4c00000002000000000000002c00000007000000000000000101050302010400010000000200000000"
    "0000000000000100008053fbffffff01000000010000000000000001000000070000007800",
    "undump 1 2 x true 1099511627776.0 -5 7",
]


def test_datasheet_as_on_skynet(tree: Tree, real_skynet: str) -> None:
    assert compare(tree, real_skynet, DATASHEET) == DATASHEET_LINES


def test_datasheet_on_skykernel(tree: Tree) -> None:
    tree.write(DATASHEET)
    assert normalize(run_ours(tree)) == DATASHEET_LINES


# --- the node's side ------------------------------------------------------------------


def test_stm_store_versions_references_and_cleanup() -> None:
    alive = {1, 2}
    s = shared.Shared(lambda h: h in alive)
    key = s.stm_command(1, "new", b"v1")
    s.stm_command(1, "copy", key)
    assert s.stm_command(2, "newcopy", key)
    assert s.stm_command(2, "read", key, 0) == (1, b"v1")
    assert s.stm_command(2, "read", key, 1) == (None, None)
    s.stm_command(1, "update", key, b"v2")
    assert s.stm_command(2, "read", key, 1) == (2, b"v2")
    with pytest.raises(shared.SharedError):
        s.stm_command(2, "update", key, b"not the writer")
    with pytest.raises(shared.SharedError):
        s.stm_command(1, "update", key, "not bytes")
    s.stm_command(1, "release", key)
    assert s.stm_command(2, "read", key, 0) == (None, None)  # the writer is gone
    assert len(s.stm) == 1
    s.stm_command(2, "unref", key)
    assert len(s.stm) == 0
    # what a dead service held goes at the next sweep
    other = s.stm_command(1, "new", b"x")
    s.stm_command(1, "copy", other)
    s.stm_command(2, "newcopy", other)
    alive.clear()
    s.stm.sweep(s.alive)
    assert len(s.stm) == 0


def test_blobs_belong_to_their_maker() -> None:
    alive = {1, 2}
    s = shared.Shared(lambda h: h in alive)
    key = s.blob_command(1, "put", b"data")
    assert s.blob_command(2, "get", key) == b"data"
    assert s.blob_command(2, "drop", key) is False  # only the maker drops it
    assert s.blob_command(1, "drop", key) is True
    assert s.blob_command(2, "get", key) is None
    with pytest.raises(shared.SharedError, match="unknown SHARED op"):
        s.blob_command(1, "nope")


def test_debug_channel_says_when_the_reader_waits() -> None:
    s = shared.Shared(lambda h: True)
    ch = s.channel_command(1, "create")
    assert s.channel_command(1, "take", ch) == (b"", False)
    assert s.channel_command(1, "write", ch, b"x") is True
    assert s.channel_command(2, "read", ch) == b"x"
    assert s.channel_command(1, "take", ch) == (b"", False)  # read, but not asked again
    s.channel_command(2, "output", ch, b"1\n")
    assert s.channel_command(2, "read", ch) is None
    assert s.channel_command(1, "take", ch) == (b"1\n", True)
    s.channel_command(1, "release", ch)
    assert s.channel_command(1, "write", ch, b"y") is False


def test_stores_are_safe_from_several_threads() -> None:
    s = shared.Shared(lambda h: True)
    key = s.stm_command(1, "new", b"0")

    async def main() -> None:
        loop = asyncio.get_running_loop()

        def writer() -> None:
            for i in range(2000):
                s.stm_command(1, "update", key, str(i).encode())

        def reader() -> set[int]:
            seen = set()
            for _ in range(2000):
                version, data = s.stm_command(2, "read", key, 0)
                seen.add(version)
                assert data is not None
            return seen

        _, seen = await asyncio.gather(loop.run_in_executor(None, writer),
                                       loop.run_in_executor(None, reader))
        assert max(seen) <= 2001

    asyncio.run(main())
    assert s.stm_command(2, "read", key, 0) == (2001, b"1999")


# --- sharemap (over stm, with sproto) -------------------------------------------------

SHAREMAP = {
    "record.sproto": ".record {\n    x 0 : integer\n    name 1 : string\n}\n",
    "service/reader.lua": """
local skynet = require "skynet"
local sharemap = require "skynet.sharemap"
local r
skynet.start(function()
    skynet.dispatch("lua", function(_, _, cmd, copy)
        if cmd == "bind" then
            r = sharemap.reader("record", copy)
        else
            r:update()
        end
        skynet.retpack(r.x, r.name)
    end)
end)
""",
    "service/main.lua": """
local skynet = require "skynet"
local sharemap = require "skynet.sharemap"
skynet.start(function()
    skynet.error("BEGIN")
    sharemap.register("record.sproto")
    local w = sharemap.writer("record", { x = 1, name = "one" })
    local reader = skynet.newservice("reader")
    skynet.error("reader sees", skynet.call(reader, "lua", "bind", w:copy()))
    w.x = 2
    w.name = "two"
    skynet.error("before commit", skynet.call(reader, "lua", "update"))
    w:commit()
    skynet.error("after commit", skynet.call(reader, "lua", "update"))
    skynet.error("END")
end)
""",
}

SHAREMAP_LINES = ["reader sees 1 one", "before commit 1 one", "after commit 2 two"]


def sproto_present() -> bool:
    from test_library_modules import ROOT  # noqa: PLC0415

    return (ROOT / "runtime" / "lualib" / "sprotoloader.lua").is_file()


def test_sharemap_on_skynet(tree: Tree, real_skynet: str) -> None:
    """What sharemap does on skynet; on skykernel too once its sproto is there."""
    from test_library_modules import run_real  # noqa: PLC0415

    tree.write(SHAREMAP)
    assert normalize(run_real(tree, real_skynet)) == SHAREMAP_LINES
    if sproto_present():
        assert normalize(run_ours(tree)) == SHAREMAP_LINES


def test_sharemap_loads_and_waits_for_sproto(tree: Tree) -> None:
    """The module loads without sproto (skynet's needs it at load; this one when a record
    type is registered); with sproto in the runtime it works as on skynet."""
    tree.write(SHAREMAP)
    lines = normalize(run_ours(tree)) if sproto_present() else None
    if lines is not None:
        assert lines == SHAREMAP_LINES
        return
    tree.write({"service/main.lua": """
local skynet = require "skynet"
skynet.start(function()
    skynet.error("BEGIN")
    local sharemap = require "skynet.sharemap"
    skynet.error("loaded", type(sharemap.writer), type(sharemap.reader))
    local ok, err = pcall(sharemap.register, "record.sproto")
    skynet.error("register", ok, (tostring(err):match("module 'sprotoloader' not found")))
    skynet.error("END")
end)
"""})
    assert normalize(run_ours(tree)) == [
        "loaded function function", "register false module 'sprotoloader' not found"]
