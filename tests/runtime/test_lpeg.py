"""lpeg (runtime/lualib/lpeg.lua, LPeg 1.1.0 in Lua): one program runs a table of cases
(patterns and the values they capture, grammars, realistic parsers, errors, the backtrack
stack) and logs a line per case. It runs on skykernel and on both real skynet builds (whose
LPeg is the C one), compared line for line, and in bare lupa states of Lua 5.4 and 5.5.
Each case also carries its expected result, so the cases check behaviour where real skynet
is absent too."""

from __future__ import annotations

import importlib
import re
from pathlib import Path
from typing import Any

import pytest
import realskynet
from conftest import Tree

ROOT = Path(__file__).resolve().parents[2]
LUALIB = ROOT / "runtime" / "lualib"

# Called with (lpeg, emit): emits `name | result` per case, `MISMATCH name | ...` when a
# result is not the expected one, and `CASES DONE` at the end.
CASES = r'''-- LPeg behaviour, one line per case: `name | result`. A case with an expected result
-- also logs `MISMATCH name` when the result differs (messages compared without their
-- `file:line:` prefix, which the comparison between implementations checks instead).
local lpeg, emit = ...
local m = lpeg
local P, R, S, V, B = m.P, m.R, m.S, m.V, m.B
local C, Carg, Cb, Cc, Cf, Cg, Cmt, Cp, Cs, Ct = m.C, m.Carg, m.Cb, m.Cc, m.Cf, m.Cg, m.Cmt,
	m.Cp, m.Cs, m.Ct

local function show(v, depth)
	local t = type(v)
	if t == "string" then
		return (string.format("%q", v):gsub("\\\n", "\\n"):gsub("\r", "\\r"))
	elseif t == "number" then
		return math.type(v) == "integer" and string.format("%d", v) or string.format("%.14g", v)
	elseif m.type(v) == "pattern" then
		return "pattern"
	elseif t == "table" then
		if (depth or 0) > 8 then
			return "{...}"
		end
		local keys = {}
		for k in pairs(v) do
			keys[#keys + 1] = k
		end
		table.sort(keys, function(a, b)
			if type(a) == type(b) and (type(a) == "number" or type(a) == "string") then
				return a < b
			end
			return type(a) < type(b)
		end)
		local parts = {}
		for _, k in ipairs(keys) do
			parts[#parts + 1] = (type(k) == "string" and k:match("^[%a_][%w_]*$") and k
				or "[" .. show(k, (depth or 0) + 1) .. "]") .. "=" .. show(v[k], (depth or 0) + 1)
		end
		return "{" .. table.concat(parts, ",") .. "}"
	end
	return t == "function" and "function" or tostring(v)
end

local function result(ok, ...)
	local parts = {}
	for k = 1, select("#", ...) do
		parts[k] = show((select(k, ...)))
	end
	if not ok then
		local e = ...
		return "error " .. (type(e) == "string" and e or show(e))
	end
	return table.concat(parts, ", ")
end

local function report(name, expected, ok, ...)
	local got = result(ok, ...)
	emit(name .. " | " .. got)
	if expected ~= nil and got:gsub("^error [^ ]-:%d+: ", "error ") ~= expected then
		emit("MISMATCH " .. name .. " | expected " .. expected)
	end
end

-- E: a function's values (it must not end in a call into lpeg: a C function keeps its
-- caller's frame and a Lua one does not, so the error positions would differ)
local function E(name, expected, f)
	report(name, expected, pcall(f))
end

-- M: match `patt` (or what the function builds) against a subject
local function M(name, expected, patt, ...)
	local args = table.pack(...)
	report(name, expected, pcall(function()
		local r = table.pack(m.match(patt, table.unpack(args, 1, args.n)))
		return table.unpack(r, 1, r.n)
	end))
end

------------------------------------------------------------------------------------------
-- The module

do
	local names = {}
	for k, v in pairs(m) do
		names[#names + 1] = k .. ":" .. type(v):sub(1, 1)
	end
	table.sort(names)
	E("exports",
		[==["B:f C:f Carg:f Cb:f Cc:f Cf:f Cg:f Cmt:f Cp:f Cs:f Ct:f P:f R:f S:f V:f locale:]==] ..
		[==[f match:f pcode:f ptree:f setmaxstack:f type:f utfR:f version:s"]==],
		function() return table.concat(names, " ") end)
end
E("version", '"LPeg 1.1.0"', function() return m.version end)
E("type", '"pattern", nil, nil, nil',
	function() return m.type(P"a"), m.type("a"), m.type({}), m.type(nil) end)
E("metatable", "true, true", function()
	local mt = getmetatable(P"a")
	return mt == getmetatable(P(1) * 2), mt.__index == m
end)
E("method", "3", function() local x = P"ab":match("abc") return x end)

------------------------------------------------------------------------------------------
-- Basic patterns

M("literal", "4", "abc", "abcd")
M("literal fail", "nil", "abc", "abd")
M("literal empty", "1", "", "xyz")
M("literal nul", "3", P"a\0", "a\0b")
M("number any", "4", P(3), "abcd")
M("number short", "nil", P(3), "ab")
M("number zero", "1", P(0), "")
M("number negative", "nil", P(-2), "ab")
M("number negative end", "2", P"a" * P(-2), "ab")
M("number float", "1", P(2.5), "abc")
M("true", "1", P(true), "x")
M("false", "nil", P(false), "x")
M("set", "2", S"xyz", "y")
M("set miss", "nil", S"xyz", "a")
M("set empty", "nil", S"", "a")
M("set number", "2", S(123), "2")
M("range", "3", R("az", "09") * R"09", "a5")
M("range none", "nil", R(), "a")
M("range reversed", "nil", R"za", "m")
M("range bytes", "2", R"\0\255", "\200")
M("any all", "5", P(1)^0, "\0\1\255x")
M("utfR", [==[10]==], m.utfR(0x80, 0x10ffff)^0, "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80x")
M("utfR ascii", "3", m.utfR(0x61, 0x7a)^1, "ab1")
M("utfR mixed", "5", m.utfR(0, 0x10ffff)^0, "ab\xc3\xa9\xff")
M("utfR overlong", "nil", m.utfR(0, 0x10ffff), "\xc0\x80")
M("utfR surrogate", "4", m.utfR(0, 0x10ffff), "\xed\xa0\x80")
M("utfR truncated", "nil", m.utfR(0x80, 0x7ff), "\xc3")
M("utfR out of range", "nil", m.utfR(0x400, 0x4ff), "\xc3\xa9")
M("seq", "4", P"a" * "b" * "c", "abcd")
M("choice", "2", P"a" + "b", "b")
M("choice ordered", "2", P"a" + "ab", "ab")
M("choice sets", "2", S"ab" + S"cd" + "e", "d")
M("difference", "2", P(1) - "b", "a")
M("difference fails", "nil", P(1) - "b", "b")
M("difference sets", "nil", R"az" - S"aeiou", "e")
M("complement", "3", (1 - S"\n")^1, "ab\ncd")
M("not", "1", -P"a", "b")
M("not fails", "nil", -P"a", "a")
M("and", "1", #P"a", "ab")
M("and fails", "nil", #P"a", "b")
M("end of subject", "4", P"abc" * -1, "abc")
M("not at end", "nil", P"abc" * -1, "abcd")
M("star", "5", P"a"^0, "aaaab")
M("star zero", "1", P"a"^0, "b")
M("plus", "nil", P"a"^1, "b")
M("at least 3", "nil", P"a"^3, "aa")
M("at least 3 ok", "6", P"a"^3, "aaaaa")
M("optional", "2", P"a"^-1, "aaa")
M("at most 2", "3", P"a"^-2, "aaaa")
M("at most group", [==[6]==], (P"ab" + "c")^-3, "abcab")
M("possessive", "nil", P"a"^0 * "a", "aaa")
M("behind", "3", P"ab" * B"b", "abc")
M("behind fails", "nil", P"a" * B"b", "ab")
M("behind start", "nil", B"a", "abc")
M("behind set", [==[5]==], (P(1) - B"a")^0, "xyzab")
M("behind not", "nil", P"ab" * -B"b", "ab")
M("behind grammar", "2", P"a" * B(P{ "x", x = P"a" }), "abc")
M("fn pattern", "3", P(function(s, i) return i + 2 end), "abc")
M("fn pattern fails", "nil", P(function() return false end), "abc")
M("table grammar", "4", P{ "s", s = "a" * V"s" + "b" }, "aab")

------------------------------------------------------------------------------------------
-- match: subject, init, extra arguments

M("init", "4", P"c", "abc", 3)
M("init past end", "4", Cp(), "abc", 10)
M("init zero", "4", Cp(), "abc", 0)
M("init negative", "3", Cp(), "abc", -1)
M("init negative far", "1", Cp(), "abc", -10)
M("init string", "3", Cp(), "abc", "3")
M("subject number", [==["1", "2", "5"]==], C(1)^0, 125)
M("subject float", '"1", ".", "5"', C(1)^0, 1.5)
M("extra args", '"y", "x"', Carg(2) * Carg(1), "", 1, "x", "y")
M("extra nil init", '"z"', Carg(1), "", nil, "z")
E("match as function", "3", function() local x = m.match("ab", "abc") return x end)
E("match grammar table", "2", function() local x = m.match({ P"a" }, "a") return x end)

------------------------------------------------------------------------------------------
-- Captures

M("C", '"ab"', C"ab", "abc")
M("C nested", '"abc", "a", "bc", "b"', C(C"a" * C(C"b" * "c")), "abc")
M("C optional", '""', C(P"a"^-1), "b")
M("C fails", "1", C"a"^-1, "b")
M("Cp", "1, 3", Cp() * "ab" * Cp(), "ab")
M("Cc", '1, "two", nil', Cc(1, "two", nil), "")
M("Cc none", "1", Cc(), "x")
M("Cc nils", "nil, nil", Cc(nil, nil), "")
M("Carg", "42", Carg(1), "", 1, 42)
M("Cg anonymous", '"a", "b", "c"', Cg(C"a" * C"b") * C"c", "abc")
M("Cg named no values", "3", Cg(C"a", "k") * "b", "ab")
M("Cg in Ct", '{[1]="c",k="a"}', Ct(Cg(C"a", "k") * "b" * C"c"), "abc")
M("Cg named first value", '{k="a"}', Ct(Cg(C"a" * C"b", "k")), "ab")
M("Cg named empty", '{k="ab"}', Ct(Cg(P"ab", "k")), "ab")
M("Cb", [==["", "a", ""]==], Cg(C"a", "k") * C"" * Cb"k" * C"", "a")
M("Cb most recent", '"b"', Cg(C"a", "k") * Cg(C"b", "k") * Cb"k", "ab")
M("Cb values", '"a", "b"', Cg(C"a" * C"b", "k") * Cb"k", "ab")
M("Cb whole match", '"ab"', Cg(P"a" * "b", "k") * Cb"k", "ab")
M("Cb outer group", '"b"', Cg(Cg(C"a", "k") * C"b", "k") * Cb"k", "ab")
M("Cb from enclosed", '"b", "a", "a"',
	Cg(C"a", "k") * (Ct(C"b" * Cb"k") / table.unpack) * Cb"k", "ab")
M("Cb hidden by capture", "error back reference 'k' not found",
	Cg(C"a", "k") * Ct(C"b") / table.unpack * Cb"k", "ab")
M("Cb inside table not visible", "error back reference 'k' not found",
	Ct(Cg(C"a", "k")) * Cb"k", "a")
M("Cb inside capture not visible", "error back reference 'k' not found",
	C(Cg(C"a", "k")) * Cb"k", "a")
M("Cb enclosing", "2", Cg(C"a" * Cb"k", "k"), "a")
M("Cb nil name", [==["a", "a"]==], Cg(C"a") * Cb(nil), "a")
M("Cb number name", '"x"', Cg(C"x", 1) * Cb(1), "x")
M("Cb reevaluates", '"a1", "a2"', (function()
	local n = 0
	return Cg(C"a" / function(x) n = n + 1 return x .. n end, "k") * Cb"k" * Cb"k"
end)(), "a")
M("Cs", '"bAnAnA"', Cs((P"a" / "A" + 1)^0), "banana")
M("Cs no nested", '"xyz"', Cs(P"xyz"), "xyz")
M("Cs keeps valueless", '"ab"', Cs(P"a" / {} * "b"), "ab")
M("Cs number", '"5"', Cs(C"a" / function() return 5 end), "a")
M("Cs float", '"5.0"', Cs(C"a" / function() return 5.0 end), "a")
M("Cs named group", '"ab"', Cs(Cg(P"a", "x") * "b"), "ab")
M("Cs nested Cs", [==["C"]==], Cs(Cs(P"a" / "1" * "b") / "[%0]" * C"c" / "C"), "abc")
M("Cs fixed in table", [==[{[1]="a",[2]="B",[3]="c"}]==],
	Ct(Cs(P(1)) * Cs(P"b" / "B") * C(1)), "abc")
M("Cs fixed counted", "2",
	Cmt(Cs(P(2))^-3, function(s, i, ...) return i, select("#", ...) end), "bbbb")
M("Cs Cmt", '"aXd"', Cs("a" * Cmt("b", function(s, i) return i + 1, "X" end) * "d"), "abcd")
M("Ct", [==[{[1]="a",[2]="b",[3]="c"}]==], Ct(C(1)^0), "abc")
M("Ct empty", "{}", Ct(P"a"), "a")
M("Ct mixed", [==[{[1]="a",[2]=1,[3]=2,[4]="c",k="b"}]==],
	Ct(C"a" * Cg(C"b", "k") * Cc(1, 2) * Cg(C"c")), "abc")
M("Ct nested", [==[{[1]={[1]="a"},[2]={[1]="b",[2]="c"}}]==], Ct(Ct(C"a") * Ct(C"b" * C"c")), "abc")
M("Ct nils", "{[2]=1}", Ct(Cc(nil, 1, nil)), "")
M("Ct positions", [==[{[1]=1,[2]=2}]==], Ct(Cp() * "a" * Cp()), "a")
M("string capture", [==["<abc|abc|a|bc|b|>"]==],
	C(C"a" * C(C"b" * C"c")) / "<%0|%1|%2|%3|%4|>", "abc")
M("string capture pct", '"[a%x]"', C"a" / "[%1%%%x]", "a")
M("string capture trailing pct", '"x\\0"', C"a" / "x%", "a")
M("string capture ten", '"iabcdefghij"',
	(C"a" * C"b" * C"c" * C"d" * C"e" * C"f" * C"g" * C"h" * C"i" * C"j") / "%9%0", "abcdefghij")
M("string capture group", '"a"', Cg(C"a" * C"b") / "%1", "ab")
M("string capture position", '"1-3"', (Cp() * "ab" * Cp()) / "%1-%2", "ab")
M("string capture calls twice", '"a1a2"', (function()
	local n = 0
	return (C"a" / function(x) n = n + 1 return x .. n end) / "%1%1"
end)(), "a")
M("number capture", '"b"', (C"a" * C"b") / 2, "ab")
M("number capture zero", '"c"', (C"a" * C"b") / 0 * C"c", "abc")
M("number capture whole", '"ab"', P"ab" / 1, "ab")
M("number capture nil", "nil", (C"a" * C"b" * Cc(nil)) / 3, "ab")
M("query", '"A"', C"a" / { a = "A" }, "a")
M("query first value", "1", (C"a" * C"b") / { a = 1, b = 2 }, "ab")
M("query missing", '"a"', C"a" / { b = 1 } * C"a", "aa")
M("query false", "false", C"a" / { a = false }, "a")
M("query metatable", '"a?"',
	C"a" / setmetatable({}, { __index = function(_, k) return k .. "?" end }), "a")
M("function capture", '"a", "aa", nil, "b"',
	C(1) / function(x) return x, x .. x, nil end * C(1), "ab")
M("function no values", '"b"', C(1) / function() end * C(1), "ab")
M("function whole", '1, "ab"', P"ab" / function(...) return select("#", ...), ... end, "ab")
M("Cf", "10",
	Cf((R"09"^1 / tonumber) * ("," * (R"09"^1 / tonumber))^0, function(a, b) return a + b end),
	"1,2,3,4")
M("Cf table", '{a="b",c="d"}',
	Cf(Ct"" * Cg(C(R"az"^1) * "=" * C(R"az"^1) * P","^-1)^0, rawset), "a=b,c=d")
M("Cf multi", "3", Cf(Cc(1, 2) * Cc(3, 4), function(a, ...) return a + select("#", ...) end), "")
M("Cf anonymous group", '"a"', Cf(Cg(P"a"), print), "a")
M("accumulator", "83",
	(R"09"^1 / tonumber) * ("," * (R"09"^1 / tonumber) % function(a, b) return a + b end)^0,
	"10,30,43")
M("accumulator table", '{a="b",c="hi",next="pi"}', (function()
	local name = C(R"az"^1) * S" "^0
	local pair = name * "=" * S" "^0 * name * S",;"^-1 * S" "^0
	return Ct"" * (pair % rawset)^0
end)(), "a=b, c = hi; next = pi")
M("accumulator optional", '"COUNT"', C(R"az"^1) * (P"^" % string.upper)^-1, "count^")
M("accumulator in group", '"ab", "c"',
	Cg(C"a" * (C"b" % function(a, b) return a .. b end)) * C"c", "abc")
M("Cmt", '"ab"', Cmt(C"a" * C"b", function(s, i, a, b) return i, a .. b end), "ab")
M("Cmt true", '"x"', P"a" * Cmt(P"b", function(s, i) return true, "x" end), "ab")
M("Cmt position", "4", Cmt(P"a", function(s, i) return i + 2 end), "abcd")
M("Cmt string position", "3", Cmt(P"a", function() return "3" end), "abc")
M("Cmt fails", '"x"', Cmt(C"a", function() return false end) + C"a" / "x", "a")
M("Cmt no values", '"y"', Cmt(C"a", function() end) + C"a" / "y", "a")
M("Cmt arguments", [==["xab", 3, "a", 3]==],
	P"x" * Cmt(C"a" * Cp(), function(...) return true, ... end), "xab")
M("Cmt in table", [==[{[1]="b",[2]="a"}]==],
	Ct(Cmt(C"a" * C"b", function(s, i, a, b) return true, b, a, nil end)), "ab")
M("Cmt nested", [==["a,A,b"]==],
	Cmt(C(Cmt(C"a", function(s, i, a) return i, a:upper() end)) * C"b",
		function(s, i, ...) return i, table.concat({ ... }, ",") end),
	"ab")
M("Cmt sees groups", '"a!"',
	Cg(C"a", "k") * Cmt(Cb"k", function(s, i, v) return true, v .. "!" end), "a")
M("Cmt Carg", "42", Cmt(Carg(1), function(s, i, a) return true, a * 2 end), "", 1, 21)
M("Cmt runs at match time", '"y", 1', (function()
	local calls = 0
	local p = Cmt(P"a", function() calls = calls + 1 return true end) * "b" + C"ac" / "y"
	return p / function(v) return v, calls end
end)(), "ac")
M("Cmt nested match", '"xx", "yy"',
	Cmt(C(P"y"^1), function(s, i, c) return i, m.match(C(P"x"^1), "xx"), c end), "yy")
M("and drops captures", '"a"', #C"a" * C(1), "a")
M("not drops captures", '"a"', -C"b" * C(1), "a")

------------------------------------------------------------------------------------------
-- Grammars

M("grammar", [==[6]==], P{ "S", S = "(" * V"S" * ")" + "x" }, "((x))")
M("grammar balanced", "9",
	P{ "S",
		S = "a" * V"B" + "b" * V"A" + "",
		A = "a" * V"S" + "b" * V"A" * V"A",
		B = "b" * V"S" + "a" * V"B" * V"B",
	} * -1,
	"abbaabba")
M("grammar index rule", "3", P{ P"a" * V(2), P"b" }, "ab")
M("grammar numbered first", "2", P{ [1] = 3, [3] = P"y" }, "y")
M("grammar search", "7, 12", (function()
	local Cp = Cp()
	return P{ Cp * "world" * Cp + 1 * V(1) }
end)(), "hello world!")
M("grammar unused rule", "2", P{ "a", a = P"x", b = P"y" * V"b" }, "x")
E("grammar self reference", "error rule 'b' may be left recursive",
	function() local x = P{ "a", a = P"x", b = V"b" } return x end)
E("grammar behind a predicate", "nil, nil", function()
	-- LPeg's left-recursion check takes a grammar under a predicate as consuming input
	local inner = P{ "S", S = P"ab" * V"S" }
	local p = P{ "S", S = Cg(#inner, "n") * Cb"n" * V"S" }
	local a, b = p:match(""), p:match("abab")
	return a, b
end)
M("grammar nested", '"x", "y"', P{ "a", a = C"x" * P{ "b", b = C"y" } }, "xy")
M("grammar captures", [==[{[1]="a",[2]={[1]="b",[2]={[1]="c"}}}]==],
	P{ "L", L = Ct(C(R"az") * (V"L")^-1) }, "abc")

-- Deep nesting (the Lua code for it is split into several functions)
do
	local p = P"z"
	for _ = 1, 40 do
		p = (P"a" * p + P"b") * P"c"^-1
	end
	local q = C"x" * (p * "!" + P"a"^1) * C"y"
	M("deep nesting", '"x", "y"', q, "x" .. ("a"):rep(30) .. "b!y")
	M("deep nesting backtracks", '"x", "y"', q, "x" .. ("a"):rep(30) .. "y")
	M("deep nesting fails", "nil", q, "x" .. ("a"):rep(30) .. "z")
end

------------------------------------------------------------------------------------------
-- Errors while building

E("left recursive", "error rule 'a' may be left recursive",
	function() local x = P{ "a", a = V"a" * "x" } return x end)
E("left recursive mutual", "error rule 'a' may be left recursive",
	function() local x = P{ "a", a = V"b", b = V"a" } return x end)
E("left recursive nullable", "error rule 'a' may be left recursive",
	function() local x = P{ "a", a = P"x"^-1 * V"a" } return x end)
E("left recursive in unused", "error rule 'c' may be left recursive",
	function() local x = P{ "a", a = P"x", b = V"c", c = V"c" } return x end)
E("empty loop", "error loop body may accept empty string", function() local x = P""^0 return x end)
E("empty loop nested", "error loop body may accept empty string",
	function() local x = (P"a"^0)^1 return x end)
E("empty loop predicate", "error loop body may accept empty string",
	function() local x = (-P"a")^0 return x end)
E("empty loop in rule", "error empty loop in rule 'a'",
	function() local x = P{ "a", a = V"b"^0, b = P"x"^-1 } return x end)
E("undefined rule", "error rule 'b' undefined in given grammar",
	function() local x = P{ "a", a = V"b" } return x end)
E("undefined rule number", "error rule '2' undefined in given grammar",
	function() local x = P{ "a", a = V(2) } return x end)
E("no initial rule", "error grammar has no initial rule", function() local x = P{} return x end)
E("initial rule missing", "error grammar has no initial rule",
	function() local x = P{ "a" } return x end)
E("initial rule not pattern", "error initial rule 'a' is not a pattern",
	function() local x = P{ "a", a = 1 } return x end)
E("rule not pattern", "error rule 'b' is not a pattern",
	function() local x = P{ "a", a = P"x", b = "s" } return x end)
E("used outside grammar", "error rule 'a' used outside a grammar",
	function() local x = m.match(V"a", "x") return x end)
E("used outside grammar number", "error rule '1' used outside a grammar",
	function() local x = m.match(P"x" * V(1), "x") return x end)
E("behind variable", "error bad argument #1 to 'B' (pattern may not have fixed length)",
	function() local x = B(P"a"^1) return x end)
E("behind captures", "error bad argument #1 to 'B' (pattern have captures)",
	function() local x = B(C"a") return x end)
E("behind too long", "error bad argument #1 to 'B' (pattern too long to look behind)",
	function() local x = B(P(300)) return x end)
E("behind empty set", "pattern", function() local x = B(S"" ^ -1) return x end)
E("range length", "error bad argument #2 to 'R' (range must have two characters)",
	function() local x = R("az", "b") return x end)
E("set nil", "error bad argument #1 to 'S' (string expected, got nil)",
	function() local x = S(nil) return x end)
E("P no value", "error bad argument #1 to 'P' (value expected)",
	function() local x = P() return x end)
E("P nil", "error bad argument #1 to 'P' (lpeg-pattern expected, got nil)",
	function() local x = P(nil) return x end)
E("operator nil", "error bad argument #2 to 'add' (lpeg-pattern expected, got nil)",
	function() local x = P"a" + nil return x end)
E("operator thread", "error bad argument #2 to 'mul' (lpeg-pattern expected, got thread)",
	function() local x = P"a" * coroutine.create(print) return x end)
E("pow float", "error bad argument #2 to 'pow' (number has no integer representation)",
	function() local x = P"a"^1.5 return x end)
E("pow table", "error bad argument #2 to 'pow' (number expected, got table)",
	function() local x = P"a"^{} return x end)
E("div boolean", "error unexpected boolean as 2nd operand to LPeg '/'",
	function() local x = P"a" / true return x end)
E("div pattern", "error unexpected userdata as 2nd operand to LPeg '/'",
	function() local x = P"a" / P"b" return x end)
E("div negative", "error bad argument #1 to 'div' (invalid number)",
	function() local x = P"a" / -1 return x end)
E("V nil", "error bad argument #1 to 'V' (non-nil value expected)",
	function() local x = V(nil) return x end)
E("Cb no value", "error bad argument #1 to 'Cb' (value expected)",
	function() local x = Cb() return x end)
E("Carg zero", "error bad argument #1 to 'Carg' (invalid argument index)",
	function() local x = Carg(0) return x end)
E("Cf not function", "error bad argument #2 to 'Cf' (function expected, got number)",
	function() local x = Cf(P"a", 1) return x end)
E("Cmt not function", [==[error bad argument #2 to 'Cmt' (function expected, got no value)]==],
	function() local x = Cmt(P"a") return x end)
E("C no value", "error bad argument #1 to 'C' (lpeg-pattern expected, got no value)",
	function() local x = C() return x end)
E("utfR empty", "error bad argument #2 to 'utfR' (empty range)",
	function() local x = m.utfR(5, 2) return x end)
E("utfR invalid", "error bad argument #2 to 'utfR' (invalid code point)",
	function() local x = m.utfR(5, 0x110000) return x end)
E("setmaxstack range", "error bad argument #1 to 'setmaxstack' (out of range)",
	function() local x = m.setmaxstack(0) return x end)
E("locale not table", "error bad argument #1 to 'locale' (table expected, got number)",
	function() local x = m.locale(5) return x end)
E("local name", "error bad argument #1 to 'range' (range must have two characters)",
	function() local range = R local x = range("x") return x end)
E("method name", "error bad argument #1 to 'match' (string expected, got no value)",
	function() local x = P"a":match() return x end)
E("pcall name", "false, \"bad argument #1 to 'lpeg.R' (range must have two characters)\"",
	function() local ok, e = pcall(R, "x") return ok, e end)

------------------------------------------------------------------------------------------
-- Errors while matching

M("match subject nil", "error bad argument #2 to 'match' (string expected, got nil)", P"a", nil)
M("match init type", "error bad argument #3 to 'match' (number expected, got table)", P"a", "a", {})
M("match init float", "error bad argument #3 to 'match' (number has no integer representation)",
	P"a", "a", 1.5)
M("absent argument", "error reference to absent extra argument #2", Carg(2), "", 1, "a")
M("back reference missing", "error back reference 'x' not found", Cb"x", "")
M("back reference nil missing", "error back reference '(null)' not found", Cb(nil), "")
M("fold without value", "error no initial value for fold capture",
	Cf(Cg(C"a", "n") * C"b", print), "ab")
M("fold nothing", "error no initial value for fold capture", Cf(P"a", print), "a")
M("number capture missing", "error no capture '2'", C"a" / 2, "a")
M("string capture index", "error invalid capture index (2)", C"a" / "%2", "a")
M("string capture value", "error invalid capture value (a table)", (P"a" / { a = {} }) / "%1", "a")
M("string capture no value", "error no values in capture index 1", (P"a" / {}) / "%1", "a")
M("replacement value", "error invalid replacement value (a table)", Cs(P"a" / { a = {} }), "a")
M("replacement pattern", "error invalid replacement value (a userdata)",
	Cs(P"a" / { a = P"x" }), "a")
M("accumulator no previous", "error no previous value for accumulator capture", P"a" % print, "a")
M("accumulator in Cs", "error invalid context for an accumulator capture",
	Cs(C"a" * (C"b" % print)), "ab")
M("accumulator not callable", "error attempt to call a number value", C"x" * (P"a" % 1), "xa")
M("Cmt bad position", "error invalid position returned by match-time capture",
	Cmt(P"a", function() return 10 end), "abc")
M("Cmt position behind", "error invalid position returned by match-time capture",
	Cmt(P"ab", function() return 2 end), "abc")
M("Cmt position float", "error invalid position returned by match-time capture",
	Cmt(P"a", function() return 2.5 end), "abc")
M("Cmt position table", "error invalid position returned by match-time capture",
	Cmt(P"a", function() return {} end), "abc")
M("capture function error", "error boom", C"a" / function() error("boom", 0) end, "a")
M("capture function error value", "error {code=7}", C"a" / function() error({ code = 7 }) end, "a")

------------------------------------------------------------------------------------------
-- The backtrack stack

do
	local function deepest(p, make, limit)
		local last = 0
		for k = 1, limit do
			local ok, r = pcall(m.match, p, make(k))
			if not ok then
				return last, r
			end
			last = k
		end
		return last
	end
	local paren = P{ "S", S = "(" * V"S" * ")" + "x" }
	local nest = function(k) return ("("):rep(k) .. "x" .. (")"):rep(k) end
	E("stack default", '398, "backtrack stack overflow (current limit is 400)"',
		function() return deepest(paren, nest, 1000) end)
	E("stack 1000", '998, "backtrack stack overflow (current limit is 1000)"', function()
		m.setmaxstack(1000)
		local a, b = deepest(paren, nest, 2000)
		m.setmaxstack(400)
		return a, b
	end)
	E("stack below initial", '398, "backtrack stack overflow (current limit is 10)"', function()
		m.setmaxstack(10)
		local a, b = deepest(paren, nest, 1000)
		m.setmaxstack(400)
		return a, b
	end)
	E("stack choice and call", '199, "backtrack stack overflow (current limit is 400)"', function()
		local g = P{ "S", S = "a" * V"S" * "b" + "" }
		return deepest(g, function(k) return ("a"):rep(k) .. ("b"):rep(k) end, 1000)
	end)
	E("stack tail call", "3000", function()
		return deepest(P{ "S", S = "a" * V"S" + "" }, function(k) return ("a"):rep(k) end, 3000)
	end)
	E("stack two rules", '199, "backtrack stack overflow (current limit is 400)"', function()
		local g = P{ "A", A = "(" * V"B" * ")" + "x", B = "[" * V"A" * "]" + "y" }
		return deepest(g, function(k) return ("(["):rep(k) .. "x" .. ("])"):rep(k) end, 1000)
	end)
	E("stack loop in rule", '398, "backtrack stack overflow (current limit is 400)"', function()
		return deepest(P{ "S", S = "(" * V"S"^0 * ")" + "x" }, nest, 1000)
	end)
	E("stack nested choices", '399, "backtrack stack overflow (current limit is 400)"', function()
		local last = 0
		for k = 390, 410 do
			local p = P"x"
			for _ = 1, k do
				p = P"a" * p + P"a"
			end
			local ok, r = pcall(m.match, p, ("a"):rep(k))
			if not ok then
				return last, r
			end
			last = k
		end
		return last
	end)
	E("stack message position", "true", function()
		local ok, e = pcall(function() local x = m.match(paren, nest(500)) return x end)
		return not ok and e:find(":%d+: backtrack stack overflow") ~= nil
	end)
end

------------------------------------------------------------------------------------------
-- locale

E("locale classes",
	'"alnum:62 alpha:52 cntrl:33 digit:10 graph:94 lower:26 print:95 punct:32 space:6 '
		.. 'upper:26 xdigit:22"',
	function()
	local l = m.locale()
	local out = {}
	for k, v in pairs(l) do
		local n = 0
		for c = 0, 255 do
			if v:match(string.char(c)) then
				n = n + 1
			end
		end
		out[#out + 1] = k .. ":" .. n
	end
	table.sort(out)
	return table.concat(out, " ")
end)
E("locale into table", "true, \"pattern\"", function()
	local t = {}
	local r = m.locale(t)
	return r == t, m.type(t.space)
end)

------------------------------------------------------------------------------------------
-- Realistic grammars

-- JSON-ish: objects, arrays, strings with escapes, numbers, true/false/null
local json
do
	local ws = S" \t\r\n"^0
	local digits = R"09"^1
	local exponent = S"eE" * S"+-"^-1 * digits
	local number = C(P"-"^-1 * digits * ("." * digits)^-1 * exponent^-1) / tonumber
	local escapes = {
		['"'] = '"', ["\\"] = "\\", ["/"] = "/", b = "\b", f = "\f", n = "\n", r = "\r", t = "\t",
	}
	local hex = R("09", "af", "AF")
	local escape = (P"\\" * C(S'"\\/bfnrt')) / escapes
		+ (P"\\u" * C(hex * hex * hex * hex)) / function(h) return utf8.char(tonumber(h, 16)) end
	local str = '"' * Cs(((P(1) - S'"\\') + escape)^0) * '"'
	local lit = P"true" * Cc(true) + P"false" * Cc(false) + P"null" * Cc(nil)
	json = P{ "doc",
		doc = ws * V"value" * ws * -1,
		value = str + number + V"object" + V"array" + lit,
		member = Cg(ws * str * ws * ":" * ws * V"value" * ws),
		object = "{" * Cf(Ct"" * (V"member" * ("," * V"member")^0)^-1, rawset) * ws * "}",
		array = "[" * Ct((ws * V"value" * ws * ("," * ws * V"value" * ws)^0)^-1) * ws * "]",
	}
end
M("json object", [==[{a=1,b={[1]=true,[2]=false,[3]="x"},c={d=-2.5},e="q\"\n\9"}]==],
	json, '{"a": 1, "b": [true, false, "x"], "c": {"d": -2.5e0}, "e": "q\\"\\n\\t"}')
M("json array", [==[{[1]=1,[2]=2,[3]={},[4]={}}]==], json, " [1, 2, [], {}] ")
M("json unicode", '"é€"', json, '"\\u00e9\\u20ac"')
M("json nested", [==[{[1]={[1]={[1]={[1]={[1]={[1]="deep"}}}}}}]==], json, '[[[[[["deep"]]]]]]')
M("json null member", '{}', json, '{"a": null}')
M("json bad", "nil", json, '{"a": }')
M("json trailing", "nil", json, "[1, 2] x")

-- CSV: quoted fields with commas, doubled quotes and newlines; empty fields
local csv
do
	local field = '"' * Cs(((P(1) - '"') + P'""' / '"')^0) * '"' + C((1 - S',\n"')^0)
	local record = Ct(field * ("," * field)^0)
	csv = Ct((record * "\n")^0 * (#P(1) * record)^-1) * -1
end
M("csv",
	[==[{[1]={[1]="a",[2]="b",[3]="c"},[2]={[1]="1",[2]="",[3]="3"},[3]={[1]="x,y",[2]="say ]==] ..
	[==[\"hi\"",[3]="line\nbreak"}}]==],
	csv, 'a,b,c\n1,,3\n"x,y","say ""hi""","line\nbreak"\n')
M("csv no newline", [==[{[1]={[1]="a"},[2]={[1]="b"}}]==], csv, "a\nb")
M("csv unclosed quote", "nil", csv, 'a,"b\n')

-- Arithmetic with precedence, parentheses, unary minus; evaluated while parsing
local calc
do
	local sp = S" \t"^0
	local num = C(R"09"^1 * ("." * R"09"^1)^-1) / tonumber * sp
	local function op(chars)
		return C(S(chars)) * sp
	end
	local ops = {
		["+"] = function(a, b) return a + b end, ["-"] = function(a, b) return a - b end,
		["*"] = function(a, b) return a * b end, ["/"] = function(a, b) return a / b end,
		["^"] = function(a, b) return a ^ b end,
	}
	local function fold(acc, o, b)
		return ops[o](acc, b)
	end
	calc = P{ "E",
		E = sp * V"sum" * -1,
		sum = Cf(V"prod" * Cg(op"+-" * V"prod")^0, fold),
		prod = Cg(V"pow" * (Cg(op"*/" * V"pow") % fold)^0),
		pow = Cf(V"unary" * Cg(op"^" * V"pow")^-1, fold),
		unary = "-" * sp * V"unary" / function(x) return -x end + V"atom",
		atom = num + "(" * sp * V"sum" * ")" * sp,
	}
end
M("calc", "7", calc, "1 + 2 * 3")
M("calc parens", "9", calc, "(1 + 2) * 3")
M("calc power right", "512", calc, "2 ^ 3 ^ 2")
M("calc unary", "-4", calc, "- (1 + 3)")
M("calc float", "2.5", calc, "10 / 4")
M("calc left", "1", calc, "10 - 4 - 5")
M("calc bad", "nil", calc, "1 + ")

-- A schema language in the style of sproto's: types with fields `name tag : type`,
-- arrays `*type`, maps `*type(key)`, nested types, and protocols
local schema
do
	local blank = S" \t\r\n"^1 + "#" * (1 - P"\n")^0
	local sp = blank^0
	local word = R("az", "AZ", "__") * R("az", "AZ", "09", "__")^0
	local name = C(word)
	local tag = R"09"^1 / tonumber
	local typename = C(word * ("." * word)^0)
	local fieldtype = Ct(Cg(P"*" * Cc(true), "array")^-1 * Cg(typename, "type")
		* ("(" * sp * Cg(name, "key") * sp * ")")^-1)
	local field = Ct(Cg(name, "name") * sp * Cg(tag, "tag") * sp * ":" * sp * Cg(fieldtype, "type"))
	schema = P{ "all",
		all = Ct(sp * ((V"type" + V"protocol") * sp)^0) * -1,
		body = "{" * sp * Ct(((field + V"type") * sp)^0) * "}",
		type = Ct(Cg(Cc"type", "kind") * "." * Cg(name, "name") * sp * Cg(V"body", "body")),
		message = Ct(Cg(C(P"request" + P"response"), "which") * sp
			* (Cg(typename, "type") + Cg(V"body", "body"))),
		protocol = Ct(Cg(Cc"protocol", "kind") * Cg(name, "name") * sp * Cg(tag, "tag") * sp
			* "{" * sp * Ct((V"message" * sp)^0) * "}"),
	}
end
M("schema",
	[==[{[1]={body={[1]={name="name",tag=0,type={type="string"}},[2]={name="id",tag=1,ty]==] ..
	[==[pe={type="integer"}},[3]={name="emails",tag=2,type={array=true,type="string"}},[]==] ..
	[==[4]={body={[1]={name="number",tag=0,type={type="string"}}},kind="type",name="Phon]==] ..
	[==[e"},[5]={name="phones",tag=3,type={array=true,key="number",type="Phone"}}},kind=]==] ..
	[==["type",name="Person"},[2]={[1]={[1]={type="Person",which="request"},[2]={body={[]==] ..
	[==[1]={name="ok",tag=0,type={type="boolean"}}},which="response"}},kind="protocol",n]==] ..
	[==[ame="get",tag=1}}]==],
	schema, [[
.Person {	# a person
	name 0 : string
	id 1 : integer
	emails 2 : *string
	.Phone {
		number 0 : string
	}
	phones 3 : *Phone(number)
}
get 1 {
	request Person
	response { ok 0 : boolean }
}
]])
M("schema bad", "nil", schema, ".T { x : integer }")

-- Reuse: a compiled pattern matches many subjects, including from inside a capture
E("reuse", '"1|2|3", "a|b"', function()
	local item = C(R("09", "az")^1)
	local list = Ct(item * ("," * item)^0) / function(t) return table.concat(t, "|") end
	local a = list:match("1,2,3")
	local b = list:match("a,b")
	return a, b
end)
emit("CASES DONE")
'''

