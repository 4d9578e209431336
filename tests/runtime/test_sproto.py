"""sproto, sprotoparser and sprotoloader: the same bytes, results and errors as skynet's.

The comparisons run one Lua program on real skynet (its C `sproto.core` and lpeg-based
parser) and on skykernel, and compare the lines both log. Each program prints bytes in
hex, tables with sorted keys and floats in %a, so the lines do not depend on iteration
order or on how Lua 5.4 and 5.5 print numbers; error messages are printed without the
"file:line:" in front (the files differ). Tests marked below run without real skynet.
"""

from __future__ import annotations

import asyncio
import re

import pytest
import realskynet
from conftest import ROOT, Tree
from lupa import lua54, lua55

LUALIB = ROOT / "runtime" / "lualib"

# Helpers every program uses: hex, a canonical show() (strings quoted when they are plain
# words, else in hex) and strip() of the error position.
COMMON = r"""
local M = {}
function M.hex(s)
	return (s:gsub(".", function(c) return string.format("%02x", c:byte()) end))
end
function M.show(v)
	local tv = type(v)
	if tv == "table" then
		local ks = {}
		for k in pairs(v) do ks[#ks + 1] = k end
		table.sort(ks, function(a, b)
			if type(a) ~= type(b) then return type(a) < type(b) end
			return a < b
		end)
		local out = {}
		for _, k in ipairs(ks) do out[#out + 1] = M.show(k) .. "=" .. M.show(v[k]) end
		return "{" .. table.concat(out, ",") .. "}"
	elseif tv == "string" then
		if v:match("^[%w_]*$") then
			return "'" .. v .. "'"
		end
		return "x'" .. M.hex(v) .. "'"
	elseif math.type(v) == "float" then
		return string.format("%a", v)
	end
	return tostring(v)
end
function M.strip(e)
	return (tostring(e):gsub("^[^\n]-:%d+: ", ""))
end
-- pcall f and describe the outcome on one line
function M.try(f, ...)
	local r = table.pack(pcall(f, ...))
	if not r[1] then
		return "ERR " .. M.strip(r[2])
	end
	local out = {}
	for i = 2, r.n do
		out[#out + 1] = type(r[i]) == "string" and M.hex(r[i]) or M.show(r[i])
	end
	return "OK " .. table.concat(out, " ")
end
return M
"""

def program_lines(lines: list[str]) -> list[str]:
    """The lines the program itself logged (they start with "T ")."""
    return [ln for ln in lines if ln.startswith("T ")]


def run_both(tree: Tree, build: str, files: dict[str, str]) -> tuple[list[str], list[str]]:
    """Run the program on real skynet (`build`) and on skykernel; both programs' lines."""
    tree.write({"lualib/t.lua": COMMON, **files})
    config = realskynet.write_config(tree.root, 'lua_path = "./lualib/?.lua"\n')
    real = program_lines(realskynet.run(config, build, cwd=tree.root, timeout=60))
    ours = program_lines(tree.run(timeout=60))
    assert real, "real skynet printed nothing from the program"
    return real, ours


def as_built(build: str, lines: list[str]) -> list[str]:
    """skynet 1.8's C core words encode errors without the type name: `.x[0] is not ...`
    and `.*x(1) should be ...` where master (and skykernel) say `T.x[0]`, `T.x(1)`."""
    if build == "master":
        return lines
    lines = [re.sub(r"[\w.]*\.(\w+)\[(-?\d+)\] is not", r".\1[\2] is not", ln) for ln in lines]
    return [re.sub(r"[\w.]*\.(\w+)\((\d+)\) should be", r".*\1(\2) should be", ln)
            for ln in lines]


def assert_same(real: list[str], ours: list[str]) -> None:
    assert len(real) == len(ours), f"{len(real)} lines from real skynet, {len(ours)} here"
    for r, o in zip(real, ours, strict=True):
        assert o == r


# --- the schema parser ------------------------------------------------------------------

