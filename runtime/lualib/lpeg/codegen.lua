-- lpeg.codegen: compiles a pattern tree into Lua source, loaded once per pattern.
--
-- Each grammar rule becomes a function `F[k](s, i, caps, nc, d)` returning the position
-- after its match and the new length of the capture list, nil when it fails, or `nil,
-- true` when the backtrack stack overflows; the pattern itself is F[1], and a small rule
-- is inlined where it is called. Inside a function every construct is inline code over
-- the locals `i` (position) and `nc` (capture entries used); a failure is a `goto` to
-- the enclosing backtrack point, which restores both.
--
-- Choices, loops and predicates are coded the way LPeg's own compiler codes them: when
-- the next byte alone decides (the first alternative can fail only on its first byte,
-- or the alternatives start with disjoint bytes), a test on that byte replaces the
-- backtrack point. The same decisions tell how many entries LPeg's backtrack stack would
-- hold; `d` counts the entries left, so "backtrack stack overflow" comes where LPeg's
-- would, and a rule called last in a rule is a Lua tail call, as LPeg turns it into a
-- jump.
--
-- Capture entries are pairs in `caps`: (descriptor id, start) opens a capture, (0, end)
-- closes it, (-id, start) is a capture with no nested captures whose length is fixed
-- (descriptor field `flen`), and (-1, value) is a value a match-time capture returned.

return function(I)

I.sources[debug.getinfo(1, "S").source] = true

local format, byte, char, concat, insert = string.format, string.byte, string.char,
	table.concat, table.insert
local load, tostring, ipairs, min, error = load, tostring, ipairs, math.min, error
local nullable, nofail, fixedlen, hascaptures = I.nullable, I.nofail, I.fixedlen,
	I.hascaptures
local tocharset = I.tocharset

local M = {}

local MAXDEPTH = 12 -- nested constructs in one function before the rest goes to another
local NLOCALCONSTS = 100 -- constants that get a local of their own in the chunk

---------------------------------------------------------------------------------------
-- Charsets as four words

local FULL = { -1, -1, -1, -1 }
local EMPTY = { 0, 0, 0, 0 }

local function union(a, b)
	return { a[1] | b[1], a[2] | b[2], a[3] | b[3], a[4] | b[4] }
end

local function inter(a, b)
	return { a[1] & b[1], a[2] & b[2], a[3] & b[3], a[4] & b[4] }
end

local function complement(a)
	return { ~a[1], ~a[2], ~a[3], ~a[4] }
end

local function disjoint(a, b)
	return a[1] & b[1] == 0 and a[2] & b[2] == 0 and a[3] & b[3] == 0 and a[4] & b[4] == 0
end

local function rangeset(from, to)
	local w = { 0, 0, 0, 0 }
	for c = from, to do
		local k = (c >> 6) + 1
		w[k] = w[k] | (1 << (c & 63))
	end
	return w
end

local function isempty(w)
	return w[1] == 0 and w[2] == 0 and w[3] == 0 and w[4] == 0
end

local function isfull(w)
	return w[1] == -1 and w[2] == -1 and w[3] == -1 and w[4] == -1
end

