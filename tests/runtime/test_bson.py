"""bson (runtime/lualib/bson.lua) against skynet's C library: bytes, values, errors.

The module is loaded into bare lupa states (Lua 5.4, as services run, and Lua 5.5) for
the spec's byte vectors, round trips and error cases; and one program runs on real skynet
(both builds) and on skykernel, printing hex encodings, decoded values and error messages,
which must be the same lines.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import realskynet
from conftest import Tree
from lupa import lua54, lua55

ROOT = Path(__file__).resolve().parents[2]
BSON_LUA = ROOT / "runtime" / "lualib" / "bson.lua"

# The program both sides run. It prints "B ..." lines: hex of encodings, decoded values
# in a canonical form (keys sorted, integers and floats told apart), error messages.
# Real skynet decodes raw BSON through its mongo driver's reply (a pointer into a string);
# skykernel's bson.decode takes the string. Multi-key tables encode in the table's own
# order, which depends on string hashes: those are compared by what decodes.
PROGRAM = r"""local skynet = require "skynet"
local bson = require "bson"
-- real skynet decodes raw BSON through its mongo driver's reply (a pointer into a
-- string); skykernel's bson.decode takes the string itself
local has_driver, driver = pcall(require, "skynet.mongo.driver")

local function hex(s)
	return (string.gsub(s, ".", function(c) return string.format("%02x", string.byte(c)) end))
end