SCHEMAS = [
    # the sproto README's shape: nested type, arrays, a main index
    """
.Person {
    name 0 : string
    id 1 : integer
    email 2 : string
    .PhoneNumber {
        number 0 : string
        type 1 : integer
    }
    phone 3 : *PhoneNumber
}
.AddressBook {
    person 0 : *Person(id)
    others 1 : *Person
}
""",
    # every type, decimals, binary, maps, a far tag, protocols of every form
    """
# a comment
.package { type 0 : integer session 1 : integer ud 2 : string }
.E { s 0 : string  z 1 : integer(0)  i 2 : integer  .Sub { a 0 : integer } sub 3 : Sub
     subs 4 : *Sub  d 5 : double  ds 6 : *double  b 7 : binary  bs 8 : *boolean
     m 9 : *Sub(a)  dd 10 : *integer(2)  big 1000 : integer  bins 11 : *binary }
.KV { k 0 : string v 1 : E }
.M { m 0 : *KV() }
foo 1 { request E  response { ok 0 : boolean } }
bar 2 { request { x 0 : integer } response nil }
baz 3 {}
qux 4 { response E }
quux 5 { request nil response nil }
""",
    "",
    ".A {}",
    ".A { .B { x 0 : integer } }",
    ".A{a 0:integer}.B{}",
    ".A { s 0 :*integer(3) t 1:integer( 4 ) u 2 : *A( x ) x 3 : string }",
    ".A { x 0 : integer }\r\n.B { y 1 : A }",
    ".A { .B { .C { x 0 : integer } c 0 : C } b 0 : B.C d 1 : B }",
    ".A {x 0: integer} foo 1 { request A response A } bar 0 { response A }",
    ".A { .foo {} } foo 1 { request { x 0 : integer } }",
    ".A { s 0 : string(x) t 1 : integer(x) }",
    ".A { x 0 : integer(2)(3) }",
    "  # only a comment",
    ".A{ x 5 : integer y 3 : string z 9 : boolean }",
    # bad schemas: the same message
    "a 1 {}",
    ".B{}x 0 : integer",
    ".A { x 0 : integer y 1 : integer",
    ".A {\n x 0 : integer\n\n y : integer }",
    ".A { x 0 : integer }\n.A { y 0 : integer }",
    ".A { x 0 : integer x 1 : integer }",
    ".A { x 0 : integer y 0 : integer }",
    ".A { x 0 : Nope }",
    "foo 1 { request Nope }",
    "foo 1 { request { x 0 : integer } request { y 0 : integer } }",
    ".A { m 0 : *B() .B { a 0 : integer b 1 : integer c 2 : integer } }",
    ".A { m 0 : *B(zz) .B { a 0 : integer } }",
    ".A { m 0 : *B() .B { a 0 : B2 b 1 : integer .B2 {} } }",
    ".A { s 0 : Sub(x) .Sub {} }",
    ".A { x 0 : integer }\r.B {}",
    ".A { x 40000 : integer }",
    "foo 1 { request { x 0 : integer } } .A { .foo {} }",
    ".A { x 0 : integer }\n\n\n  .B { y 0 : A } } ",
]


def lua_long_string(text: str) -> str:
    return "[==[" + text + "]==]"


PARSE_PROGRAM = """
local skynet = require "skynet"
local parser = require "sprotoparser"
local t = require "t"
local schemas = { @SCHEMAS@ }
skynet.start(function()
	for i, s in ipairs(schemas) do
		skynet.error("T", i, t.try(parser.parse, s))
	end
	skynet.error("END")
end)
""".replace("@SCHEMAS@", ",\n".join(lua_long_string(s) for s in SCHEMAS))


def test_schema_bytes_and_errors_match_real_skynet(tree: Tree, real_skynet: str) -> None:
    real, ours = run_both(tree, real_skynet, {"service/main.lua": PARSE_PROGRAM})
    assert_same(real, ours)
    ok = [ln for ln in ours if " OK " in ln]
    assert len(ok) >= 15 and any("syntax error at [=text] line (4)" in ln for ln in ours)


# --- encode / decode / pack / unpack ------------------------------------------------------