NCASES = len(re.findall(r"^\s*[ME]\(\"", CASES, re.MULTILINE))

SERVICE = """
local skynet = require "skynet"
skynet.start(function()
	local run = assert(loadfile("./service/lpeg_cases.lua"))
	skynet.error("BEGIN")
	run(require "lpeg", skynet.error)
	skynet.error("END")
end)
"""


def between(lines: list[str]) -> list[str]:
    """The program's lines, BEGIN and END excluded."""
    start = lines.index("BEGIN")
    return lines[start + 1: lines.index("END", start)]


def check_cases(lines: list[str]) -> None:
    mismatches = [ln for ln in lines if ln.startswith("MISMATCH ")]
    assert not mismatches, "\n".join(mismatches)
    assert lines[-1] == "CASES DONE"
    assert len(lines) == NCASES + 1


# --- on nodes -------------------------------------------------------------------------------


def test_cases_on_skykernel(tree: Tree) -> None:
    tree.write({"service/main.lua": SERVICE, "service/lpeg_cases.lua": CASES})
    check_cases(between(tree.run(timeout=120)))


def test_same_lines_as_real_skynet(tree: Tree, real_skynet: str) -> None:
    tree.write({"service/main.lua": SERVICE, "service/lpeg_cases.lua": CASES})
    config = realskynet.write_config(tree.root)
    real = between(realskynet.run(config, real_skynet, cwd=tree.root, timeout=120))
    ours = between(tree.run(timeout=120))
    check_cases(real)
    assert ours == real