local function fnv(s) -- a digest for long encodings
	local h = 0x811c9dc5
	for i = 1, #s do
		h = ((h ~ string.byte(s, i)) * 0x01000193) & 0xffffffff
	end
	return string.format("%d:%08x", #s, h)
end

local function isdoc(v)
	local mt = getmetatable(v)
	return type(mt) == "table" and mt.__name == "bson"
end

local R
function R(v)
	local tv = type(v)
	if isdoc(v) then
		return "doc:" .. hex(tostring(v))
	elseif tv == "string" then
		return "s:" .. hex(v)
	elseif math.type(v) == "integer" then
		return "i:" .. v
	elseif math.type(v) == "float" then
		return "f:" .. string.format("%a", v)
	elseif tv == "table" then
		local keys = {}
		for k in pairs(v) do keys[#keys + 1] = k end
		table.sort(keys, function(a, b) return R(a) < R(b) end)
		local parts = {}
		for i, k in ipairs(keys) do parts[i] = R(k) .. "=" .. R(v[k]) end
		return "{" .. table.concat(parts, ",") .. "}"
	end
	return tostring(v)
end

local function out(...)
	local parts = { "B" }
	for i = 1, select("#", ...) do parts[#parts + 1] = tostring((select(i, ...))) end
	skynet.error(table.concat(parts, " "))
end

-- pcall, then every result rendered (errors as their message)
local function show(label, f, ...)
	local r = table.pack(pcall(f, ...))
	if not r[1] then
		return out(label, "ERR", r[2])
	end
	local parts = {}
	for i = 2, r.n do parts[#parts + 1] = R(r[i]) end
	out(label, table.concat(parts, " "))
end

local function raw_decode(s)
	local reply, ptr = s, s
	if has_driver then
		reply = string.pack("<i4i4i4i4", 1, 2, 2013, 0) .. "\0" .. s
		ptr = select(3, driver.reply(reply))
	end
	local t = bson.decode(ptr) -- not a tail call: errors point at this line
	return t, #reply
end

local function doc(body) return string.pack("<i4", #body + 5) .. body .. "\0" end

local function enc(...) -- encode_order, shown as hex
	local d = bson.encode_order(...)
	return d
end

skynet.start(function()
	-- the module
	local names = {}
	for k, v in pairs(bson) do
		if k ~= "to_lightuserdata" then names[#names + 1] = k .. ":" .. type(v) end
	end
	table.sort(names)
	out("names", table.concat(names, " "))
	out("consts", hex(bson.null), hex(bson.minkey), hex(bson.maxkey))

	-- constructors
	show("date", bson.date, 1700000000)
	show("date neg", bson.date, -1)
	show("date wide", bson.date, (1 << 40) + 7)
	show("date str", bson.date, "12")
	show("date float", bson.date, 1.5)
	show("date none", bson.date)
	show("date table", bson.date, {})
	show("ts", bson.timestamp, 1700000000, 5)
	show("ts noinc", bson.timestamp, 7)
	show("ts neg", bson.timestamp, -1, -2)
	show("ts inc float", bson.timestamp, 1, 1.5)
	show("ts none", bson.timestamp)
	show("regex", bson.regex, "^a.*", "im")
	show("regex one", bson.regex, "abc")
	show("regex num", bson.regex, 12, 3)
	show("regex table opt", bson.regex, "a", {})
	show("regex none", bson.regex)
	show("binary", bson.binary, "a\0b")
	show("binary num", bson.binary, 12)
	show("binary none", bson.binary)
	show("oid", bson.objectid, "0123456789abcdef01234567")
	show("oid upper", bson.objectid, "0123456789ABCDEF01234567")
	show("oid odd chars", bson.objectid, "zz23456789abcdef0123456G")
	show("oid short", bson.objectid, "xyz")
	show("oid zero", bson.objectid, "ab\0")
	show("int64", bson.int64, 5)
	show("int64 neg", bson.int64, -1)
	show("int64 min", bson.int64, math.mininteger)
	show("int64 float", bson.int64, 1.5)
	show("int64 str", bson.int64, "x")
	local g1, g2 = bson.objectid(), bson.objectid()
	out("oid gen", #g1, #g2, g1 ~= g2, g1:sub(1, 2) == "\0\7")

	-- numbers: int32 or int64 by value, floats as doubles
	for _, v in ipairs { 0, 1, -1, 0x7fffffff, 0x80000000, -0x80000000, -0x80000001,
			math.maxinteger, math.mininteger, 1.0, -0.0, 0.1, 2 ^ 63, 1 / 0, -1 / 0, 0 / 0 } do
		show("num " .. R(v), enc, "n", v)
	end
	-- strings, booleans
	for _, v in ipairs { "", "hello", "a\0b", "\0", "\xe4\xb8\xad\xe6\x96\x87", "\xf0\x9f\x98\x80",
			"\xed\xa0\x80", "\x7f", "\xff", "\xc0\x80", "\xe0\x80\x80", "\xf4\x90\x80\x80",
			"\xf8\x88\x80\x80\x80", "\xe4\xb8", "\x80", "a\0\xff" } do
		show("str " .. hex(v), enc, "s", v)
		show("key " .. hex(v), enc, v, 1)
	end
	show("bools", enc, "t", true, "f", false)
	-- special values
	show("specials", enc, "d", bson.date(1700000000), "t", bson.timestamp(1700000000, 5),
		"r", bson.regex("^a", "i"), "b", bson.binary("\1\2\255"), "o",
		bson.objectid("0123456789abcdef01234567"), "i", bson.int64(5), "n", bson.null,
		"mn", bson.minkey, "mx", bson.maxkey)
	for st = 0, 20 do
		show("sub " .. st, enc, "x", "\0" .. string.char(st) .. "abcdefghijkl")
	end
	show("sub 127", enc, "x", "\0\127")
	show("sub 200", enc, "x", "\0\200")
	show("binary bare", enc, "x", "\0\5")
	show("binary subtype", enc, "x", "\0\5\4xyz")
	show("regex split", enc, "x", "\0\11a\0b\0c\0")
	show("regex empty", enc, "x", "\0\11\0\0")
	show("regex no zero", enc, "x", "\0\11ab\0")
	show("regex bad utf8", enc, "x", bson.regex("\255", "i"))
	show("oid short", enc, "x", "\0\7abc")
	show("date short", enc, "x", "\0\9abc")
	show("date max", enc, "x", "\0\9\255\255\255\255")
	show("ts short", enc, "x", "\0\17abc")
	show("int64 short", enc, "x", "\0\18abc")
	-- tables: arrays by length, documents otherwise; nesting
	show("empty", bson.encode, {})
	show("one", bson.encode, { a = 1 })
	show("array", bson.encode, { a = { 1, 2, 3 } })
	show("array nested", bson.encode, { a = { { 1 }, { x = 2 }, {} } })
	show("array mixed", bson.encode, { a = { 1, 2, x = 3 } })
	show("array zero key", bson.encode, { a = { [0] = 5, 1, 2 } })
	show("array null", bson.encode, { a = { bson.null, 2 } })
	show("array neg key", bson.encode, { a = { [-1] = 5 } })
	show("top array", bson.encode, { 1, 2, 3 })
	show("num key", bson.encode, { [1.5] = 1 })
	show("bool key", bson.encode, { [true] = 1 })
	show("table key", bson.encode, { [{}] = 1 })
	show("fn value", bson.encode, { a = print })
	show("thread value", bson.encode, { a = coroutine.create(print) })
	show("nested", bson.encode, { a = { b = { c = { d = "deep" } } } })
	show("embedded", bson.encode, { a = bson.encode { b = 1 } })
	show("order", enc, "z", 1, "a", { 1, 2 }, "m", { c = 3 }, "e", {}, "z", 2)
	show("order number keys", enc, 12, 1, 1.5, 2)
	show("order odd", bson.encode_order, "a")
	show("order none", bson.encode_order)
	show("order nil value", bson.encode_order, "a", nil)
	show("order bad key", bson.encode_order, {}, 1)
	show("encode nil", bson.encode, nil)
	show("encode string", bson.encode, "x")
	show("encode doc", bson.encode, bson.encode {})
	show("meta len", bson.encode, { a = setmetatable({}, { __len = function() return 2 end,
		__index = function(_, k) return k * 10 end }) })
	local function len_of(n, t)
		return setmetatable(t or {}, { __len = function() return n end })
	end
	show("meta len float", bson.encode, { a = len_of(2.0) })
	show("meta len zero", bson.encode, { a = len_of(0, { x = 1 }) })
	show("meta len hole", bson.encode, { a = len_of(3) })
	show("meta pairs", bson.encode, { a = setmetatable({}, { __pairs = function()
		local i = 0
		return function() i = i + 1; if i <= 2 then return "k" .. i, i end end
	end }) })
	show("meta pairs top", bson.encode,
		setmetatable({}, { __pairs = function() return next, { x = 1 }, nil end }))
	show("meta index only", bson.encode,
		{ a = setmetatable({}, { __index = function() return 1 end }) })
	show("top len ignored", bson.encode, len_of(2, { x = 1 }))
	for _, n in ipairs { 127, 128, 129 } do
		local d = {}
		local t = d
		for _ = 1, n do t.a = {}; t = t.a end
		show("depth " .. n, function() return fnv(tostring(bson.encode(d))) end)
	end
	local cycle = {}
	cycle.a = cycle
	show("cycle", bson.encode, cycle)
	local big = {}
	for i = 1, 1100 do big[i] = i * 3 end
	show("big array", function() return fnv(tostring(bson.encode { a = big })) end)

	-- decoding: spec examples, every type, malformed input
	local spec1 = "\x16\x00\x00\x00\x02hello\x00\x06\x00\x00\x00world\x00\x00"
	local spec2 = "\x31\x00\x00\x00\x04BSON\x00\x26\x00\x00\x00\x020\x00\x08\x00\x00\x00awesome\x00"
		.. "\x011\x00\x33\x33\x33\x33\x33\x33\x14\x40\x102\x00\xc2\x07\x00\x00\x00\x00"
	show("spec hello", function() local t = raw_decode(spec1); return t end)
	show("spec awesome", function() local t = raw_decode(spec2); return t end)
	show("spec hello enc", bson.encode, { hello = "world" })
	show("spec awesome enc", bson.encode, { BSON = { "awesome", 5.05, 1986 } })
	local cases = {
		{ "double", doc("\1a\0" .. string.pack("<d", 1.5)) },
		{ "string", doc("\2a\0\3\0\0\0ab\0") },
		{ "string no zero", doc("\2a\0\3\0\0\0abc") },
		{ "doc", doc("\3a\0" .. doc("\16b\0\7\0\0\0")) },
		{ "array", doc("\4a\0" .. doc("\0160\0\1\0\0\0\0161\0\2\0\0\0")) },
		{ "array keys", doc("\4a\0" .. doc("\0165\0\1\0\0\0\16x\0\2\0\0\0\16-3\0\3\0\0\0"
			.. "\16 +12abc\0\4\0\0\0\0164294967296\0\5\0\0\0\0162147483647\0\6\0\0\0"
			.. "\16" .. "99999999999999999999\0\7\0\0\0")) },
		{ "binary", doc("\5a\0\3\0\0\0\4xyz") },
		{ "undefined", doc("\6a\0") },
		{ "objectid", doc("\7a\0" .. "0123456789ab") },
		{ "bool", doc("\8a\0\0\8b\0\2") },
		{ "date", doc("\9a\0" .. string.pack("<i8", 1700000000123)) },
		{ "date neg", doc("\9a\0" .. string.pack("<i8", -1500)) },
		{ "date wide", doc("\9a\0" .. string.pack("<i8", 1 << 45)) },
		{ "null min max", doc("\10a\0\255b\0\127c\0") },
		{ "regex", doc("\11a\0ab\0i\0") },
		{ "dbpointer", doc("\12a\0\2\0\0\0x\0" .. "0123456789ab") },
		{ "jscode", doc("\13a\0\4\0\0\0abc\0") },
		{ "symbol", doc("\14a\0\4\0\0\0abc\0") },
		{ "codews", doc("\15a\0\14\0\0\0\1\0\0\0\0" .. doc("")) },
		{ "int32", doc("\16a\0\255\255\255\255") },
		{ "timestamp", doc("\17a\0\5\0\0\0\1\0\0\0") },
		{ "int64", doc("\18a\0" .. string.pack("<i8", math.mininteger)) },
		{ "decimal128", doc("\19a\0" .. string.rep("\0", 16)) },
		{ "type 0", doc("\0a\0") },
		{ "dup keys", doc("\16a\0\1\0\0\0\16a\0\2\0\0\0") },
		{ "numeric key", doc("\16" .. "12\0\1\0\0\0") },
		{ "bad utf8", doc("\2\255\0\2\0\0\0\254\0") },
		{ "empty", doc("") },
		{ "bad end", string.pack("<i4", 12) .. "\16a\0\1\0\0\0\1" },
		{ "truncated int32", doc("\16a\0\1\0") },
		{ "truncated double", doc("\1a\0\1\0") },
		{ "truncated key", doc("\16abc") },
		{ "truncated type", doc("\16") },
		{ "string length 0", doc("\2a\0\0\0\0\0") },
		{ "string length -1", doc("\2a\0\255\255\255\255") },
		{ "string too long", doc("\2a\0\100\0\0\0ab\0") },
		{ "inner length long", doc("\3a\0" .. string.pack("<i4", 100) .. "\0") },
		{ "inner length 4", doc("\3a\0" .. string.pack("<i4", 4) .. "\0") },
		{ "inner length 0", doc("\3a\0" .. string.pack("<i4", 0) .. "\0\0\0\0") },
		{ "inner length short", doc("\3a\0" .. string.pack("<i4", 5) .. "\16b\0\1\0\0\0\0") },
		{ "inner bad end", doc("\3a\0" .. string.pack("<i4", 5) .. "\1") },
		{ "regex truncated", doc("\11a\0ab\0i") },
		{ "timestamp truncated", doc("\17a\0\5\0\0\0\1\0") },
		{ "binary truncated", doc("\5a\0\9\0\0\0\4xyz") },
	}
	for _, c in ipairs(cases) do
		show("decode " .. c[1], function() local t = raw_decode(c[2]); return t end)
	end
	-- round trips through encode and decode
	local all = { i = 1, l = 1 << 40, d = 1.5, s = "a\0b", t = true, f = false,
		arr = { 1, "x", { y = 2 } }, sub = { k = "v" }, dt = bson.date(5),
		ts = bson.timestamp(1, 2), re = bson.regex("a", "b"), bin = bson.binary("\0\1"),
		oid = bson.objectid("0123456789abcdef01234567"), i64 = bson.int64(7), n = bson.null,
		mn = bson.minkey, mx = bson.maxkey, e = {} }
	local e = bson.encode(all)
	out("roundtrip", #e, R(bson.decode(e)), R(e:decode()))
	local gen = bson.encode { id = bson.objectid() }
	local back = bson.decode(gen).id
	out("objectid trip", back == tostring(gen):sub(-13, -2):gsub("^", "\0\7"))
	show("decode none", bson.decode)
	show("decode number", bson.decode, 1)

	-- bson.type
	for _, v in ipairs { 1, 1.5, "s", true, bson.null, bson.minkey, bson.maxkey, bson.date(3),
			bson.date(-5), bson.timestamp(1, 2), bson.timestamp(-1, -2), bson.regex("a", "b"),
			bson.binary("xy"), "\0\5\7xyz", bson.objectid("0123456789abcdef01234567"),
			bson.int64(-7), "\0", "", "\0\13abc", "\0\11a\0b\0c\0", "\0\11\0\0" } do
		show("type " .. R(v), bson.type, v)
	end
	for _, v in ipairs { "\0\18abc", "\0\9abc", "\0\7abc", "\0\17abc", "\0\11abc", "\0\11\0",
			"\0\3abc", "\0\6", "\0\99" } do
		show("type " .. R(v), bson.type, v)
	end
	show("type table", function() local name = bson.type({}); return name end)
	show("type nil", bson.type, nil)
	show("type none", bson.type)
	show("type function", bson.type, print)
	show("type doc", bson.type, bson.encode {})

	-- the document object: length, text, methods, makeindex and replacing fields
	local d = bson.encode_order("i", 1, "l", 1 << 40, "d", 1.5, "b", true,
		"o", bson.objectid("0123456789abcdef01234567"), "t", bson.date(5),
		"s", bson.timestamp(1, 2), "str", "x", "n", bson.null)
	out("len", #d, hex(tostring(d)))
	out("methods", type(d.decode), type(d.makeindex), d.nothing, d.decode == bson.decode)
	show("replace first", function() d.i = 5 end)
	show("makeindex", function() return d:makeindex() == d end)
	local sets = {
		{ "i", 7 }, { "i", 1 << 40 }, { "i", 1.5 }, { "i", 2.0 }, { "i", "3" }, { "i", "x" },
		{ "l", 9 }, { "l", 1.25 }, { "d", 2.5 }, { "d", 3 }, { "d", "4.5" }, { "d", "x" },
		{ "b", false }, { "b", 0 }, { "o", bson.objectid("abcdefabcdefabcdefabcdef") },
		{ "o", "x" }, { "o", bson.date(1) }, { "o", {} }, { "o", "\0\7abcd" },
		{ "t", bson.date(9) }, { "t", "\0\9abc" }, { "s", bson.timestamp(3, 4) },
		{ "s", "\0\17abcd" }, { "str", "y" },
		{ "n", 1 }, { "zz", 1 }, { 1, 1 }, { 1.5, 1 }, { true, 1 },
	}
	for _, kv in ipairs(sets) do
		show("set " .. R(kv[1]) .. " " .. R(kv[2]), function() d[kv[1]] = kv[2] end)
	end
	out("after", hex(tostring(d)))
	show("decode after", bson.decode, d)
	show("makeindex none", function() local r = d.makeindex(); return r end)
	show("makeindex number", function() local r = d.makeindex(5); return r end)

	-- errors raised in a Lua caller carry its position, as luaL_error gives them
	show("pos encode", function() local r = bson.encode(nil); return r end)
	show("pos encode value", function() local r = bson.encode { a = print }; return r end)
	show("pos order", function() local r = bson.encode_order("a"); return r end)
	show("pos date", function() local r = bson.date(); return r end)
	show("pos date local", function() local dt = bson.date; local r = dt(1.5); return r end)
	show("pos date method", function() local r = bson:date(); return r end)
	show("pos oid", function() local r = bson.objectid("x"); return r end)
	show("pos type", function() local r = bson.type(print); return r end)
	show("pos type int64", function() local r = bson.type("\0\18abc"); return r end)
	show("pos decode", function() return (raw_decode(doc("\16a\0\1\0"))) end)

	-- multi-key documents: key order follows the table's, so compare what decodes
	local many = { name = "player", level = 57, gold = 98765432100, vip = true, ratio = 0.75,
		tags = { "a", "b" }, pos = { x = 1.5, y = -2 }, empty = {} }
	local m = bson.encode(many)
	out("many", #m, R(bson.decode(m)))
	skynet.error("END")
end)
"""


def b_lines(lines: list[str]) -> list[str]:
    return [ln for ln in lines if ln.startswith("B ")]


def run_on_skykernel(tree: Tree) -> list[str]:
    tree.write({"service/main.lua": PROGRAM})
    lines = tree.run()
    assert "END" in lines
    return b_lines(lines)


def test_same_lines_as_real_skynet(tree: Tree, real_skynet: str) -> None:
    tree.write({"service/main.lua": PROGRAM})
    config = realskynet.write_config(tree.root)
    real = realskynet.run(config, real_skynet, cwd=tree.root)
    assert "END" in real, "\n".join(real)
    ours = run_on_skykernel(tree)
    theirs = b_lines(real)
    assert len(theirs) > 250
    assert ours == theirs


def test_program_on_skykernel_alone(tree: Tree) -> None:
    """What the program prints, for a checkout without real skynet beside it."""
    lines = run_on_skykernel(tree)
    assert "B spec hello enc doc:160000000268656c6c6f0006000000776f726c640000" in lines
    where = next(i for i, ln in enumerate(PROGRAM.splitlines(), 1) if "bson.decode(ptr)" in ln)
    assert (f"B decode truncated int32 ERR ./service/main.lua:{where}: Invalid bson block (2:4)"
            in lines)
    assert "B fn value ERR Invalid value type : function" in lines
    assert "B objectid trip true" in lines


def test_services_get_the_runtime_module(tree: Tree) -> None:
    tree.write({"service/main.lua": """
local skynet = require "skynet"
local bson = require "bson"
skynet.start(function()
    skynet.error("R", debug.getinfo(bson.encode, "S").source)
    skynet.error("END")
end)
"""})
    lines = tree.run()
    (source,) = [ln for ln in lines if ln.startswith("R ")]
    assert source.endswith("runtime/lualib/bson.lua")


# --- the module in bare Lua states ---------------------------------------------------


@pytest.fixture(params=["lua54", "lua55"])
def lua(request: pytest.FixtureRequest) -> lua54.LuaRuntime:
    """bson.lua in a state of each Lua version, as the global `bson`."""
    module = {"lua54": lua54, "lua55": lua55}[request.param]
    rt = module.LuaRuntime(encoding=None)
    rt.globals().bson = rt.execute(BSON_LUA.read_bytes())
    return rt


def run(lua: lua54.LuaRuntime, code: str, *args: object) -> object:
    return lua.execute(code.encode(), *args)


def encode(lua: lua54.LuaRuntime, expr: str) -> bytes:
    return run(lua, f"return tostring(bson.encode({expr}))")


def error_of(lua: lua54.LuaRuntime, code: str, *args: object) -> str:
    ok, err = run(lua, f"return pcall(function(...) {code} end, ...)", *args)
    assert ok is False
    return err.decode()


HELLO = b"\x16\x00\x00\x00\x02hello\x00\x06\x00\x00\x00world\x00\x00"
AWESOME = (b"\x31\x00\x00\x00\x04BSON\x00\x26\x00\x00\x00\x020\x00\x08\x00\x00\x00awesome\x00"
           b"\x011\x00\x33\x33\x33\x33\x33\x33\x14\x40\x102\x00\xc2\x07\x00\x00\x00\x00")


def test_spec_examples(lua: lua54.LuaRuntime) -> None:
    assert run(lua, "return _VERSION") in (b"Lua 5.4", b"Lua 5.5")
    assert encode(lua, '{hello = "world"}') == HELLO
    assert encode(lua, '{BSON = {"awesome", 5.05, 1986}}') == AWESOME
    assert run(lua, "return bson.decode(...).hello", HELLO) == b"world"
    got = run(lua, """local a = bson.decode(...).BSON
        return #a, a[1], a[2], math.type(a[2]), a[3], math.type(a[3])""", AWESOME)
    assert got == (3, b"awesome", 5.05, b"float", 1986, b"integer")


ROUND_TRIPS = [
    "0", "-1", "2147483647", "2147483648", "-2147483649", "math.maxinteger", "math.mininteger",
    "1.0", "-0.0", "0.1", "1/0", "2^63", "true", "false", '""', '"a\\0b"', '"\\228\\184\\173"',
    "{}", "{1, 2, 3}", '{x = {y = {z = "deep"}}}', '{{1}, {a = true}, "s", 2.5}',
    "bson.null", "bson.minkey", "bson.maxkey", "bson.date(1700000000)",
    "bson.timestamp(1700000000, 5)", 'bson.regex("^a.*", "im")', 'bson.binary("\\0\\1\\255")',
    'bson.objectid("0123456789abcdef01234567")', "bson.objectid()",
]

SAME = """
local function same(a, b)
    if type(a) ~= type(b) or math.type(a) ~= math.type(b) then return false end
    if type(a) ~= "table" then return a == b or (a ~= a and b ~= b) end
    for k, v in pairs(a) do if not same(v, b[k]) then return false end end
    for k in pairs(b) do if a[k] == nil then return false end end
    return true
end
"""


@pytest.mark.parametrize("expr", ROUND_TRIPS)
def test_every_type_round_trips(lua: lua54.LuaRuntime, expr: str) -> None:
    assert run(lua, SAME + f"""
        local v = {expr}
        local d = bson.encode {{ x = v }}
        local back = d:decode().x
        return same(v, back) and same(v, bson.decode(tostring(d)).x)
            and #tostring(bson.encode {{ x = back }}) == #d""") is True


@pytest.mark.parametrize(("expr", "type_byte"), [
    ("0", 0x10), ("-2147483648", 0x10), ("2147483647", 0x10), ("2147483648", 0x12),
    ("-2147483649", 0x12), ("1.0", 0x01), ("2^31", 0x01), ('bson.int64(1)', 0x12),
    ("{}", 0x03), ("{1}", 0x04), ('bson.encode{}', 0x03), ("true", 0x08), ('"s"', 0x02),
    ("bson.date(1)", 0x09), ("bson.null", 0x0a), ("bson.minkey", 0xff), ("bson.maxkey", 0x7f),
])
def test_value_types(lua: lua54.LuaRuntime, expr: str, type_byte: int) -> None:
    assert encode(lua, f"{{x = {expr}}}")[4] == type_byte


def test_int64_decodes_to_an_integer(lua: lua54.LuaRuntime) -> None:
    # skynet writes bson.int64(5) as an int64 and reads every int64 back as a Lua integer
    got = run(lua, "local v = bson.decode(bson.encode{x = bson.int64(5)}).x "
                   "return v, math.type(v)")
    assert got == (5, b"integer")


def test_arrays_and_documents(lua: lua54.LuaRuntime) -> None:
    # an array when the raw length is not zero: keys outside 1..#t are dropped, as skynet
    assert encode(lua, "{a = {1, 2, x = 3}}") == encode(lua, "{a = {1, 2}}")
    assert encode(lua, "{a = {}}")[4] == 0x03
    assert run(lua, "return bson.decode(bson.encode{a = {5, 6}}).a[2]") == 6
    # __len makes an array of t[1..len]; __pairs a document
    assert encode(lua, "{a = setmetatable({}, {__len = function() return 2 end, "
                       "__index = function(_, i) return i * 10 end})}") == \
        encode(lua, "{a = {10, 20}}")
    assert encode(lua, '{a = setmetatable({}, {__pairs = function() '
                       'return next, {k = 1} end})}') == encode(lua, "{a = {k = 1}}")


def test_strings_and_keys_keep_zero_bytes(lua: lua54.LuaRuntime) -> None:
    assert encode(lua, '{x = "a\\0b"}') == b"\x10\0\0\0\x02x\0\x04\0\0\0a\0b\0\0"
    assert run(lua, 'return bson.decode(bson.encode{x = "a\\0b"}).x') == b"a\0b"
    assert run(lua, 'return tostring(bson.encode_order("a\\0b", 1))') == \
        b"\x0e\0\0\0\x10a\0b\0\x01\0\0\0\0"


def test_encode_order_keeps_order_and_duplicates(lua: lua54.LuaRuntime) -> None:
    got = run(lua, 'return tostring(bson.encode_order("z", 1, "a", 2, "z", 3))')
    assert got == b"\x1a\0\0\0\x10z\0\x01\0\0\0\x10a\0\x02\0\0\0\x10z\0\x03\0\0\0\0"


@pytest.mark.parametrize(("code", "message"), [
    ("bson.encode {a = print}", "Invalid value type : function"),
    ("bson.encode {a = coroutine.create(print)}", "Invalid value type : thread"),
    ("bson.encode {[1] = 1}", "Bson dictionary's key can't be number"),
    ("bson.encode {[true] = 1}", "Invalid key type : boolean"),
    ('bson.encode {a = "\\255"}', "Invalid utf8 string"),
    ('bson.encode_order("a", nil)', "Bson array has a hole (nil), Use bson.null instead"),
    ('bson.encode {a = "\\0\\7abc"}', "Invalid object id abc"),
    ("local t = {} t.a = t bson.encode(t)", "Too depth while encoding bson"),
    ("bson.type(print)", "Invalid type function"),
    ('bson.objectid("xyz")', "Invalid objectid xyz"),
])
def test_bad_values(lua: lua54.LuaRuntime, code: str, message: str) -> None:
    assert error_of(lua, code).endswith(message)


@pytest.mark.parametrize(("doc", "message"), [
    (HELLO[:-1], "Invalid bson block (0:1)"),  # truncated: the prefix says 22 bytes
    (HELLO[:10], "Invalid bson block (6:17)"),
    (b"\x16\x00", "Invalid bson block (2:4)"),
    (b"", "Invalid bson block (0:4)"),
    (b"\x14" + HELLO[1:], "Invalid document end"),  # prefix short: "d" taken for the end
    (b"\x15" + HELLO[1:], "Invalid bson block (5:6)"),  # ends on a zero: "world" overruns
    (b"\x17" + HELLO[1:] + b"\x01", "Invalid document end"),
    (b"\x17" + HELLO[1:], "Invalid bson block (0:1)"),  # prefix one long
    (b"\x0c\0\0\0\x02a\0\x09\0\0\0\0", "Invalid bson block (0:9)"),  # string overruns
    (b"\x0b\0\0\0\x06a\0\0\0\0\0", "Invalid bson type : 6"),
])
def test_bad_documents(lua: lua54.LuaRuntime, doc: bytes, message: str) -> None:
    assert error_of(lua, "local d = bson.decode(...) return d", doc).endswith(message)


def test_errors_point_at_the_caller(lua: lua54.LuaRuntime) -> None:
    err = error_of(lua, "local d = bson.decode(...) return d", b"\x03\0\0\0")
    assert err.startswith('[string "<python>"]:1: Invalid bson block')
    err = error_of(lua, "local d = bson.date(1.5) return d")
    assert err == ('[string "<python>"]:1: bad argument #1 to \'date\' '
                   "(number has no integer representation)")
    # encoding errors carry no position: skynet raises them inside a protected call
    assert error_of(lua, "local d = bson.encode {a = print} return d") == \
        "Invalid value type : function"


def test_makeindex_and_replace(lua: lua54.LuaRuntime) -> None:
    got = run(lua, """
        local d = bson.encode_order("i", 1, "d", 1.5, "b", true, "s", "x")
        local before = pcall(function() d.i = 2 end)
        assert(d:makeindex() == d)
        d.i, d.d, d.b = 7, 2.5, false
        local ok, err = pcall(function() d.s = "y" end)
        local t = d:decode()
        return before, t.i, t.d, t.b, t.s, err:match("Can't replace key : s") ~= nil, #d""")
    assert got == (False, 7, 2.5, False, b"x", True, 36)


def test_objectid_layout(lua: lua54.LuaRuntime) -> None:
    got = run(lua, """
        local before = os.time()
        local a, b = bson.objectid(), bson.objectid()
        local after = os.time()
        local ta, mid_a, ca = string.unpack(">I4c5I3", a, 3)
        local tb, mid_b, cb = string.unpack(">I4c5I3", b, 3)
        return #a, ta >= before and ta <= after, mid_a == mid_b, (ca + 1) & 0xffffff == cb,
            (bson.type(a))""")
    assert got == (14, True, True, True, b"objectid")


def test_type(lua: lua54.LuaRuntime) -> None:
    assert run(lua, "return bson.type(bson.timestamp(1, 2))") == (b"timestamp", 1, 2)
    assert run(lua, 'return bson.type(bson.regex("a", "i"))') == (b"regex", b"a", b"i")
    assert run(lua, 'return bson.type(bson.binary("xy"))') == (b"binary", b"xy", 0)
    assert run(lua, "return bson.type(bson.date(-5))") == (b"date", -5)
    assert run(lua, "return bson.type(bson.int64(-7))") == (b"int64", -7)
    assert run(lua, "return select('#', bson.type(bson.null)), bson.type(bson.null)") == \
        (1, b"nil")
    assert run(lua, 'return bson.type("s")') == (b"string", b"s")


def test_decode_takes_documents_and_strings_only(lua: lua54.LuaRuntime) -> None:
    assert run(lua, "return select('#', bson.decode(1)), select('#', bson.decode())") == (0, 0)
    assert run(lua, "return bson.decode(bson.to_lightuserdata(bson.encode{a = 1})).a") == 1


def test_exported_names(lua: lua54.LuaRuntime) -> None:
    names = run(lua, "local t = {} for k in pairs(bson) do t[#t + 1] = k end "
                     "table.sort(t) return table.concat(t, ' ')")
    assert names.decode().split() == [
        "binary", "date", "decode", "encode", "encode_order", "int64", "maxkey", "minkey",
        "null", "objectid", "regex", "timestamp", "to_lightuserdata", "type"]