CODEC_SCHEMA = """
.package { type 0 : integer session 1 : integer ud 2 : binary }
.Leaf { i 0 : integer  s 1 : string  b 2 : boolean }
.Pair { k 0 : integer  v 1 : Leaf }
.KV { key 0 : string  val 1 : integer }
.All {
  i 0 : integer
  s 1 : string
  b 2 : boolean
  d 3 : double
  bin 4 : binary
  dec 5 : integer(2)
  leaf 7 : Leaf
  ints 8 : *integer
  strs 9 : *string
  bools 10 : *boolean
  dbls 11 : *double
  decs 12 : *integer(3)
  leaves 13 : *Leaf
  byi 14 : *Leaf(i)
  pairs 15 : *Pair()
  kv 16 : *KV()
  self 20 : All
  many 21 : *All
  far 1000 : integer
}
"""

# Chosen tables first (boundaries of every encoding), then a deterministic stream of
# random ones, each decoded back, packed, unpacked, and cut or scrambled three ways to
# see that bad input fails the same way. Maps hold at most one string key, so Lua's
# iteration order (which the format exposes) is the same on both sides.
CODEC_PROGRAM = r"""
local skynet = require "skynet"
local sproto = require "sproto"
local t = require "t"
local hex, show, strip, try = t.hex, t.show, t.strip, t.try
local N = ...
N = tonumber(N) or 120

local seed = 20240601
local function rnd(n)
	seed = (seed * 1103515245 + 12345) % 2147483648
	return (seed >> 8) % n
end

local INTS = { 0, 1, 2, 0x7ffe, 0x7fff, 0x8000, 0xffff, 0x10000, -1, -2, 0x7fffffff,
	-0x80000000, 0x80000000, -0x80000001, math.maxinteger, math.mininteger, 1 << 40,
	-(1 << 40), 100000, -100000 }
local DBLS = { 0.0, -0.0, 1.5, -2.25, 1e300, -1e-300, 0.1, 3.0, 1/0, -1/0, 123456789.125 }
local DECS = { 0, 1.234, -5.005, 0.125, 0.005, 1e10, -0.004999, 2.675, 12, -7, 0.0049999999 }

local function gen_int()
	if rnd(3) == 0 then return rnd(70000) - 1000 end
	return INTS[rnd(#INTS) + 1]
end
local function gen_str()
	local s = {}
	for i = 1, rnd(10) do s[i] = string.char(rnd(4) == 0 and 0 or rnd(256)) end
	return table.concat(s)
end
local function gen_leaf()
	local l = {}
	if rnd(2) == 0 then l.i = gen_int() end
	if rnd(2) == 0 then l.s = gen_str() end
	if rnd(2) == 0 then l.b = rnd(2) == 0 end
	return l
end
local function gen_list(f, max)
	local l = {}
	for i = 1, rnd(max + 1) do l[i] = f() end
	return l
end
local function gen_all(depth)
	local a = {}
	local function maybe() return rnd(3) == 0 end
	if maybe() then a.i = gen_int() end
	if maybe() then a.s = gen_str() end
	if maybe() then a.b = rnd(2) == 0 end
	if maybe() then a.d = DBLS[rnd(#DBLS) + 1] end
	if maybe() then a.bin = gen_str() end
	if maybe() then a.dec = DECS[rnd(#DECS) + 1] end
	if maybe() then a.leaf = gen_leaf() end
	if maybe() then a.ints = gen_list(gen_int, 4) end
	if maybe() then a.strs = gen_list(gen_str, 3) end
	if maybe() then a.bools = gen_list(function() return rnd(2) == 0 end, 4) end
	if maybe() then a.dbls = gen_list(function() return DBLS[rnd(#DBLS) + 1] end, 3) end
	if maybe() then a.decs = gen_list(function() return DECS[rnd(#DECS) + 1] end, 3) end
	if maybe() then a.leaves = gen_list(gen_leaf, 3) end
	if maybe() then
		local l = {}
		for k = 1, rnd(3) do local leaf = gen_leaf(); leaf.i = k * 7; l[k] = leaf end
		a.byi = l
	end
	if maybe() then a.pairs = gen_list(gen_leaf, 2) end
	if maybe() then a.kv = rnd(2) == 0 and {} or { [gen_str()] = gen_int() } end
	if depth < 3 and maybe() then a.self = gen_all(depth + 1) end
	if depth < 2 and maybe() then a.many = gen_list(function() return gen_all(depth + 1) end, 2) end
	if maybe() then a.far = gen_int() end
	return a
end

local function mutate(s)
	local k = rnd(5)
	if k == 0 and #s > 0 then return s:sub(1, rnd(#s)) end
	if k == 1 and #s > 0 then
		local p = rnd(#s) + 1
		return s:sub(1, p - 1) .. string.char(rnd(256)) .. s:sub(p + 1)
	end
	if k == 2 then return s .. gen_str() end
	if k == 3 and #s > 2 then
		local p = rnd(#s - 1) + 1
		return s:sub(1, p - 1) .. string.char(rnd(4), rnd(2)) .. s:sub(p + 2)
	end
	return gen_str() .. gen_str()
end

local CHOSEN = {
	{}, { i = 0 }, { i = 0x7ffe }, { i = 0x7fff }, { i = -1 }, { i = 0x7fffffff },
	{ i = 0x80000000 }, { i = math.mininteger }, { i = 2.0 }, { i = "12" },
	{ s = "" }, { s = "\0abc" }, { b = false }, { d = 0.5 }, { d = "2.5" }, { d = "x" },
	{ dec = 1.005 }, { dec = -0.015 }, { dec = "3.14159" }, { ints = {} }, { ints = { 1, -1 } },
	{ ints = { 1, 1 << 33, -1 } }, { dbls = {} }, { bools = { true, false, true } },
	{ decs = { 0.0015, -2 } }, { leaves = { {}, { i = 1 } } }, { byi = { { i = 3, s = "x" } } },
	{ pairs = { { s = "one" }, { i = 2 } } }, { kv = { hello = 7 } }, { far = 1 },
	{ self = { self = { i = 1 } } }, { many = { { s = "a" }, {} } },
	{ ints = setmetatable({}, { __index = function(_, k) if k < 4 then return k * 10 end end }) },
	-- wrong types and bad shapes: the error a program sees
	{ i = 1.5 }, { i = "x" }, { s = 1 }, { b = 0 }, { leaf = 1 }, { ints = { "a" } },
	{ bools = { 1 } }, { strs = { {} } }, { leaves = { 1 } }, { ints = 5 }, { kv = 1 },
	{ dbls = {}, ints = "x" }, { pairs = {}, kv = 2 }, { byi = { { s = "no key" } } },
}

skynet.start(function()
	local sp = sproto.parse([[@SCHEMA@]])
	for i, a in ipairs(CHOSEN) do
		skynet.error("T chosen", i, try(sp.encode, sp, "All", a))
	end
	for i = 1, N do
		local a = gen_all(0)
		local ok, e = pcall(sp.encode, sp, "All", a)
		if not ok then
			skynet.error("T E", i, strip(e))
		else
			local r, used = sp:decode("All", e)
			local p = sproto.pack(e)
			local u = sproto.unpack(p)
			skynet.error("T E", i, hex(e), show(r), used, hex(p), u:sub(1, #e) == e and #u - #e < 8)
			for j = 1, 3 do
				local m = mutate(e)
				skynet.error("T D", i, j, try(sp.decode, sp, "All", m))
				skynet.error("T U", i, j, try(sproto.unpack, m))
			end
		end
	end
	-- packing long runs of full words (more than 256), sparse words and padding
	for i = 1, 30 do
		local parts = {}
		for w = 1, rnd(300) + 1 do
			local kind = rnd(4)
			for b = 1, 8 do
				local z = kind == 0 or (kind == 1 and rnd(8) ~= 0) or (kind == 2 and rnd(8) == 0)
				parts[#parts + 1] = string.char(z and 0 or rnd(255) + 1)
			end
		end
		local s = table.concat(parts):sub(1, -1 - rnd(8))
		local p = sproto.pack(s)
		skynet.error("T P", i, #s, hex(p), sproto.unpack(p):sub(1, #s) == s)
	end
	skynet.error("END")
end)
""".replace("@SCHEMA@", CODEC_SCHEMA)