# A match-time capture whose function waits for another service (skynet.call yields):
# each match keeps its own state, so two requests matching at once do not mix. (LPeg's C
# raises "attempt to yield across a C-call boundary" there.)
CHECKER = """
local skynet = require "skynet"
skynet.start(function()
	skynet.dispatch("lua", function(_, _, word)
		skynet.sleep(word == "slow" and 20 or 1)
		skynet.ret(skynet.pack(#word > 2))
	end)
end)
"""

PARSER = """
local skynet = require "skynet"
local lpeg = require "lpeg"
skynet.start(function()
	local checker = skynet.newservice("checker")
	local word = lpeg.C(lpeg.R"az"^1)
	local checked = lpeg.Cmt(word, function(_, i, w)
		return skynet.call(checker, "lua", w) and i, w:upper()
	end)
	local list = lpeg.Ct(checked * ("," * checked)^0) * -1
	local done = 0
	local function parse(text)
		local t = list:match(text)
		skynet.error(text, t and table.concat(t, " ") or "no match")
		done = done + 1
	end
	skynet.fork(parse, "slow,abc,defg")
	skynet.fork(parse, "quick,xyz")
	skynet.fork(parse, "quick,no")
	while done < 3 do
		skynet.sleep(1)
	end
	skynet.error("END")
end)
"""


