-- lpeg: LPeg 1.1.0 (the C module both real skynet builds ship) written in Lua, for Lua 5.4
-- and 5.5 alike.
--
-- A pattern is a tree of Lua tables, built by the constructors and operators below with
-- the same simplifications and checks as LPeg's C (so errors read the same). The first
-- match compiles the tree into Lua source (lpeg/codegen.lua) that `load` turns into one
-- function per grammar rule; later matches run that code directly. Captures are recorded
-- as a flat list while matching and turned into values after a successful match
-- (lpeg/captures.lua), as LPeg does. docs/libraries.md says why and how fast.
--
-- Node fields: `tag`; children `p` (and `q` for seq/choice); `s` (literal), `n` (counts),
-- `kind`/`v`/`vals` (captures), `key` (open rule reference), `rule` (fixed reference),
-- `rules` (grammar); `hasopen`/`hascall` flag subtrees holding open or fixed rule
-- references; fields starting with `_` cache analyses. A charset keeps its 256 bits as
-- four 64-bit integers in its array part.

local setmetatable, getmetatable, rawget, rawset, rawequal = setmetatable, getmetatable,
	rawget, rawset, rawequal
local type, select, tostring, tonumber, error, next, require = type, select, tostring,
	tonumber, error, next, require
local tointeger, ult, mathtype = math.tointeger, math.ult, math.type
local byte, char, format, sub, find = string.byte, string.char, string.format, string.sub,
	string.find
local getinfo = debug.getinfo
local loaded = package.loaded

local lpeg = {}
local mt = { __name = "lpeg-pattern", __index = lpeg }