def test_codec_matches_real_skynet(tree: Tree, real_skynet: str) -> None:
    real, ours = run_both(tree, real_skynet, {"service/main.lua": CODEC_PROGRAM})
    assert_same(as_built(real_skynet, ours), real)
    chosen = {ln.split(" ", 3)[2]: ln for ln in ours if ln.startswith("T chosen")}
    assert chosen["34"].endswith("ERR All.i[0] is not an integer (Is a number)")
    assert chosen["38"].endswith("ERR attempt to index a number value")
    assert sum("decode error" in ln for ln in ours) > 50  # the scrambled messages did fail


# Chosen bytes for the decoder: tags it does not know, values in the wrong part of the
# message, widths, maps with missing halves, reading into a given table.
EDGE_PROGRAM = r"""
local skynet = require "skynet"
local sproto = require "sproto"
local t = require "t"
local try, show = t.try, t.show
skynet.start(function()
	local sp = sproto.parse [[
.Empty {}
.KV { k 0 : integer v 1 : string }
.Leaf { i 0 : integer s 1 : string }
.A { e 0 : Empty  es 1 : *Empty  ds 2 : *double  is 3 : *integer  dec 4 : *integer(2)
     m 5 : *KV()  byi 6 : *Leaf(i)  d 7 : double  b 8 : *boolean  bb 9 : boolean
     e2 10 : Empty  m2 11 : *KV() }
]]
	local cases = {
		"", "\1", "\1\0", "\0\0", "\1\0\4\0", "\1\0\3\0", "\1\0\255\255",
		"\2\0\3\0\0\0\5\0\0\0\4\1\0\0\0", "\2\0\3\0\0\0\9\0\0\0\8\0\0\0\0\0\0\240\63",
		"\2\0\3\0\0\0\1\0\0\0\7", "\2\0\5\0\0\0\1\0\0\0\7", "\2\0\5\0\0\0\3\0\0\0\2\1\2",
		"\2\0\7\0\0\0\5\0\0\0\4\150\0\0\0", "\1\0\0\0\2\0\0\0\0\0", "\1\0\0\0\4\0\0\0\1\0\4\0",
		"\1\0\0\0\3\0\0\0\1\0\4", "\2\0\1\0\0\0\8\0\0\0\2\0\0\0\0\0\0\0",
		"\2\0\11\0\0\0\16\0\0\0\12\0\0\0\2\0\4\0\0\0\1\0\0\0x",
		"\2\0\11\0\0\0\26\0\0\0\12\0\0\0\2\0\4\0\0\0\1\0\0\0x\6\0\0\0\1\0\6\0\0\0",
		"\2\0\11\0\0\0\10\0\0\0\6\0\0\0\2\0\1\0\0\0",
		"\2\0\13\0\0\0\15\0\0\0\11\0\0\0\2\0\1\0\0\0\1\0\0\0a",
		"\2\0\15\0\0\0\2\0\0\0\1\2", "\2\0\15\0\4\0", "\2\0\17\0\4\0", "\2\0\17\0\0\0\1\0\0\0\1",
		"\2\0\13\0\0\0\4\0\0\0\7\0\0\0",
	}
	for i, c in ipairs(cases) do
		skynet.error("T dec", i, try(sp.decode, sp, "A", c))
	end
	local into = { keep = 1 }
	skynet.error("T into", try(sp.decode, sp, "A", "\2\0\17\0\4\0", into), show(into))
	skynet.error("T default", show(sp:default("A")))
	skynet.error("T empty", try(sp.encode, sp, "Empty", nil), try(sp.encode, sp, "A", nil))
	for i, u in ipairs { "", "\255", "\255\0", "\255\0abcdefgh", "\255\0abcdefg", "\1",
			"\1a", "\0\0", "\3ab\255\0abcdefgh", "\254abcdefg", "\254abcdef" } do
		skynet.error("T unpack", i, try(sproto.unpack, u))
	end
	-- called by name (through pcall skynet's C function would be named from package.loaded)
	skynet.error("T pack", try(sproto.pack, ""),
		try(function() local r = sproto.pack(1) return r end),
		try(function() local r = sproto.unpack({}) return r end))
	skynet.error("T new", try(sproto.new, "xx"), try(sproto.new, "\0\0"))
	skynet.error("T type", try(sp.encode, sp, "Nope", {}), try(sp.decode, sp, "A", 5))
	skynet.error("T exist", sp:exist_type("A"), sp:exist_type("Nope"), sp:exist_proto("x"))
	local deep = {}
	local c = deep
	for _ = 1, 64 do c.e = {} c = c.e end
	local r = sproto.parse ".R { r 0 : R  x 1 : integer }"
	local msg = r:encode("R", { x = 1 })
	for _ = 1, 64 do msg = string.pack("<I2I2s4", 1, 0, msg) end
	skynet.error("T deep", try(r.decode, r, "R", msg))
	local tbl = {}
	c = tbl
	for _ = 1, 64 do c.r = {} c = c.r end
	skynet.error("T deep", try(r.encode, r, "R", tbl))
	skynet.error("END")
end)
"""