def test_match_time_capture_may_wait_for_a_call(tree: Tree) -> None:
    tree.write({"service/main.lua": PARSER, "service/checker.lua": CHECKER})
    lines = tree.run(timeout=60)
    assert lines.index("quick,xyz QUICK XYZ") < lines.index("slow,abc,defg SLOW ABC DEFG")
    assert "quick,no no match" in lines


# --- bare lupa states -----------------------------------------------------------------------


def runtime(version: str) -> Any:
    """A bare lupa state of that Lua version that requires from runtime/lualib only."""
    mod = importlib.import_module(f"lupa.{version}")
    rt = mod.LuaRuntime(encoding=None, register_eval=False, register_builtins=False)
    rt.execute(f'package.path = "{LUALIB}/?.lua"; package.cpath = ""'.encode())
    return rt


def run_cases(version: str) -> list[str]:
    rt = runtime(version)
    run = rt.execute(b'return load(..., "@lpeg_cases.lua")', CASES.encode())
    out = rt.execute(b"""
        local run = ...
        local out = {}
        run(require "lpeg", function(line) out[#out + 1] = line end)
        return table.concat(out, "\\n")
    """, run)
    return out.decode().split("\n")


def test_cases_on_lua54_and_lua55() -> None:
    lines54 = run_cases("lua54")
    lines55 = run_cases("lua55")
    check_cases(lines54)
    check_cases(lines55)
    assert lines55 == lines54
    assert runtime("lua55").execute(b"return _VERSION") == b"Lua 5.5"