-- For each byte value, the runs of set bits in it as offsets {first, last, first, ...}
local BITRUNS = {}
for b8 = 0, 255 do
	local r, start = {}, nil
	for b = 0, 8 do
		if b < 8 and (b8 >> b) & 1 == 1 then
			start = start or b
		elseif start then
			r[#r + 1], r[#r + 2] = start, b - 1
			start = nil
		end
	end
	BITRUNS[b8] = r
end

-- The runs of consecutive bytes in a set, as {first, last} pairs (remembered by value
-- while compiling)
local runcache = {}
local function runs(w)
	local key = format("%x:%x:%x:%x", w[1], w[2], w[3], w[4])
	local r = runcache[key]
	if r then
		return r
	end
	r = {}
	local start, last -- the run being built
	for c0 = 0, 255, 8 do
		local b8 = (w[(c0 >> 6) + 1] >> (c0 & 63)) & 0xFF
		local br = BITRUNS[b8]
		for k = 1, #br, 2 do
			local a, b = c0 + br[k], c0 + br[k + 1]
			if start and last == a - 1 then
				last = b
			else
				if start then
					r[#r + 1] = { start, last }
				end
				start, last = a, b
			end
		end
	end
	if start then
		r[#r + 1] = { start, last }
	end
	runcache[key] = r
	return r
end

---------------------------------------------------------------------------------------
-- LPeg's compile-time analyses (beyond those lpeg.lua needs while building)

-- Can the pattern fail only on its first byte?
local function headfail(t)
	local tag = t.tag
	if tag == "set" or tag == "false" then
		return true
	elseif tag == "str" then
		return #t.s == 1
	elseif tag == "any" then
		return t.n == 1
	elseif tag == "rep" then
		return t.n == 1 and headfail(t.p)
	elseif tag == "cap" or tag == "and" then
		return headfail(t.p)
	elseif tag == "call" then
		return headfail(t.rule.body)
	elseif tag == "grammar" then
		return headfail(t.rules[1].body)
	elseif tag == "seq" then
		return nofail(t.q) and headfail(t.p)
	elseif tag == "choice" then
		return headfail(t.p) and headfail(t.q)
	end
	return false -- true, opt, cmt, not, behind, utfr
end

-- The bytes a match can start with (`follow` is what may come after the pattern), and
-- a code: bit 1 when the pattern can match the empty string, bit 2 when a match-time
-- capture is not protected by a byte test (LPeg's getfirst).
local getfirst
local function getfirstopt(p, n, follow)
	-- p^-n is (p (p (... (p / "") ...) / "") / "")
	local cs, e = getfirst(p, follow)
	cs = union(cs, follow)
	e = e | 1
	local pnull = nullable(p)
	for _ = 2, n do
		local scs, se
		if not pnull then
			scs, se = getfirst(p, FULL)
		else
			local cs1, e1 = getfirst(p, cs)
			scs = cs1
			if e1 == 0 then
				se = 0
			elseif (e1 | e) & 2 ~= 0 then
				se = 2
			else
				se = e
			end
		end
		cs, e = union(scs, follow), se | 1
	end
	return cs, e
end

local firstmemo -- [node][follow set] = { set, code }, while compiling

local function getfirstaux(t, follow)
	local tag = t.tag
	if tag == "set" then
		return t, 0
	elseif tag == "str" then
		local c = byte(t.s)
		return rangeset(c, c), 0
	elseif tag == "any" then
		return FULL, 0
	elseif tag == "utfr" then
		return rangeset(t.fb, t.tb), 0
	elseif tag == "true" then
		return follow, 1
	elseif tag == "false" then
		return EMPTY, 0
	elseif tag == "choice" then
		local a, e1 = getfirst(t.p, follow)
		local b, e2 = getfirst(t.q, follow)
		return union(a, b), e1 | e2
	elseif tag == "seq" then
		if not nullable(t.p) then
			return getfirst(t.p, FULL)
		end
		local cs2, e2 = getfirst(t.q, follow)
		local cs1, e1 = getfirst(t.p, cs2)
		if e1 == 0 then
			return cs1, 0
		elseif (e1 | e2) & 2 ~= 0 then
			return cs1, 2
		end
		return cs1, e2
	elseif tag == "rep" then
		if t.n > 0 then
			return getfirst(t.p, FULL)
		end
		local cs = getfirst(t.p, follow)
		return union(cs, follow), 1
	elseif tag == "opt" then
		return getfirstopt(t.p, t.n, follow)
	elseif tag == "cap" then
		return getfirst(t.p, follow)
	elseif tag == "cmt" then
		local cs, e = getfirst(t.p, FULL)
		return cs, e ~= 0 and 2 or 0
	elseif tag == "call" then
		return getfirst(t.rule.body, follow)
	elseif tag == "grammar" then
		return getfirst(t.rules[1].body, follow)
	elseif tag == "and" then
		local cs, e = getfirst(t.p, follow)
		return inter(cs, follow), e
	elseif tag == "not" then
		local cs = tocharset(t.p)
		if cs then
			return complement(cs), 1
		end
	end
	-- not, behind: only the code matters
	local _, e = getfirst(t.p, follow)
	return follow, e | 1
end

function getfirst(t, follow)
	local m = firstmemo[t]
	if m == nil then
		m = {}
		firstmemo[t] = m
	end
	local r = m[follow]
	if r == nil then
		local cs, e = getfirstaux(t, follow)
		r = { cs, e }
		m[follow] = r
	end
	return r[1], r[2]
end

-- Does the code change `nc` when it fails? Captures do, and so does a failed call into a
-- rule (its results are assigned to `i, nc`).
local function touchesnc(t)
	local r = t._tn
	if r == nil then
		local tag = t.tag
		if tag == "call" or tag == "grammar" then
			r = true
		elseif hascaptures(t) then
			r = true
		else
			r = (t.p and touchesnc(t.p)) or (t.q and touchesnc(t.q)) or false
		end
		t._tn = r
	end
	return r
end

-- Does the code for the pattern depend on what follows it?
local function needfollow(t)
	local tag = t.tag
	if tag == "choice" or tag == "rep" or tag == "opt" then
		return true
	elseif tag == "cap" then
		return needfollow(t.p)
	elseif tag == "seq" then
		return needfollow(t.q)
	end
	return false
end

---------------------------------------------------------------------------------------
-- Generation state (one compilation at a time: no user code runs meanwhile)

local buf, nbuf, depth
local nlabel, nvar
local funcs
local consts, constidx
local descs, descof
local grammars -- grammar node -> { [rule] = function index }
local usesargs

local function out(s)
	nbuf = nbuf + 1
	buf[nbuf] = s
end

local function label()
	nlabel = nlabel + 1
	return "L" .. nlabel
end

local function var()
	nvar = nvar + 1
	return "c" .. nvar
end

local function quote(s)
	return (format("%q", s):gsub("\r", "\\r"))
end

-- A constant the code refers to by name
local function constant(key, value)
	local k = constidx[key]
	if k == nil then
		k = #consts + 1
		consts[k] = value
		constidx[key] = k
	end
	if k <= NLOCALCONSTS then
		return "k" .. k
	end
	return "K[" .. k .. "]"
end

-- The runs of bytes outside set `w`, from the runs of `w`
local function gaps(r)
	local g = {}
	local next = 0
	for _, x in ipairs(r) do
		if x[1] > next then
			g[#g + 1] = { next, x[1] - 1 }
		end
		next = x[2] + 1
	end
	if next <= 255 then
		g[#g + 1] = { next, 255 }
	end
	return g
end

local function cost(rs)
	local n = 0
	for _, x in ipairs(rs) do
		n = n + ((x[1] == x[2] or x[1] == 0 or x[2] == 255) and 1 or 2)
	end
	return n
end

-- `@ == 97 or @ >= 48 and @ <= 57`, the byte standing as @
local function alternatives(rs)
	local parts = {}
	for k, x in ipairs(rs) do
		local a, b = x[1], x[2]
		if a == b then
			parts[k] = format("@ == %d", a)
		elseif a == 0 then
			parts[k] = format("@ <= %d", b)
		elseif b == 255 then
			parts[k] = format("@ >= %d", a)
		else
			parts[k] = format("@ >= %d and @ <= %d", a, b)
		end
	end
	return concat(parts, " or ")
end

-- An expression true when the byte in `v` (nil past the end) is in set `w`: comparisons
-- when a few will do, else a lookup in a table of the set's bytes
local exprcache -- set key -> expression with the byte as @, while compiling
local function setexpr(w, v)
	if isempty(w) then
		return "false"
	elseif isfull(w) then
		return v
	end
	local key = format("set%x,%x,%x,%x", w[1], w[2], w[3], w[4])
	local e = exprcache[key]
	if e == nil then
		local r = runs(w)
		local cr = gaps(r)
		local c1, c2 = cost(r), cost(cr)
		if c1 <= 4 and c1 <= c2 then
			e = "@ and (" .. alternatives(r) .. ")"
		elseif c2 <= 4 then
			e = "@ and not (" .. alternatives(cr) .. ")"
		else
			local t = {}
			for _, x in ipairs(r) do
				for c = x[1], x[2] do
					t[c] = true
				end
			end
			e = constant(key, t) .. "[@]"
		end
		exprcache[key] = e
	end
	return (e:gsub("@", v))
end

-- What generated code knows about the byte at `i`: `{ v = local holding it, w = set it
-- is known to be in (or nil) }`, or nil.
local function subset(a, b)
	return a[1] & ~b[1] == 0 and a[2] & ~b[2] == 0 and a[3] & ~b[3] == 0
		and a[4] & ~b[4] == 0
end

-- Code opening a test of the byte at `i` against `w`; returns the closing code and the
-- local holding the byte.
local function opentest(w, known, negate)
	if isfull(w) then
		out(format("if %s then", negate and "i > len" or "i <= len"))
		return "end", nil
	end
	local v = known and known.v
	if v == nil then
		v = var()
		out(format("do local %s = byte(s, i)", v))
	end
	local e = setexpr(w, v)
	out(format(negate and "if not (%s) then" or "if %s then", e))
	return known and "end" or "end end", v
end

-- Inside a loop body: stop the loop (`stmt`) unless the byte at `i` is in `w`; returns
-- what is then known about that byte (its local stays in scope for the rest of the body).
local function looptest(w, stmt)
	if isfull(w) then
		out(format("if i > len then %s end", stmt))
		return nil
	end
	local v = var()
	out(format("local %s = byte(s, i)", v))
	out(format("if not (%s) then %s end", setexpr(w, v), stmt))
	return { v = v, w = w }
end

-- A Lua pattern class for set `w`: "[...]" with every byte that is not a letter or digit
-- escaped, and raw ranges where both ends are safe
local function luaclass(w)
	local r = runs(w)
	local neg = false
	local cr = gaps(r)
	if #cr < #r then
		r, neg = cr, true
	end
	local function esc(c)
		local ch = char(c)
		if ch:match("%w") then
			return ch
		end
		return "%" .. ch
	end
	local function rawok(c)
		return c ~= 37 and c ~= 93 and c ~= 94 and c ~= 45 and c ~= 91
	end
	local parts = {}
	for _, x in ipairs(r) do
		local a, b = x[1], x[2]
		while a <= b and not rawok(a) do
			parts[#parts + 1] = esc(a)
			a = a + 1
		end
		local tail = {}
		while b >= a and not rawok(b) do
			insert(tail, 1, esc(b))
			b = b - 1
		end
		if b - a >= 2 then
			parts[#parts + 1] = char(a) .. "-" .. char(b)
		else
			for c = a, b do
				parts[#parts + 1] = esc(c)
			end
		end
		for _, e in ipairs(tail) do
			parts[#parts + 1] = e
		end
	end
	return "[" .. (neg and "^" or "") .. concat(parts) .. "]"
end

-- A run of bytes of set `w`
local function span(w)
	if isempty(w) then
		return
	elseif isfull(w) then
		out("i = len + 1")
		return
	end
	out(format("do local _, e = find(s, %s, i) i = e + 1 end", quote("^" .. luaclass(w) .. "*")))
end

---------------------------------------------------------------------------------------
-- Tree normalisation: sequences and choices nest to the right, as LPeg makes them, and
-- neighbouring literals in a sequence merge into one.

local function flatten(t, tag, list)
	if t.tag == tag then
		flatten(t.p, tag, list)
		flatten(t.q, tag, list)
	else
		list[#list + 1] = t
	end
	return list
end

local function seqlist(t)
	local list = flatten(t, "seq", {})
	local merged = {}
	for _, x in ipairs(list) do
		local last = merged[#merged]
		if x.tag == "str" and last and last.tag == "str" then
			merged[#merged] = { tag = "str", s = last.s .. x.s }
		else
			merged[#merged + 1] = x
		end
	end
	return merged
end

-- The right-nested choice `list[k] / (list[k+1] / ...)`
local function rightchoice(list, k)
	if k == #list then
		return list[k]
	end
	local q = rightchoice(list, k + 1)
	return { tag = "choice", p = list[k], q = q, hascall = list[k].hascall or q.hascall }
end

---------------------------------------------------------------------------------------
-- Code generation. gen(t, F, P, opt, fl, tail, known) emits code that matches `t` at `i`
-- and on failure jumps to label F. P is the number of backtrack entries this function
-- holds at this point; opt that an enclosing optional construct's entry can be reused;
-- fl the follow set; known what is known of the byte at `i`. tail says that nothing
-- follows in the rule: `true` when that is the end of this function, a number B when the
-- rule's body was inlined here on top of B entries (LPeg's jump to a rule called last then
-- reuses the rule's entry, so a call there takes the budget the rule had).

local gen
local G = {}

-- Before LPeg would push a backtrack entry: when none is left, the match ends with an
-- overflow, returned as `nil, true` through every function up to lpeg.match
local function check(P)
	out(format("if d <= %d then return nil, true end", P))
end

local function newfunction()
	funcs[#funcs + 1] = false
	return #funcs
end

-- Emit function k: `body` is called to generate its code.
local function function_(k, body)
	local sbuf, snbuf, sdepth = buf, nbuf, depth
	buf, nbuf, depth = {}, 0, 0
	out(format("F[%d] = function(s, i, caps, nc, d)", k))
	out("local len = #s")
	out("do")
	body()
	out("return i, nc")
	out("end")
	out("::FAIL::")
	out("return nil")
	out("end")
	funcs[k] = concat(buf, "\n", 1, nbuf)
	buf, nbuf, depth = sbuf, snbuf, sdepth
end

-- A call of function k: a rule (`push`: LPeg pushes an entry for it) or a piece of code
-- moved out of a function grown too deep
local function callfunction(k, F, P, tail, push)
	if tail == true then
		out(format("do return F[%d](s, i, caps, nc, d) end", k))
		return
	elseif tail then
		P = tail
	elseif push then
		check(P)
		P = P + 1
	end
	out(format("i, nc = F[%d](s, i, caps, nc, d - %d)", k, P))
	out(format("if not i then if nc then return nil, nc end goto %s end", F))
end

-- Code moved to a function of its own when this one nests too deep. Unlike a rule, such
-- a piece may have no captures, so the backtrack points around it may restore only `i`:
-- a failure must leave `nc` as it was.
local function outline(t, F, P, opt, fl, tail)
	local k = newfunction()
	function_(k, function()
		gen(t, "FAIL", 0, opt, fl, tail and true or false, nil)
	end)
	if tail == true then
		callfunction(k, F, P, true, false)
		return
	end
	out(format("do local j, n = F[%d](s, i, caps, nc, d - %d)", k, P))
	out(format("if not j then if n then return nil, n end goto %s end i, nc = j, n end", F))
end

function gen(t, F, P, opt, fl, tail, known)
	local h = G[t.tag]
	if depth >= MAXDEPTH and t.tag ~= "str" and t.tag ~= "set" and t.tag ~= "any"
			and t.tag ~= "true" and t.tag ~= "false" then
		return outline(t, F, P, opt, fl, tail)
	end
	h(t, F, P, opt, fl, tail, known)
end

local function enter()
	depth = depth + 1
end

local function leave()
	depth = depth - 1
end

G["true"] = function() end

G["false"] = function(_, F)
	out("goto " .. F)
end

G.any = function(t, F)
	local n = t.n
	if n == 1 then
		out(format("if i > len then goto %s end i = i + 1", F))
	else
		out(format("if i + %d > len then goto %s end i = i + %d", n - 1, F, n))
	end
end

G.str = function(t, F, _, _, _, _, known)
	local s = t.s
	local n = #s
	if n == 1 then
		local c = byte(s)
		if known and known.w and subset(known.w, rangeset(c, c)) then
			out("i = i + 1") -- already tested
			return
		end
		out(format("if %s ~= %d then goto %s end i = i + 1", known and known.v or "byte(s, i)", c, F))
	elseif n <= 4 then
		local names, conds = {}, {}
		for k = 1, n do
			names[k] = var()
			conds[k] = format("%s ~= %d", names[k], byte(s, k))
		end
		out(format("do local %s = byte(s, i, i + %d) if %s then goto %s end end i = i + %d",
			concat(names, ", "), n - 1, concat(conds, " or "), F, n))
	else
		out(format("if sub(s, i, i + %d) ~= %s then goto %s end i = i + %d", n - 1, quote(s),
			F, n))
	end
end

G.set = function(t, F, _, _, _, _, known)
	local r = runs(t)
	if #r == 0 then
		out("goto " .. F)
		return
	elseif #r == 1 and r[1][1] == 0 and r[1][2] == 255 then
		return G.any({ n = 1 }, F)
	elseif #r == 1 and r[1][1] == r[1][2] then
		return G.str({ s = char(r[1][1]) }, F, nil, nil, nil, nil, known)
	end
	if known and known.w and subset(known.w, t) then
		out("i = i + 1") -- already tested
		return
	end
	local close = opentest(t, known, true)
	out(format("goto %s %s i = i + 1", F, close))
end

G.utfr = function(t, F)
	out(format("i = utf(s, i, %d, %d) if not i then goto %s end", t.from, t.to, F))
end

G.seq = function(t, F, P, opt, fl, tail, known)
	local list = seqlist(t)
	local n = #list
	-- The first set of list[j..n] (followed by fl), computed only when an element needs
	-- its follow set and as LPeg computes it: a grammar can reach itself through what
	-- follows, and LPeg never looks there unless it must.
	local memo = {}
	local function firstrest(j)
		local m = memo[j]
		if m then
			return m[1], m[2]
		end
		local p = list[j]
		local cs, e
		if j == n then
			cs, e = getfirst(p, fl)
		elseif not nullable(p) then
			cs, e = getfirst(p, FULL)
		else
			local cs2, e2 = firstrest(j + 1)
			local e1
			cs, e1 = getfirst(p, cs2)
			if e1 == 0 then
				e = 0
			elseif (e1 | e2) & 2 ~= 0 then
				e = 2
			else
				e = e2
			end
		end
		memo[j] = { cs, e }
		return cs, e
	end
	for k = 1, n - 1 do
		local p = list[k]
		gen(p, F, P, false, needfollow(p) and (firstrest(k + 1)) or FULL, false,
			k == 1 and known or nil)
	end
	gen(list[n], F, P, opt, fl, tail, n == 1 and known or nil)
end

G.choice = function(t, F, P, opt, fl, tail, known)
	local list = flatten(t, "choice", {})
	local p1 = list[1]
	local p2 = rightchoice(list, 2)
	local emptyp2 = p2.tag == "true"
	local cs1, e1 = getfirst(p1, FULL)
	if headfail(p1) or (e1 == 0 and disjoint(cs1, (getfirst(p2, fl)))) then
		-- the next byte decides: no backtrack point
		if isempty(cs1) then
			return gen(p2, F, P, opt, fl, tail, known)
		end
		enter()
		local close, v = opentest(cs1, known, false)
		gen(p1, F, P, false, fl, tail, v and { v = v, w = cs1 })
		if not emptyp2 then
			out("else")
			gen(p2, F, P, opt, fl, tail, v and { v = v })
		end
		out(close)
		leave()
		return
	end
	local L, D = label(), label()
	local caps = touchesnc(p1)
	enter()
	out(caps and "do local i0, n0 = i, nc" or "do local i0 = i")
	if opt and emptyp2 then
		-- LPeg reuses the enclosing optional construct's entry
		gen(p1, L, P, true, FULL, false, known)
		out("goto " .. D)
	else
		local close, v
		if e1 == 0 then
			close, v = opentest(cs1, known, false)
		end
		check(P)
		gen(p1, L, P + 1, emptyp2, FULL, false, v and { v = v, w = cs1 })
		out("goto " .. D)
		if close then
			out(close)
		end
	end
	out(format("::%s:: %s", L, caps and "i, nc = i0, n0" or "i = i0"))
	if not (opt and emptyp2) then
		gen(p2, F, P, opt, fl, tail, nil)
	end
	out(format("end ::%s::", D))
	leave()
end

-- A loop whose body is `set / x`: each run of the set is one step of `find`, then `x`
-- gets its turn. LPeg takes the run a byte per iteration to the same effect, with the
-- same backtrack entries, so only `x` matters for them.
local function spanloop(cs1, x, st, e1, testbased, F, P, opt)
	enter()
	if testbased then
		out("while true do")
		span(cs1)
		local known = looptest(st, "break")
		if known then
			known.w = inter(st, complement(cs1))
		end
		gen(x, F, P, false, FULL, false, known)
		out("end")
		leave()
		return
	end
	local L = label()
	out("do local i0, n0 = i, nc")
	local close
	if e1 == 0 then
		close = opentest(st, nil, false) -- LPeg's test before its backtrack entry
	end
	if not opt then
		check(P)
	end
	out("while true do")
	span(cs1)
	out("i0, n0 = i, nc")
	gen(x, L, opt and P or P + 1, false, FULL, false, nil)
	out("i0, n0 = i, nc")
	out("end")
	out(format("::%s:: i, nc = i0, n0", L))
	if close then
		out(close)
	end
	out("end")
	leave()
end

-- The loop of p^n: LPeg's TRep
local function loop(p, F, P, opt, fl)
	local cs = tocharset(p)
	if cs then
		span(cs)
		return
	end
	local st, e1 = getfirst(p, FULL)
	if p.tag == "choice" then
		local list = flatten(p, "choice", {})
		local cs1 = tocharset(list[1])
		if cs1 then
			local testbased = headfail(p) or (e1 == 0 and disjoint(st, fl))
			return spanloop(cs1, rightchoice(list, 2), st, e1, testbased, F, P, opt)
		end
	end
	enter()
	if headfail(p) or (e1 == 0 and disjoint(st, fl)) then
		if isempty(st) then
			leave()
			return
		end
		out("while true do")
		local known = looptest(st, "break")
		gen(p, F, P, false, FULL, false, known)
		out("end")
		leave()
		return
	end
	local L = label()
	local caps = touchesnc(p)
	out(caps and "do local i0, n0 = i, nc" or "do local i0 = i")
	local close
	if e1 == 0 then
		close = opentest(st, nil, false)
	end
	if not opt then
		check(P)
	end
	out("while true do")
	gen(p, L, opt and P or P + 1, false, FULL, false, nil)
	out(caps and "i0, n0 = i, nc" or "i0 = i")
	out("end")
	out(format("::%s:: %s", L, caps and "i, nc = i0, n0" or "i = i0"))
	if close then
		out(close)
	end
	out("end")
	leave()
end

G.rep = function(t, F, P, opt, fl)
	local p, n = t.p, t.n
	if n > 1 then
		enter()
		out(format("for _ = 1, %d do", n - 1))
		gen(p, F, P, false, needfollow(p) and (getfirst(p, FULL)) or FULL, false, nil)
		out("end")
		leave()
	end
	if n > 0 then
		gen(p, F, P, false, needfollow(p) and union((getfirst(p, fl)), fl) or FULL, false, nil)
	end
	loop(p, F, P, opt, fl)
end

-- p^-n
G.opt = function(t, F, P, opt, fl)
	local p, n = t.p, t.n
	local st, e1
	if nullable(p) then
		st, e1 = getfirst(p, FULL), 1
	else
		st, e1 = getfirst(p, FULL)
	end
	local pfl = needfollow(p) and union((getfirst(p, fl)), fl) or FULL
	enter()
	if headfail(p) or (e1 == 0 and disjoint(st, fl)) then
		if isempty(st) then
			leave()
			return
		end
		out(n == 1 and "repeat" or format("for _ = 1, %d do", n))
		local known = looptest(st, "break")
		gen(p, F, P, false, pfl, false, known)
		out(n == 1 and "until true" or "end")
		leave()
		return
	end
	local L = label()
	local caps = touchesnc(p)
	out(caps and "do local i0, n0 = i, nc" or "do local i0 = i")
	local close
	if e1 == 0 and not opt then
		close = opentest(st, nil, false)
	end
	if not opt then
		check(P)
	end
	out(n == 1 and "repeat" or format("for _ = 1, %d do", n))
	gen(p, L, opt and P or P + 1, false, pfl, false, nil)
	out(caps and "i0, n0 = i, nc" or "i0 = i")
	out(n == 1 and "until true" or "end")
	out(format("::%s:: %s", L, caps and "i, nc = i0, n0" or "i = i0"))
	if close then
		out(close)
	end
	out("end")
	leave()
end

G["not"] = function(t, F, P, _, _, _, known)
	local p = t.p
	local st, e = getfirst(p, FULL)
	if headfail(p) then
		if e ~= 0 then
			out("goto " .. F)
			return
		end
		local close = opentest(st, known, false)
		out(format("goto %s %s", F, close))
		return
	end
	local L = label()
	local caps = touchesnc(p)
	enter()
	out(caps and "do local i0, n0 = i, nc" or "do local i0 = i")
	local close, v
	if e == 0 then
		close, v = opentest(st, known, false)
	end
	check(P)
	gen(p, L, P + 1, false, FULL, false, v and { v = v, w = st })
	out("goto " .. F)
	if close then
		out(close)
	end
	out(format("::%s:: %s", L, caps and "i, nc = i0, n0" or "i = i0"))
	out("end")
	leave()
end

G["and"] = function(t, F, P, _, _, _, known)
	local p = t.p
	local n = fixedlen(p)
	enter()
	if n >= 0 and n <= 255 and not hascaptures(p) then
		out("do local i0 = i")
		gen(p, F, P, false, FULL, false, known)
		out("i = i0 end")
	else
		out("do local i0, n0 = i, nc")
		check(P)
		gen(p, F, P + 1, false, FULL, false, known)
		out("i, nc = i0, n0 end")
	end
	leave()
end

G.behind = function(t, F, P)
	local n = t.n
	enter()
	if n > 0 then
		out(format("if i <= %d then goto %s end", n, F))
		out(format("do local i0 = i i = i - %d", n))
	else
		out("do local i0 = i")
	end
	gen(t.p, F, P, false, FULL, false, nil)
	out("i = i0 end")
	leave()
end

local function newdesc(t)
	local id = descof[t]
	if id then
		return id, descs[id]
	end
	local d = { kind = t.kind }
	local kind = t.kind
	if kind == "const" then
		d.vals, d.nv = t.vals, t.nv
	elseif kind == "group" then
		d.name, d.named = t.v, t.named
	elseif kind == "backref" then
		d.name = t.v
	elseif kind == "arg" or kind == "num" then
		d.n = t.v
		if kind == "arg" then
			usesargs = true
		end
	elseif kind == "func" or kind == "fold" or kind == "acc" then
		d.f = t.v
	elseif kind == "query" then
		d.t = t.v
	elseif kind == "string" then
		d.fmt, d.plain = t.v, not t.v:find("%", 1, true)
	elseif t.tag == "cmt" then
		d.kind, d.f = "cmt", t.f
	end
	d.h = I.captures.H[d.kind] -- how lpeg.captures evaluates it
	id = #descs + 1
	descs[id] = d
	descof[t] = id
	return id, d
end

G.cap = function(t, F, P, _, fl, _, known)
	local id, d = newdesc(t)
	local body = t.p
	if body.tag == "true" then
		d.flen = 0
		out(format("caps[nc + 1] = %d caps[nc + 2] = i nc = nc + 2", -id))
		return
	end
	local n = fixedlen(body)
	if n >= 0 and not hascaptures(body) then
		d.flen = n
		gen(body, F, P, false, fl, false, known)
		out(format("caps[nc + 1] = %d caps[nc + 2] = i - %d nc = nc + 2", -id, n))
		return
	end
	out(format("caps[nc + 1] = %d caps[nc + 2] = i nc = nc + 2", id))
	gen(body, F, P, false, fl, false, known)
	out("caps[nc + 1] = 0 caps[nc + 2] = i nc = nc + 2")
end

G.cmt = function(t, F, P, _, _, _, known)
	local id = newdesc(t)
	enter()
	out(format("do local m = nc caps[nc + 1] = %d caps[nc + 2] = i nc = nc + 2", id))
	gen(t.p, F, P, false, FULL, false, known)
	out(format("i, nc = cmt(s, i, caps, m, nc) if not i then goto %s end end", F))
	leave()
end

-- Rules are Lua functions, generated when first called; a small rule not already being
-- generated or inlined is inlined instead, with LPeg's backtrack entry for the call kept.
local INLINESIZE = 40 -- nodes in a rule's body
local INLINEDEPTH = 3
local inlining, ninlining -- the rules whose code is being generated, in this function

local function size(t, n)
	n = n + 1
	if n > INLINESIZE then
		return n
	end
	if t.tag == "grammar" then
		return INLINESIZE + 1
	end
	if t.p then
		n = size(t.p, n)
	end
	if t.q then
		n = size(t.q, n)
	end
	return n
end

local function rulefunction(rule)
	local g = rule.grammar
	local fns = grammars[g]
	if fns == nil then
		fns = {}
		grammars[g] = fns
	end
	local k = fns[rule]
	if k then
		return k
	end
	k = newfunction()
	fns[rule] = k
	local sinlining, sninlining = inlining, ninlining
	inlining, ninlining = { [rule] = true }, 0
	function_(k, function()
		gen(rule.body, "FAIL", 0, false, FULL, true, nil)
	end)
	inlining, ninlining = sinlining, sninlining
	return k
end

local function call(rule, F, P, tail)
	if rule.size == nil then
		rule.size = size(rule.body, 0)
	end
	if inlining[rule] or ninlining >= INLINEDEPTH or rule.size > INLINESIZE then
		callfunction(rulefunction(rule), F, P, tail, true)
		return
	end
	inlining[rule], ninlining = true, ninlining + 1
	if tail == true then
		gen(rule.body, F, 0, false, FULL, true, nil)
	elseif tail then
		gen(rule.body, F, tail, false, FULL, tail, nil)
	else
		check(P)
		gen(rule.body, F, P + 1, false, FULL, P + 1, nil)
	end
	inlining[rule], ninlining = nil, ninlining - 1
end

G.grammar = function(t, F, P)
	call(t.rules[1], F, P, false)
end

G.call = function(t, F, P, _, _, tail)
	if tail == true and P ~= 0 then
		tail = false
	end
	call(t.rule, F, P, tail)
end

---------------------------------------------------------------------------------------

local function reset()
	runcache, firstmemo, exprcache = {}, {}, {}
	buf, nbuf, depth = {}, 0, 0
	nlabel, nvar = 0, 0
	funcs = {}
	consts, constidx = {}, {}
	descs = { { kind = "value" }, { kind = "group", named = false, h = I.captures.H.group } }
	descof = {}
	grammars = {}
	inlining, ninlining = {}, 0
	usesargs = false
end

-- Rules point at their grammar, so a call knows which functions to use
local function linkrules(t, seen)
	if seen[t] then
		return
	end
	seen[t] = true
	if t.tag == "grammar" then
		for _, rule in ipairs(t.rules) do
			rule.grammar = t
			linkrules(rule.body, seen)
		end
	elseif t.tag == "call" then
		return
	end
	if t.p then
		linkrules(t.p, seen)
	end
	if t.q then
		linkrules(t.q, seen)
	end
end

local function generate(p)
	reset()
	linkrules(p, {})
	local main = newfunction()
	function_(main, function()
		gen(p, "FAIL", 0, false, FULL, false, nil)
	end)
	local head = {
		"local K, H = ...",
		"local byte, sub, find, utf, cmt = H.byte, H.sub, H.find, H.utf, H.cmt",
	}
	local names, values = {}, {}
	for k = 1, min(#consts, NLOCALCONSTS) do
		names[k], values[k] = "k" .. k, "K[" .. k .. "]"
	end
	if #names > 0 then
		head[#head + 1] = format("local %s = %s", concat(names, ", "), concat(values, ", "))
	end
	head[#head + 1] = "local F = {}"
	local src = concat(head, "\n") .. "\n" .. concat(funcs, "\n") .. "\nreturn F[1]\n"
	return src
end

function M.compile(p)
	local src = generate(p)
	local chunk, err = load(src, "=lpeg", "t", {})
	if chunk == nil then
		error("lpeg: generated code does not load: " .. tostring(err))
	end
	local code = {
		fn = chunk(consts, I.helpers), desc = descs, capt = hascaptures(p), args = usesargs,
	}
	reset()
	return code
end

-- The source a pattern compiles to (for lpeg.pcode)
function M.source(p)
	local src = generate(p)
	reset()
	return src
end

return M

end