def test_decoder_edges_match_real_skynet(tree: Tree, real_skynet: str) -> None:
    real, ours = run_both(tree, real_skynet, {"service/main.lua": EDGE_PROGRAM})
    assert_same(as_built(real_skynet, ours), real)
    assert "T type ERR type not found ERR bad argument #2 to 'decode' (Need a string or " \
        "userdata)" in ours
    assert any(ln.startswith("T deep ERR The table is too deep") for ln in ours)


# --- RPC across services and the shared schema slots ----------------------------------------

RPC_SCHEMA = """
.package { type 0 : integer  session 1 : integer  ud 2 : string }
ping 1 {
	request { n 0 : integer  s 1 : string }
	response { ok 0 : boolean  n 1 : integer }
}
note 2 { request { text 0 : string } }
bye 3 { response nil }
"""

RPC_FILES = {
    "proto.sproto": RPC_SCHEMA,
    "service/main.lua": r"""
local skynet = require "skynet"
local sproto = require "sproto"
local parser = require "sprotoparser"
local loader = require "sprotoloader"
local t = require "t"
local hex, show, try = t.hex, t.show, t.try
skynet.start(function()
	skynet.error("T unsaved", try(loader.load, 3), try(loader.load, 16), try(loader.save, "", -1))
	loader.register("proto.sproto", 1)
	loader.save(parser.parse(".Other { x 0 : integer }"), 2)
	local server = skynet.newservice("server")
	local sp = loader.load(1)
	local client = sp:host "package"
	local request = client:attach(sp)
	local calls = {
		{ "ping", { n = 41, s = "hi" }, 1, "first" },
		{ "note", { text = "no answer wanted" } },
		{ "bye", nil, 2 },
		{ "ping", { n = -5 }, 3 },
	}
	for _, c in ipairs(calls) do
		local pkt = request(c[1], c[2], c[3], c[4])
		skynet.error("T request", c[1], hex(pkt))
		local resp = skynet.call(server, "lua", pkt)
		if resp ~= "" then
			skynet.error("T response", hex(resp))
			local r = table.pack(client:dispatch(resp))
			for i = 1, r.n do r[i] = show(r[i]) end
			skynet.error("T client got", table.concat(r, " ", 1, r.n))
		end
	end
	skynet.error("T stale", try(client.dispatch, client, sproto.pack("\2\0\1\0\20\0")))
	-- the protocol helpers, by name and by tag
	for _, p in ipairs { "ping", "note", "bye", 1, 3 } do
		local q = sp:queryproto(p)
		skynet.error("T proto", p, q.name, q.tag, sp:exist_proto(p),
			try(sp.request_encode, sp, p, { n = 7, text = "t" }),
			try(sp.response_encode, sp, p, { ok = false }),
			try(sp.response_encode, sp, p, nil),
			try(sp.request_decode, sp, p, "\1\0\16\0"),
			try(sp.response_decode, sp, p, "\1\0\4\0"),
			try(sp.default, sp, p, "REQUEST"), try(sp.default, sp, p, "RESPONSE"))
	end
	skynet.error("T proto", try(sp.queryproto, sp, "2"), try(sp.queryproto, sp, 9),
		sp:exist_proto(9), try(sp.default, sp, "ping", "BOTH"), try(sp.host, sp, "nope"))
	skynet.error("T other", skynet.call(server, "lua", "other"))
	skynet.error("END")
end)
""",
    "service/server.lua": r"""
local skynet = require "skynet"
local loader = require "sprotoloader"
local t = require "t"
local show = t.show
skynet.start(function()
	local host = loader.load(1):host "package"
	skynet.dispatch("lua", function(_, _, pkt)
		if pkt == "other" then
			local other = loader.load(2)
			skynet.ret(skynet.pack(t.hex(other:encode("Other", { x = 300 }))))
			return
		end
		local kind, name, args, respond, ud = host:dispatch(pkt)
		skynet.error("T server got", kind, name, show(args), type(respond), show(ud))
		if not respond then
			skynet.ret(skynet.pack(""))
		elseif name == "ping" then
			skynet.ret(skynet.pack(respond({ ok = true, n = (args.n or 0) + 1 }, "back")))
		else
			skynet.ret(skynet.pack(respond()))
		end
	end)
end)
""",
}