@pytest.fixture(params=["lua54", "lua55"])
def lua(request: pytest.FixtureRequest) -> Any:
    rt = runtime(request.param)
    rt.execute(b"lpeg = require \"lpeg\"")
    return rt


def test_ptree_and_pcode_print_this_lpeg(lua: Any) -> None:
    # LPeg's C prints these only in debugging builds (real skynet's raise "function only
    # implemented in debug mode"); here they print the tree and the generated Lua source
    printed = lua.execute(b"""
        local out = {}
        local saved = print
        print = function(s) out[#out + 1] = s end
        local p = lpeg.P"ab" * lpeg.S"xyz"^1 * lpeg.C(lpeg.R"09")
        lpeg.ptree(p)
        lpeg.pcode(p)
        print = saved
        return out[1], out[2], p:match("abxx5") ~= nil
    """)
    tree, code, works = printed
    assert tree.decode().splitlines() == [
        "seq", "  seq", '    str "ab"', "    rep (at least 1)", "      set [x-z]",
        "  capture simple", "    set [0-9]"]
    assert b"F[1] = function(s, i, caps, nc, d)" in code
    assert lua.execute(b"return load(...) ~= nil", code)
    assert works
    err = lua.execute(b"return select(2, pcall(lpeg.pcode, lpeg.V\"x\"))")
    assert err == b"rule 'x' used outside a grammar"