-- What lpeg/*.lua share with this file.
local I = { mt = mt, sources = { ["=lpeg"] = true } } -- "=lpeg": the compiled patterns
I.sources[getinfo(1, "S").source] = true

local MAXBACK = 400 -- LPeg's default and initial backtrack stack size
local MAXRULES = 1000
local MAXBEHIND = 255
-- Calls into grammar rules are Lua calls here, and Lua stops near 100,000 nested calls:
-- the emulated backtrack stack never grows past this, whatever setmaxstack says.
local STACKCEILING = 50000
local maxstack = MAXBACK

---------------------------------------------------------------------------------------
-- Errors, as lauxlib raises them from a C function: positioned at the Lua code that
-- called into the library, and naming the library function as that code called it.

-- The stack level (as `error` counts from the caller of this function) of the first
-- frame that is not the library's: the code that called in.
local function userlevel()
	local level = 3
	local sources = I.sources
	while true do
		local info = getinfo(level, "S")
		if info == nil or not sources[info.source] then
			return level - 1
		end
		level = level + 1
	end
end

-- luaL_error
local function lpegerror(msg)
	error(msg, userlevel())
end
I.error = lpegerror

-- luaL_argerror, for the library function the user code called
local function argerror(arg, extramsg)
	local level = userlevel()
	-- level is the user frame as counted from here; the library function sits below it
	require("skynet.argcheck").argerror(level - 1, arg, extramsg)
end

-- luaL_typeerror's name for an argument (__name, or "no value" past the last one)
local function typename(v, present)
	if not present then
		return "no value"
	end
	local m = getmetatable(v)
	local name = type(m) == "table" and rawget(m, "__name")
	if type(name) == "string" then
		return name
	end
	return type(v)
end

-- luaL_typename: the plain type, as C sees it (a pattern is a userdata there)
local function ctypename(v)
	if rawequal(getmetatable(v), mt) then
		return "userdata"
	end
	return type(v)
end
I.ctypename = ctypename

-- The messages' rendering of a rule key or group name (LPeg's val2str)
local function val2str(v)
	local t = type(v)
	if t == "string" or t == "number" then
		return tostring(v)
	end
	return "(a " .. ctypename(v) .. ")"
end

-- luaL_checkinteger
local function checkinteger(v, arg, present)
	local t = type(v)
	if t == "number" or t == "string" then
		local n = tonumber(v)
		if n then
			local i = tointeger(n)
			if i then
				return i
			end
			argerror(arg, "number has no integer representation")
		end
	end
	argerror(arg, "number expected, got " .. typename(v, present))
end

-- luaL_checklstring (numbers convert)
local function checkstring(v, arg, present)
	local t = type(v)
	if t == "string" then
		return v
	elseif t == "number" then
		return tostring(v)
	end
	argerror(arg, "string expected, got " .. typename(v, present))
end

local function checkfunction(v, arg, present)
	if type(v) ~= "function" then
		argerror(arg, "function expected, got " .. typename(v, present))
	end
end

-- C's (int) cast of a lua_Integer
local function int32(n)
	return ((n + 0x80000000) & 0xFFFFFFFF) - 0x80000000
end

---------------------------------------------------------------------------------------
-- Charsets: four 64-bit words (bytes 0-63, 64-127, 128-191, 192-255).

-- LPeg's newcharset: an empty set is `false`, a full one any character, a set of one
-- character that character (which changes, say, the fixed length `lpeg.B` sees)
local function newset(w1, w2, w3, w4)
	if w1 == 0 and w2 == 0 and w3 == 0 and w4 == 0 then
		return setmetatable({ tag = "false" }, mt)
	elseif w1 == -1 and w2 == -1 and w3 == -1 and w4 == -1 then
		return setmetatable({ tag = "any", n = 1 }, mt)
	end
	local words = { w1, w2, w3, w4 }
	local single
	for k = 1, 4 do
		local w = words[k]
		if w ~= 0 then
			if single ~= nil or w & (w - 1) ~= 0 then
				single = false
				break
			end
			for b = 0, 63 do
				if w == 1 << b then
					single = (k - 1) * 64 + b
				end
			end
		end
	end
	if single then
		return setmetatable({ tag = "str", s = char(single) }, mt)
	end
	return setmetatable({ w1, w2, w3, w4, tag = "set" }, mt)
end

local function addrange(w, from, to)
	for c = from, to do
		local k = (c >> 6) + 1
		w[k] = w[k] | (1 << (c & 63))
	end
end

-- The charset a node stands for, or nil: LPeg's tocharset
local function tocharset(t)
	local tag = t.tag
	if tag == "set" then
		return t
	elseif tag == "str" and #t.s == 1 then
		local w = { 0, 0, 0, 0 }
		addrange(w, byte(t.s), byte(t.s))
		return w
	elseif tag == "any" and t.n == 1 then
		return { -1, -1, -1, -1 }
	elseif tag == "false" then
		return { 0, 0, 0, 0 }
	end
	return nil
end
I.tocharset = tocharset

---------------------------------------------------------------------------------------
-- Analyses, with the answers LPeg's C gives for the trees it would build: `^n` is n
-- copies then a loop, `^-n` nested optional copies, a string a sequence of characters.

local nullable, nofail

-- A pattern is nullable if it can match the empty string, nofail if it cannot fail;
-- both are conservative (an open rule reference is neither). Answers are kept in the
-- nodes, which never change.
local function check(t, nofailcheck)
	if nofailcheck then
		return nofail(t)
	end
	return nullable(t)
end

local function checkaux(t, nofailcheck)
	local tag = t.tag
	if tag == "str" or tag == "set" or tag == "any" or tag == "utfr" or tag == "false"
			or tag == "open" then
		return false
	elseif tag == "true" or tag == "opt" then
		return true
	elseif tag == "rep" then
		if t.n == 0 then
			return true
		end
		return check(t.p, nofailcheck)
	elseif tag == "not" or tag == "behind" then
		return not nofailcheck
	elseif tag == "and" then
		if not nofailcheck then
			return true
		end
		return nofail(t.p)
	elseif tag == "cmt" then
		if nofailcheck then
			return false
		end
		return nullable(t.p)
	elseif tag == "seq" then
		return check(t.p, nofailcheck) and check(t.q, nofailcheck)
	elseif tag == "choice" then
		return check(t.q, nofailcheck) or check(t.p, nofailcheck)
	elseif tag == "cap" then
		return check(t.p, nofailcheck)
	elseif tag == "call" then
		return check(t.rule.body, nofailcheck)
	elseif tag == "grammar" then
		return check(t.rules[1].body, nofailcheck)
	end
	error("lpeg: unknown node " .. tostring(tag))
end

function nullable(t)
	local r = t._nb
	if r == nil then
		r = checkaux(t, false)
		t._nb = r
	end
	return r
end

function nofail(t)
	local r = t._nf
	if r == nil then
		r = checkaux(t, true)
		t._nf = r
	end
	return r
end
I.nullable, I.nofail = nullable, nofail

-- Number of characters a pattern matches, or -1 when it varies. Recursion through rules
-- stops at a reference already being followed, as LPeg's does; so results inside a
-- grammar depend on the path and are cached only for nodes without references.
local fixedlen
local function fixedlenaux(t)
	local tag = t.tag
	if tag == "set" then
		return 1
	elseif tag == "str" then
		return #t.s
	elseif tag == "any" then
		return t.n
	elseif tag == "utfr" then
		return t.flen == t.tlen and t.flen or -1
	elseif tag == "true" or tag == "false" or tag == "not" or tag == "and"
			or tag == "behind" then
		return 0
	elseif tag == "rep" or tag == "cmt" or tag == "open" then
		return -1
	elseif tag == "opt" then
		return fixedlen(t.p) == 0 and 0 or -1
	elseif tag == "cap" then
		return fixedlen(t.p)
	elseif tag == "grammar" then
		return fixedlen(t.rules[1].body)
	elseif tag == "call" then
		if t.visiting then
			return -1
		end
		t.visiting = true
		local n = fixedlen(t.rule.body)
		t.visiting = nil
		return n
	elseif tag == "seq" then
		local n1 = fixedlen(t.p)
		if n1 < 0 then
			return -1
		end
		local n2 = fixedlen(t.q)
		if n2 < 0 then
			return -1
		end
		return n1 + n2
	elseif tag == "choice" then
		local n1, n2 = fixedlen(t.p), fixedlen(t.q)
		if n1 ~= n2 or n1 < 0 then
			return -1
		end
		return n1
	end
	error("lpeg: unknown node " .. tostring(tag))
end

function fixedlen(t)
	local r = t._fl
	if r == nil then
		r = fixedlenaux(t)
		if not t.hascall then
			t._fl = r
		end
	end
	return r
end
I.fixedlen = fixedlen

local hascaptures
local function hascapturesaux(t)
	local tag = t.tag
	if tag == "cap" or tag == "cmt" then
		return true
	elseif tag == "call" then
		if t.visiting then
			return false
		end
		t.visiting = true
		local r = hascaptures(t.rule.body)
		t.visiting = nil
		return r
	elseif tag == "grammar" then
		return hascaptures(t.rules[1].body)
	elseif tag == "seq" or tag == "choice" then
		return hascaptures(t.p) or hascaptures(t.q)
	elseif t.p then
		return hascaptures(t.p)
	end
	return false
end

function hascaptures(t)
	local r = t._hc
	if r == nil then
		r = hascapturesaux(t)
		if not t.hascall then
			t._hc = r
		end
	end
	return r
end
I.hascaptures = hascaptures

---------------------------------------------------------------------------------------
-- Tree building

local function node(tag, p, q)
	local t = setmetatable({ tag = tag, p = p, q = q }, mt)
	if p then
		t.hasopen = p.hasopen or (q and q.hasopen) or nil
		t.hascall = p.hascall or (q and q.hascall) or nil
	end
	return t
end

local function truenode()
	return setmetatable({ tag = "true" }, mt)
end
I.TRUE = truenode() -- the body of captures that match the empty string

local function numpatt(n)
	if n == 0 then
		return truenode()
	elseif n > 0 then
		return setmetatable({ tag = "any", n = n }, mt)
	end
	return node("not", setmetatable({ tag = "any", n = -n }, mt))
end

local newgrammar

-- LPeg's getpatt: any value a pattern can be made from, as argument `arg`
local function getpatt(v, arg, present)
	if rawequal(getmetatable(v), mt) then
		return v
	end
	local t = type(v)
	if t == "string" then
		if v == "" then
			return truenode()
		end
		return setmetatable({ tag = "str", s = v }, mt)
	elseif t == "number" then
		return numpatt(int32(tointeger(v) or 0))
	elseif t == "boolean" then
		return v and truenode() or setmetatable({ tag = "false" }, mt)
	elseif t == "table" then
		return newgrammar(v, arg)
	elseif t == "function" then
		local r = node("cmt", I.TRUE)
		r.f = v
		return r
	end
	argerror(arg, "lpeg-pattern expected, got " .. typename(v, present))
end
I.getpatt = getpatt

local function capture(kind, p, v)
	local t = node("cap", p)
	t.kind, t.v = kind, v
	return t
end

---------------------------------------------------------------------------------------
-- Grammars

-- A copy of `t` whose open references point at the rules of grammar `g`; subtrees
-- without open references are shared.
local function fixcalls(t, g)
	if not t.hasopen then
		return t
	end
	local tag = t.tag
	if tag == "open" then
		local r = g.index[t.key]
		if r == nil then
			lpegerror(format("rule '%s' undefined in given grammar", val2str(t.key)))
		end
		local rule = g.rules[r]
		rule.used = true
		return setmetatable({ tag = "call", rule = rule, hascall = true }, mt)
	end
	local c = {}
	for k, v in next, t do
		c[k] = v
	end
	c._nb, c._nf, c._fl, c._hc, c._code = nil, nil, nil, nil, nil
	c.p = fixcalls(t.p, g)
	if t.q then
		c.q = fixcalls(t.q, g)
	end
	c.hasopen = nil
	c.hascall = c.p.hascall or (c.q and c.q.hascall) or nil
	return setmetatable(c, mt)
end

-- LPeg's check that no rule can call itself without consuming input. `passed` lists the
-- rules entered on the current path; the walk is LPeg's, so the rule it names is too.
local function verifyerror(passed, npassed)
	for i = npassed, 1, -1 do
		for j = i - 1, 1, -1 do
			if passed[i] == passed[j] then
				lpegerror(format("rule '%s' may be left recursive", val2str(passed[i].key)))
			end
		end
	end
	lpegerror("too many left calls in grammar")
end

local function verifyrule(t, passed, npassed, nb)
	local tag = t.tag
	if tag == "str" or tag == "set" or tag == "any" or tag == "false" or tag == "utfr" then
		return nb
	elseif tag == "true" or tag == "behind" then
		return true
	elseif tag == "not" or tag == "and" then
		return verifyrule(t.p, passed, npassed, true)
	elseif tag == "rep" then
		if t.n == 0 then
			return verifyrule(t.p, passed, npassed, true)
		end
		-- n copies in sequence, then the loop: the first copy decides
		if not verifyrule(t.p, passed, npassed, false) then
			return nb
		end
		return true
	elseif tag == "opt" then
		verifyrule(t.p, passed, npassed, false)
		return true
	elseif tag == "cap" or tag == "cmt" then
		return verifyrule(t.p, passed, npassed, nb)
	elseif tag == "call" then
		if npassed >= MAXRULES then
			return verifyerror(passed, npassed)
		end
		npassed = npassed + 1
		passed[npassed] = t.rule
		return verifyrule(t.rule.body, passed, npassed, nb)
	elseif tag == "seq" then
		if not verifyrule(t.p, passed, npassed, false) then
			return nb
		end
		return verifyrule(t.q, passed, npassed, nb)
	elseif tag == "choice" then
		nb = verifyrule(t.p, passed, npassed, nb)
		return verifyrule(t.q, passed, npassed, nb)
	elseif tag == "grammar" then
		return nullable(t)
	end
	error("lpeg: unknown node " .. tostring(tag))
end

-- A loop whose body can match the empty string
local function checkloops(t)
	local tag = t.tag
	if tag == "rep" and nullable(t.p) then
		return true
	elseif tag == "grammar" or tag == "call" then
		return false
	elseif t.q then
		return checkloops(t.p) or checkloops(t.q)
	elseif t.p then
		return checkloops(t.p)
	end
	return false
end

-- A table as a grammar: rule 1 (or the rule it names) first, then the others in
-- `next` order, as LPeg collects them.
function newgrammar(tbl, arg)
	local first = rawget(tbl, 1)
	local initkey, initrule
	local ft = type(first)
	if ft == "string" or ft == "number" then
		initkey, initrule = first, tbl[first]
	else
		initkey, initrule = 1, first
	end
	if not rawequal(getmetatable(initrule), mt) then
		if initrule == nil then
			lpegerror("grammar has no initial rule")
		end
		lpegerror(format("initial rule '%s' is not a pattern", tostring(initkey)))
	end
	local rules = { { key = initkey, body = initrule, used = true } }
	local index = { [initkey] = 1 }
	for k, v in next, tbl do
		if tonumber(k) ~= 1 and k ~= initkey then
			if not rawequal(getmetatable(v), mt) then
				lpegerror(format("rule '%s' is not a pattern", val2str(k)))
			end
			rules[#rules + 1] = { key = k, body = v }
			index[k] = #rules
		end
	end
	if #rules > MAXRULES then
		argerror(arg, "grammar has too many rules")
	end
	local g = { rules = rules, index = index }
	for k = 1, #rules do
		rules[k].body = fixcalls(rules[k].body, g)
	end
	for k = 1, #rules do
		if rules[k].used then
			verifyrule(rules[k].body, {}, 0, false)
		end
	end
	for k = 1, #rules do
		local rule = rules[k]
		if rule.used and checkloops(rule.body) then
			lpegerror(format("empty loop in rule '%s'", val2str(rule.key)))
		end
	end
	return setmetatable({ tag = "grammar", rules = rules }, mt)
end

---------------------------------------------------------------------------------------
-- Constructors and operators

function lpeg.P(...)
	if select("#", ...) == 0 then
		argerror(1, "value expected")
	end
	local r = getpatt((...), 1, true)
	return r
end

-- p1 * p2
local function seq(a, b)
	local t1 = getpatt(a, 1, true)
	local t2 = getpatt(b, 2, true)
	if t1.tag == "false" or t2.tag == "true" then
		return t1
	elseif t1.tag == "true" then
		return t2
	end
	return node("seq", t1, t2)
end

-- p1 + p2
local function choice(a, b)
	local t1 = getpatt(a, 1, true)
	local t2 = getpatt(b, 2, true)
	local s1, s2 = tocharset(t1), tocharset(t2)
	if s1 and s2 then
		return newset(s1[1] | s2[1], s1[2] | s2[2], s1[3] | s2[3], s1[4] | s2[4])
	elseif nofail(t1) or t2.tag == "false" then
		return t1
	elseif t1.tag == "false" then
		return t2
	end
	return node("choice", t1, t2)
end

-- p1 - p2
local function difference(a, b)
	local t1 = getpatt(a, 1, true)
	local t2 = getpatt(b, 2, true)
	local s1, s2 = tocharset(t1), tocharset(t2)
	if s1 and s2 then
		return newset(s1[1] & ~s2[1], s1[2] & ~s2[2], s1[3] & ~s2[3], s1[4] & ~s2[4])
	end
	return node("seq", node("not", t2), t1)
end

-- p^n
local function power(a, b)
	local n = int32(checkinteger(b, 2, true))
	local t = getpatt(a, 1, true)
	if n >= 0 then
		if nullable(t) then
			lpegerror("loop body may accept empty string")
		end
		local r = node("rep", t)
		r.n = n
		return r
	end
	local r = node("opt", t)
	r.n = -n
	return r
end

-- #p
local function andpred(a)
	return node("and", getpatt(a, 1, true))
end

-- -p
local function notpred(a)
	return node("not", getpatt(a, 1, true))
end

-- p / v
local function divide(a, b)
	local bt = type(b)
	if bt == "function" then
		return capture("func", getpatt(a, 1, true), b)
	elseif bt == "table" and not rawequal(getmetatable(b), mt) then
		return capture("query", getpatt(a, 1, true), b)
	elseif bt == "string" then
		return capture("string", getpatt(a, 1, true), b)
	elseif bt == "number" then
		local n = int32(tointeger(b) or 0)
		local t = capture("num", getpatt(a, 1, true), n)
		if n < 0 or n > 32767 then
			argerror(1, "invalid number")
		end
		return t
	end
	lpegerror(format("unexpected %s as 2nd operand to LPeg '/'", ctypename(b)))
end

-- p % f
local function accumulate(a, f)
	return capture("acc", getpatt(a, 1, true), f)
end

mt.__mul = seq
mt.__add = choice
mt.__sub = difference
mt.__pow = power
mt.__len = andpred
mt.__unm = notpred
mt.__div = divide
mt.__mod = accumulate

function lpeg.S(...)
	local s = checkstring((...), 1, select("#", ...) > 0)
	local w = { 0, 0, 0, 0 }
	for k = 1, #s do
		local c = byte(s, k)
		addrange(w, c, c)
	end
	return newset(w[1], w[2], w[3], w[4])
end

function lpeg.R(...)
	local w = { 0, 0, 0, 0 }
	for k = 1, select("#", ...) do
		local r = checkstring((select(k, ...)), k, true)
		if #r ~= 2 then
			argerror(k, "range must have two characters")
		end
		addrange(w, byte(r, 1), byte(r, 2))
	end
	return newset(w[1], w[2], w[3], w[4])
end

-- LPeg's codeutftree: the code point as C's int, its UTF-8 length and first byte
local function utfinfo(v, arg)
	local cp = int32(v)
	if cp <= 0x7f then
		return cp, 1, cp
	elseif cp <= 0x7ff then
		return cp, 2, 0xC0 | (cp >> 6)
	elseif cp <= 0xffff then
		return cp, 3, 0xE0 | (cp >> 12)
	end
	if ult(0x10ffff, v) then
		argerror(arg, "invalid code point")
	end
	return cp, 4, 0xF0 | (cp >> 18)
end

function lpeg.utfR(...)
	local n = select("#", ...)
	local from = checkinteger((...), 1, n >= 1)
	local to = checkinteger((select(2, ...)), 2, n >= 2)
	if ult(to, from) then
		argerror(2, "empty range")
	end
	if not ult(0x7f, to) then
		local w = { 0, 0, 0, 0 }
		addrange(w, from, to)
		return newset(w[1], w[2], w[3], w[4])
	end
	local f, flen, fb = utfinfo(from, 1)
	local t, tlen, tb = utfinfo(to, 2)
	return setmetatable({ tag = "utfr", from = f, to = t, flen = flen, tlen = tlen, fb = fb,
		tb = tb }, mt)
end

function lpeg.B(...)
	local t = getpatt((...), 1, select("#", ...) > 0)
	local n = fixedlen(t)
	if n < 0 then
		argerror(1, "pattern may not have fixed length")
	end
	if hascaptures(t) then
		argerror(1, "pattern have captures")
	end
	if n > MAXBEHIND then
		argerror(1, "pattern too long to look behind")
	end
	local r = node("behind", t)
	r.n = n
	return r
end

function lpeg.V(...)
	local r = setmetatable({ tag = "open", hasopen = true }, mt)
	if select("#", ...) == 0 then
		-- C pushes the new pattern before it reads its argument, so it becomes the key
		r.key = r
	else
		local v = ...
		if v == nil then
			argerror(1, "non-nil value expected")
		end
		r.key = v
	end
	return r
end

function lpeg.C(...)
	return capture("simple", getpatt((...), 1, select("#", ...) > 0))
end

function lpeg.Ct(...)
	return capture("table", getpatt((...), 1, select("#", ...) > 0))
end

function lpeg.Cs(...)
	return capture("subst", getpatt((...), 1, select("#", ...) > 0))
end

function lpeg.Cg(...)
	local p, name = ...
	local t = getpatt(p, 1, select("#", ...) > 0)
	local r = capture("group", t, name)
	r.named = name ~= nil
	return r
end

function lpeg.Cf(...)
	local n = select("#", ...)
	local p, f = ...
	checkfunction(f, 2, n >= 2)
	return capture("fold", getpatt(p, 1, n >= 1), f)
end

function lpeg.Cmt(...)
	local n = select("#", ...)
	local p, f = ...
	checkfunction(f, 2, n >= 2)
	local r = node("cmt", getpatt(p, 1, n >= 1))
	r.f = f
	return r
end

function lpeg.Cp()
	return capture("position", I.TRUE)
end

function lpeg.Carg(...)
	local n = int32(checkinteger((...), 1, select("#", ...) > 0))
	if n <= 0 or n > 32767 then
		argerror(1, "invalid argument index")
	end
	return capture("arg", I.TRUE, n)
end

function lpeg.Cb(...)
	if select("#", ...) == 0 then
		argerror(1, "value expected")
	end
	return capture("backref", I.TRUE, (...))
end

function lpeg.Cc(...)
	local n = select("#", ...)
	if n == 0 then
		return truenode()
	end
	local t = capture("const", I.TRUE)
	t.vals, t.nv = { ... }, n
	return t
end

-- utfR at match time: the position after the UTF-8 sequence at `i` when it is valid
-- (surrogates included, overlong forms not) and encodes a code point in [from, to]
local limits = { [0] = 0xFF, 0x7F, 0x7FF, 0xFFFF }
function I.utf(s, i, from, to)
	local c = byte(s, i)
	if c == nil then
		return nil
	end
	local cp, n = c, 1
	if c >= 0x80 then
		local count, res = 0, 0
		while c & 0x40 ~= 0 do
			count = count + 1
			local cc = byte(s, i + count)
			if cc == nil or cc & 0xC0 ~= 0x80 then
				return nil
			end
			res = (res << 6) | (cc & 0x3F)
			c = c << 1
		end
		res = res | ((c & 0x7F) << (count * 5))
		if count > 3 or res > 0x10FFFF or res <= limits[count] then
			return nil
		end
		cp, n = res, count + 1
	end
	if from <= cp and cp <= to then
		return i + n
	end
	return nil
end

---------------------------------------------------------------------------------------
-- Matching

-- The compiler is needed only while compiling. It stays loaded as long as compiling goes
-- on, and is let go after a whole garbage collection cycle without any (a sentinel's
-- finalizer looks); it is not in package.loaded, so a service that compiled its
-- patterns at start does not keep it. Capture evaluation stays once loaded.
local codegen, captures
local compiling = false -- since the sentinel was made

local function sentinel()
	setmetatable({}, {
		__gc = function()
			if compiling then
				compiling = false
				sentinel()
			else
				codegen = nil
			end
		end,
	})
end

local function getcodegen()
	if codegen == nil then
		if captures == nil then
			captures = require("lpeg.captures")(I)
			I.captures = captures
			I.helpers = {
				byte = byte, sub = sub, find = find, utf = I.utf, cmt = captures.cmt,
			}
		end
		codegen = require("lpeg.codegen")(I)
		loaded["lpeg.codegen"] = nil
		sentinel()
	end
	compiling = true
	return codegen
end

-- The first open reference outside a grammar, in LPeg's traversal order
local function findopen(t)
	if not t.hasopen then
		return nil
	elseif t.tag == "open" then
		return t
	end
	return findopen(t.p) or (t.q and findopen(t.q))
end

local function compile(p)
	local open = findopen(p)
	if open then
		lpegerror(format("rule '%s' used outside a grammar", val2str(open.key)))
	end
	local code = getcodegen().compile(p)
	rawset(p, "_code", code)
	return code
end
I.compile = compile

-- Patterns made from strings and other plain values by `match` itself, kept while in use
-- so that matching against a literal does not compile it again each time.
local converted = setmetatable({}, { __mode = "v" })

-- Lists of capture entries, reused between matches.
local pool, npool = {}, 0

function I.overflow()
	lpegerror(format("backtrack stack overflow (current limit is %d)", maxstack))
end

function lpeg.match(...)
	local p, s, init = ...
	if not rawequal(getmetatable(p), mt) then
		if type(p) == "string" then
			local c = converted[p]
			if c == nil then
				c = getpatt(p, 1, true)
				converted[p] = c
			end
			p = c
		else
			p = getpatt(p, 1, select("#", ...) >= 1)
		end
	end
	local code = rawget(p, "_code") or compile(p)
	if type(s) ~= "string" then
		s = checkstring(s, 2, select("#", ...) >= 2)
	end
	local len = #s
	local i
	if init == nil then
		i = 1
	else
		if mathtype(init) ~= "integer" then
			init = checkinteger(init, 3, true)
		end
		if init > 0 then
			i = init <= len and init or len + 1
		else
			i = -init <= len and len + init + 1 or 1
		end
	end
	local budget = maxstack > MAXBACK and maxstack or MAXBACK
	if budget > STACKCEILING then
		budget = STACKCEILING
	end
	if not code.capt then
		local e, overflow = code.fn(s, i, nil, 0, budget - 1)
		if e == nil and overflow then
			I.overflow()
		end
		return e
	end
	local caps
	if npool > 0 then
		caps = pool[npool]
		pool[npool] = nil
		npool = npool - 1
	else
		caps = {}
	end
	caps.s, caps.desc = s, code.desc
	if code.args then
		local n = select("#", ...) - 3
		caps.args, caps.nargs = { select(4, ...) }, n > 0 and n or 0
	end
	local e, nc = code.fn(s, i, caps, 0, budget - 1)
	if e then
		if nc > 0 then
			return captures.get(caps, nc, e)
		end
	elseif nc then
		I.overflow()
	end
	I.release(caps)
	return e
end

-- Back to the pool, unless a match made the list large (a stale entry lies far out).
function I.release(caps)
	caps.s, caps.args, caps.V = nil, nil, nil
	if npool < 8 and caps[4097] == nil then
		npool = npool + 1
		pool[npool] = caps
	end
end

function lpeg.setmaxstack(...)
	local lim = checkinteger((...), 1, select("#", ...) > 0)
	if lim <= 0 or lim > 0x7FFFFFFF // 100 then
		argerror(1, "out of range")
	end
	maxstack = lim
end

function lpeg.type(v)
	if rawequal(getmetatable(v), mt) then
		return "pattern"
	end
	return nil
end

-- Character classes of the C locale, which skynet runs in.
function lpeg.locale(...)
	local t = ...
	if t == nil then
		t = {}
	elseif type(t) ~= "table" then
		argerror(1, "table expected, got " .. typename(t, true))
	end
	local function class(...)
		local w = { 0, 0, 0, 0 }
		for k = 1, select("#", ...), 2 do
			local a, b = select(k, ...)
			addrange(w, byte(a), byte(b))
		end
		return newset(w[1], w[2], w[3], w[4])
	end
	t.alnum = class("0", "9", "A", "Z", "a", "z")
	t.alpha = class("A", "Z", "a", "z")
	t.cntrl = class("\0", "\31", "\127", "\127")
	t.digit = class("0", "9")
	t.graph = class("!", "~")
	t.lower = class("a", "z")
	t.print = class(" ", "~")
	t.punct = class("!", "/", ":", "@", "[", "`", "{", "~")
	t.space = class("\t", "\r", " ", " ")
	t.upper = class("A", "Z")
	t.xdigit = class("0", "9", "A", "F", "a", "f")
	return t
end

-- LPeg's C prints these only when built for debugging; real skynet's builds are not, and
-- raise "function only implemented in debug mode". Here they print what this LPeg has:
-- the tree, and the Lua source the pattern compiles to (docs/differences.md).
function lpeg.ptree(...)
	local t = getpatt((...), 1, select("#", ...) > 0)
	require("lpeg.dump")(I).ptree(t)
end

function lpeg.pcode(...)
	local n = select("#", ...)
	local p = ...
	if not rawequal(getmetatable(p), mt) then
		argerror(1, "lpeg-pattern expected, got " .. typename(p, n > 0))
	end
	local open = findopen(p)
	if open then
		lpegerror(format("rule '%s' used outside a grammar", val2str(open.key)))
	end
	require("lpeg.dump")(I).pcode(p, getcodegen())
end

lpeg.version = "LPeg 1.1.0"

return lpeg