def test_rpc_and_loader_across_services_match_real_skynet(tree: Tree, real_skynet: str) -> None:
    real, ours = run_both(tree, real_skynet, RPC_FILES)
    assert_same(real, ours)
    assert "T server got REQUEST ping {'n'=41,'s'='hi'} function 'first'" in ours
    assert "T client got 'RESPONSE' 1 {'n'=42,'ok'=true} 'back'" in ours
    assert "T unsaved ERR nil sproto at index 3 ERR Invalid global slot index 16 " \
        "ERR Invalid global slot index -1" in ours


# --- without real skynet -------------------------------------------------------------------

# The wire examples of sproto's README (facts of the format).
README_SCHEMA = """
.Person { name 0 : string  age 1 : integer  marital 2 : boolean  children 3 : *Person }
.Data { numbers 0 : *integer  bools 1 : *boolean  number 2 : integer  bignumber 3 : integer }
"""
README_EXAMPLES = [
    ("Person", '{ name = "Alice", age = 13, marital = false }',
     "03 00 00 00 1C 00 02 00 05 00 00 00 41 6C 69 63 65"),
    ("Person", '{ name = "Bob", age = 40, children = { { name = "Alice", age = 13 }, '
               '{ name = "Carol", age = 5 } } }',
     "04 00 00 00 52 00 01 00 00 00 03 00 00 00 42 6F 62 26 00 00 00 0F 00 00 00 02 00 00 00"
     " 1C 00 05 00 00 00 41 6C 69 63 65 0F 00 00 00 02 00 00 00 0C 00 05 00 00 00 43 61 72 6F"
     " 6C"),
    ("Data", "{ numbers = { 1, 2, 3, 4, 5 } }",
     "01 00 00 00 15 00 00 00 04 01 00 00 00 02 00 00 00 03 00 00 00 04 00 00 00 05 00 00 00"),
    ("Data", "{ numbers = { (1<<32)+1, (1<<32)+2, (1<<32)+3 } }",
     "01 00 00 00 19 00 00 00 08 01 00 00 00 01 00 00 00 02 00 00 00 01 00 00 00 03 00 00 00"
     " 01 00 00 00"),
    ("Data", "{ bools = { false, true, false } }", "02 00 01 00 00 00 03 00 00 00 00 01 00"),
    ("Data", "{ number = 100000, bignumber = -10000000000 }",
     "03 00 03 00 00 00 00 00 04 00 00 00 A0 86 01 00 08 00 00 00 00 1C F4 AB FD FF FF FF"),
]