def test_match_time_captures_keep_their_own_state(lua: Any) -> None:
    # two coroutines suspended inside the same pattern's match-time capture
    results = lua.execute(b"""
        local p = lpeg.Ct(lpeg.C(lpeg.R"az"^1) * lpeg.Cmt(",", function(_, i)
            coroutine.yield()
            return i
        end) * lpeg.C(lpeg.R"az"^1))
        local a = coroutine.wrap(function() return p:match("ab,cd") end)
        local b = coroutine.wrap(function() return p:match("xyz,w") end)
        a() b()
        local tb, ta = b(), a()
        return table.concat(ta, " "), table.concat(tb, " ")
    """)
    assert results == (b"ab cd", b"xyz w")


def test_the_compiler_is_released_after_use(lua: Any) -> None:
    # it stays while compiling goes on and goes after a collection cycle without any; the
    # compiled patterns keep working and compiling again loads it again
    out = lua.execute(b"""
        local p = lpeg.C(lpeg.R"az"^1)
        local a = p:match("abc")
        collectgarbage()
        local loaded = collectgarbage("count")
        collectgarbage() collectgarbage()
        local released = collectgarbage("count")
        local b = p:match("xyz1")
        local c = (lpeg.C(lpeg.R"09"^1) / tonumber):match("42")
        return a, b, c, package.loaded["lpeg.codegen"] == nil, loaded - released
    """)
    assert out[:4] == (b"abc", b"xyz", 42, True)
    assert out[4] > 30  # KB