def lua_state(version: str) -> lua54.LuaRuntime:
    mod = lua54 if version == "5.4" else lua55
    lua = mod.LuaRuntime(encoding=None)
    lua.execute(f'package.path = "{LUALIB}/?.lua"'.encode())
    return lua


@pytest.mark.parametrize("version", ["5.4", "5.5"])
def test_readme_wire_examples(version: str) -> None:
    lua = lua_state(version)
    lua.execute(b'sproto = require "sproto"; sp = sproto.parse [[' + README_SCHEMA.encode()
                + b"]]")
    for typename, table, wire in README_EXAMPLES:
        expected = bytes.fromhex(wire)
        encoded = lua.eval(f'sp:encode("{typename}", {table})'.encode())
        assert encoded == expected, (typename, table)
        again = lua.eval(f'function(s) return sp:encode("{typename}", sp:decode("{typename}", s))'
                         ' end'.encode())
        assert again(encoded) == expected
    # the 0-packing examples
    pack = lua.eval(b"sproto.pack")
    unpack = lua.eval(b"sproto.unpack")
    word = bytes.fromhex("08 00 00 00 03 00 02 00 19 00 00 00 aa 01 00 00")
    assert pack(word) == bytes.fromhex("51 08 03 02 31 19 aa 01")
    assert unpack(pack(word)) == word
    assert pack(b"\x8a" * 30) == b"\xff\x03" + b"\x8a" * 30 + b"\0\0"