def test_deeply_nested_captures(lua: Any) -> None:
    # captures nested 60 deep in alternatives that backtrack (skynet's C aborts here), and
    # LPeg's limit of 200 levels when the values are built
    out = lua.execute(b"""
        local function nested(depth)
            local p = lpeg.P"x"
            for _ = 1, depth do
                p = lpeg.C("a" * p) + "a"
            end
            return p
        end
        local t = table.pack(nested(60):match(("a"):rep(60)))
        local ok, err = pcall(lpeg.match, nested(250), ("a"):rep(250))
        return t.n, t[1] == ("a"):rep(60), t[59] == "aa", ok, err
    """)
    assert out == (59, True, True, False, b"subcapture nesting too deep")


def test_recursion_stops_at_the_ceiling(lua: Any) -> None:
    # grammar recursion is Lua calls: past 50,000 entries it is an overflow whatever the limit
    out = lua.execute(b"""
        local g = lpeg.P{ "S", S = "(" * lpeg.V"S" * ")" + "x" }
        local function nest(k) return ("("):rep(k) .. "x" .. (")"):rep(k) end
        lpeg.setmaxstack(100000)
        local deep = g:match(nest(40000))
        local ok, err = pcall(lpeg.match, g, nest(60000))
        lpeg.setmaxstack(400)
        local ok400, err400 = pcall(lpeg.match, g, nest(500))
        return deep, ok, err, ok400, err400
    """)
    assert out == (80002, False, b"backtrack stack overflow (current limit is 100000)",
                   False, b"backtrack stack overflow (current limit is 400)")