@pytest.mark.parametrize("version", ["5.4", "5.5"])
def test_round_trip_and_errors_in_a_bare_state(version: str) -> None:
    """The library needs nothing from skynet but the loader slots: it runs in a plain
    Lua state of either version, with the results its service users get."""
    lua = lua_state(version)
    run = lua.eval(b"""function(schema)
        local sproto = require "sproto"
        local sp = sproto.parse(schema)
        local v = { name = "Ann", id = -7, email = "a@b", phone = {
            { number = "555", type = 2 }, { number = "0", type = 0 } } }
        local bin = sp:pencode("Person", v)
        local back = sp:pdecode("Person", bin)
        local errors = {}
        for _, bad in ipairs { function() return sp:encode("Person", { id = "x" }) end,
                function() return sp:decode("Person", "\\3\\0") end,
                function() return sp:encode("Nobody", {}) end,
                function() return sproto.unpack("\\255") end } do
            local ok, e = pcall(bad)
            errors[#errors + 1] = tostring(e):gsub("^[^:]*:%d+: ", "")
        end
        return back.name, back.id, back.phone[1].number, back.phone[2].type, #back.phone,
            table.concat(errors, "|")
    end""")
    name, ident, number, ptype, count, errors = run(SCHEMAS[0].encode())
    assert (name, ident, number, ptype, count) == (b"Ann", -7, b"555", 0, 2)
    assert errors.decode().split("|") == [
        "Person.id[0] is not an integer (Is a string)", "decode error", "type not found",
        "Invalid unpack stream"]


def test_loader_slots_belong_to_the_node(tree: Tree) -> None:
    """Two services of one node share a slot; a second node starts with none."""
    tree.write({"service/main.lua": r"""
local skynet = require "skynet"
local loader = require "sprotoloader"
local parser = require "sprotoparser"
local mode = ...
skynet.start(function()
	if mode == "save" then
		loader.save(parser.parse(".S { x 0 : integer }"), 5)
	end
	local ok, sp = pcall(loader.load, 5)
	skynet.error(ok and ("LOADED " .. #sp:encode("S", { x = 1 })) or ("NONE " .. sp))
	skynet.error("END")
end)
""", "service/reader.lua": r"""
local skynet = require "skynet"
local loader = require "sprotoloader"
skynet.start(function()
	skynet.error("READER", loader.load(5):exist_type("S"))
end)
"""})

    async def main() -> tuple[list[str], list[str]]:
        node = tree.node()
        await node.start()
        await node.newservice("main", "save")
        await node.newservice("reader")
        await node.wait_idle()
        first = [ln.text for ln in node.logger.history]
        await node.shutdown()
        other = tree.node()
        await other.start()
        await other.newservice("main")
        await other.wait_idle()
        second = [ln.text for ln in other.logger.history]
        await other.shutdown()
        return first, second

    first, second = asyncio.run(main())
    assert "LOADED 4" in first and "READER true" in first
    assert any(ln.startswith("NONE ") and ln.endswith("nil sproto at index 5") for ln in second)


def test_node_command_rejects_nothing_it_should_keep(tree: Tree) -> None:
    """Saving a schema that does not load empties the slot, as skynet's NULL does."""
    tree.write({"service/main.lua": r"""
local skynet = require "skynet"
local loader = require "sprotoloader"
local parser = require "sprotoparser"
skynet.start(function()
	loader.save(parser.parse(".S { x 0 : integer }"), 0)
	loader.save("not a schema", 0)
	skynet.error("AFTER", pcall(loader.load))
	skynet.error("END")
end)
"""})
    lines = tree.run()
    after = [ln for ln in lines if ln.startswith("AFTER")]
    assert len(after) == 1 and after[0].endswith("nil sproto at index 0")
