-- lpeg.captures: turns the capture entries a match recorded into values, as LPeg's C does
-- after a match (and, for a match-time capture, during it).
--
-- The entries are pairs in `caps` (lpeg/codegen.lua describes them); `caps` also holds
-- the subject (`s`), the pattern's capture descriptors (`desc`), the extra arguments to
-- match (`args`, `nargs`) and, while evaluating, the value stack `V` and `first`, where
-- this evaluation's values start. Values go onto `V` the way the C code pushes them onto
-- the Lua stack, so an accumulator capture (`%`), which replaces the value below it, sees
-- what it sees in LPeg. Each function takes the index `k` of an entry, the top `vt` of
-- `V` and the nesting depth `rec`, and returns the index after the capture it evaluated
-- and the new top.

return function(I)

I.sources[debug.getinfo(1, "S").source] = true

local sub, concat, format = string.sub, table.concat, string.format
local type, tostring, tonumber, select, rawset, error, getmetatable = type, tostring,
	tonumber, select, rawset, error, getmetatable
local unpack, move = table.unpack, table.move
local tointeger = math.tointeger
local lpegerror, ctypename = I.error, I.ctypename

local M = {}

local MAXRECLEVEL = 200
local MAXSTRCAPS = 10

local push -- evaluates one capture

-- The index after the capture at k, skipping what it nests (LPeg's nextcap)
local function skip(caps, k)
	if caps[k] < 0 then
		return k + 2
	end
	local n = 0
	k = k + 2
	while true do
		local d = caps[k]
		if d == 0 then
			if n == 0 then
				return k + 2
			end
			n = n - 1
		elseif d > 0 then
			n = n + 1
		end
		k = k + 2
	end
end

-- The open entry of the close at k (LPeg's findopen)
local function findopen(caps, k)
	local n = 0
	while true do
		k = k - 2
		local d = caps[k]
		if d == 0 then
			n = n + 1
		elseif d > 0 then
			if n == 0 then
				return k
			end
			n = n - 1
		end
	end
end

-- Where the capture at k ends, given the index after it
local function endof(caps, k, after)
	local d = caps[k]
	if d < 0 then
		return caps[k + 1] + caps.desc[-d].flen
	end
	return caps[after - 1]
end

-- All values nested in the capture at k, or its whole match when there are none (or
-- always, after them, with `extra`): LPeg's pushnestedvalues
local function nestedvalues(caps, k, vt, extra, rec)
	local d = caps[k]
	local st = caps[k + 1]
	if d < 0 then
		caps.V[vt + 1] = sub(caps.s, st, st + caps.desc[-d].flen - 1)
		return k + 2, vt + 1
	end
	local top = vt
	local j = k + 2
	while caps[j] ~= 0 do
		j, top = push(caps, j, top, rec)
	end
	if extra or top == vt then
		top = top + 1
		caps.V[top] = sub(caps.s, st, caps[j + 1] - 1)
	end
	return j + 2, top
end

-- Store the results of a call at V[base], V[base + 1], ...; the new top
local function results(V, base, ...)
	local n = select("#", ...)
	if n == 1 then
		V[base] = ...
	elseif n > 1 then
		move({ ... }, 1, n, base, V)
	end
	return base + n - 1
end

-- The most recent group named `name` visible from the back reference at k
local function findback(caps, k, name)
	local descs = caps.desc
	local j = k
	while j > 1 do
		j = j - 2
		local d = caps[j]
		if d == 0 then
			j = findopen(caps, j)
			d = caps[j]
		elseif d > 0 then
			goto continue -- a capture enclosing the reference: look before it
		end
		if d ~= -1 then
			local desc = descs[d < 0 and -d or d]
			if desc.kind == "group" and desc.name == name then
				return j
			end
		end
		::continue::
	end
	local t = type(name)
	lpegerror(format("back reference '%s' not found",
		(t == "string" or t == "number") and tostring(name) or "(null)"))
end

local addonestring

-- The pieces of a string capture's format: %0 is the whole match, then nested simple
-- captures (with theirs, flattened) as text, other captures as entries to evaluate when
-- used (LPeg's getstrcaps).
local function getstrcaps(caps, k, cps, n)
	local kk = n
	n = n + 1
	local st = caps[k + 1]
	cps[3 * kk + 1] = st
	cps[3 * kk + 3] = false
	if caps[k] < 0 then
		cps[3 * kk + 2] = st + caps.desc[-caps[k]].flen
		return k + 2, n
	end
	local descs = caps.desc
	local j = k + 2
	while caps[j] ~= 0 do
		local d = caps[j]
		if n >= MAXSTRCAPS then
			j = skip(caps, j)
		elseif d ~= -1 and descs[d < 0 and -d or d].kind == "simple" then
			j, n = getstrcaps(caps, j, cps, n)
		else
			cps[3 * n + 3] = j
			j = skip(caps, j)
			n = n + 1
		end
	end
	cps[3 * kk + 2] = caps[j + 1]
	return j + 2, n
end

-- p / "format"
local function stringcap(caps, k, parts, np, vt, rec)
	local fmt = caps.desc[caps[k] < 0 and -caps[k] or caps[k]].fmt
	local cps = {}
	local after, n = getstrcaps(caps, k, cps, 0)
	n = n - 1
	local s = caps.s
	local i, len = 1, #fmt
	while i <= len do
		local pct = fmt:find("%", i, true)
		if pct == nil then
			np = np + 1
			parts[np] = sub(fmt, i)
			break
		end
		if pct > i then
			np = np + 1
			parts[np] = sub(fmt, i, pct - 1)
		end
		local c = fmt:byte(pct + 1)
		if c == nil or c < 48 or c > 57 then
			np = np + 1
			parts[np] = c and sub(fmt, pct + 1, pct + 1) or "\0"
		else
			local l = c - 48
			if l > n then
				lpegerror(format("invalid capture index (%d)", l))
			end
			local entry = cps[3 * l + 3]
			if not entry then
				np = np + 1
				parts[np] = sub(s, cps[3 * l + 1], cps[3 * l + 2] - 1)
			else
				local got
				local _
				_, np, got = addonestring(caps, entry, parts, np, vt, "capture", rec)
				if not got then
					lpegerror(format("no values in capture index %d", l))
				end
			end
		end
		i = pct + 2
	end
	return after, np
end

-- Cs(p)
local function substcap(caps, k, parts, np, vt, rec)
	local s = caps.s
	local d = caps[k]
	local st = caps[k + 1]
	if d < 0 then
		np = np + 1
		parts[np] = sub(s, st, st + caps.desc[-d].flen - 1)
		return k + 2, np
	end
	local curr = st
	local j = k + 2
	while caps[j] ~= 0 do
		local nxt = caps[j + 1]
		np = np + 1
		parts[np] = sub(s, curr, nxt - 1)
		local after, got
		after, np, got = addonestring(caps, j, parts, np, vt, "replacement", rec)
		curr = got and endof(caps, j, after) or nxt
		j = after
	end
	np = np + 1
	parts[np] = sub(s, curr, caps[j + 1] - 1)
	return j + 2, np
end

-- The first value of the capture at k, appended to parts as a string; whether it had one
function addonestring(caps, k, parts, np, vt, what, rec)
	local d = caps[k]
	local desc = d ~= -1 and caps.desc[d < 0 and -d or d]
	local kind = desc and desc.kind
	if kind == "string" then
		if desc.plain then
			-- a format without '%' is its own value
			np = np + 1
			parts[np] = desc.fmt
			return skip(caps, k), np, true
		end
		local after
		after, np = stringcap(caps, k, parts, np, vt, rec)
		return after, np, true
	elseif kind == "subst" then
		local after
		after, np = substcap(caps, k, parts, np, vt, rec)
		return after, np, true
	elseif kind == "acc" then
		lpegerror("invalid context for an accumulator capture")
	end
	local after, top = push(caps, k, vt, rec)
	if top == vt then
		return after, np, false
	end
	local v = caps.V[vt + 1]
	local t = type(v)
	if t == "number" then
		v = tostring(v)
	elseif t ~= "string" then
		lpegerror(format("invalid %s value (a %s)", what, ctypename(v)))
	end
	np = np + 1
	parts[np] = v
	return after, np, true
end

-- The evaluation of each kind of capture: (caps, k, vt, desc, rec) -> after, top, where
-- rec is the depth of the captures it nests.
local H = {}
M.H = H

function H.simple(caps, k, vt, desc, rec)
	local V = caps.V
	local st = caps[k + 1]
	if caps[k] < 0 then
		V[vt + 1] = sub(caps.s, st, st + desc.flen - 1)
		return k + 2, vt + 1
	end
	local after, top = nestedvalues(caps, k, vt, true, rec)
	-- the whole match goes first
	local whole = V[top]
	for x = top, vt + 2, -1 do
		V[x] = V[x - 1]
	end
	V[vt + 1] = whole
	return after, top
end

function H.position(caps, k, vt)
	caps.V[vt + 1] = caps[k + 1]
	return k + 2, vt + 1
end

function H.const(caps, k, vt, desc)
	local V, vals = caps.V, desc.vals
	for x = 1, desc.nv do
		V[vt + x] = vals[x]
	end
	return k + 2, vt + desc.nv
end

function H.arg(caps, k, vt, desc)
	local n = desc.n
	if n > caps.nargs then
		lpegerror(format("reference to absent extra argument #%d", n))
	end
	caps.V[vt + 1] = caps.args[n]
	return k + 2, vt + 1
end

function H.backref(caps, k, vt, desc, rec)
	local g = findback(caps, k, desc.name)
	local _, top = nestedvalues(caps, g, vt, false, rec)
	return k + 2, top
end

function H.group(caps, k, vt, desc, rec)
	if desc.named then
		return skip(caps, k), vt
	end
	return nestedvalues(caps, k, vt, false, rec)
end

function H.table(caps, k, vt, _, rec)
	local V = caps.V
	vt = vt + 1
	V[vt] = {}
	if caps[k] < 0 then
		return k + 2, vt
	end
	local descs = caps.desc
	local n = 0
	local j = k + 2
	while true do
		local d = caps[j]
		if d == 0 then
			break
		end
		local desc = d ~= -1 and descs[d < 0 and -d or d]
		if desc and desc.named then
			-- the name first, then the group's first value, as LPeg pushes them
			V[vt + 1] = desc.name
			j = nestedvalues(caps, j, vt + 1, false, rec)
			V[vt][V[vt + 1]] = V[vt + 2]
		elseif desc and desc.kind == "simple" and rec <= MAXRECLEVEL
				and (d < 0 or caps[j + 2] == 0) then
			-- a simple capture with nothing nested: its match, straight into the table
			local st = caps[j + 1]
			n = n + 1
			if d < 0 then
				V[vt][n] = sub(caps.s, st, st + desc.flen - 1)
				j = j + 2
			else
				V[vt][n] = sub(caps.s, st, caps[j + 3] - 1)
				j = j + 4
			end
		else
			local top
			j, top = push(caps, j, vt, rec)
			local t = V[vt]
			for x = vt + 1, top do
				n = n + 1
				t[n] = V[x]
			end
		end
	end
	return j + 2, vt
end

-- Calls as lua_call does from C: a value that cannot be called gives LPeg's message
local function call(f, ...)
	if type(f) ~= "function" then
		local m = getmetatable(f)
		if not (m and m.__call) then
			error(format("attempt to call a %s value", ctypename(f)), 0)
		end
	end
	return f(...)
end

function H.func(caps, k, vt, desc, rec)
	local V = caps.V
	local f = desc.f
	V[vt + 1] = f
	local after, top = nestedvalues(caps, k, vt + 1, false, rec)
	local g = V[vt + 1] -- an accumulator nested here may have replaced the function
	if g == f and top == vt + 2 then
		return after, results(V, vt + 1, f(V[top]))
	end
	return after, results(V, vt + 1, call(g, unpack(V, vt + 2, top)))
end

function H.query(caps, k, vt, desc, rec)
	local V = caps.V
	local after = nestedvalues(caps, k, vt, false, rec)
	local v = desc.t[V[vt + 1]]
	if v == nil then
		return after, vt
	end
	V[vt + 1] = v
	return after, vt + 1
end

-- While LPeg builds a string its buffer holds a slot on the Lua stack, which captures
-- evaluated meanwhile find below their values: `false` stands for it here.
function H.string(caps, k, vt, desc, rec)
	if desc.plain then
		caps.V[vt + 1] = desc.fmt
		return skip(caps, k), vt + 1
	end
	local parts = {}
	caps.V[vt + 1] = false
	local after, np = stringcap(caps, k, parts, 0, vt + 1, rec)
	caps.V[vt + 1] = concat(parts, "", 1, np)
	return after, vt + 1
end

function H.subst(caps, k, vt, _, rec)
	if caps[k] > 0 and caps[k + 2] == 0 then
		-- nothing nested: the match itself
		caps.V[vt + 1] = sub(caps.s, caps[k + 1], caps[k + 3] - 1)
		return k + 4, vt + 1
	end
	local parts = {}
	caps.V[vt + 1] = false
	local after, np = substcap(caps, k, parts, 0, vt + 1, rec)
	caps.V[vt + 1] = concat(parts, "", 1, np)
	return after, vt + 1
end

function H.num(caps, k, vt, desc, rec)
	local n = desc.n
	if n == 0 then
		return skip(caps, k), vt
	end
	local after, top = nestedvalues(caps, k, vt, false, rec)
	if top - vt < n then
		lpegerror(format("no capture '%d'", n))
	end
	local V = caps.V
	V[vt + 1] = V[vt + n]
	return after, vt + 1
end

function H.fold(caps, k, vt, desc, rec)
	-- Over a pattern with no captures, LPeg 1.1.0 takes the entry after the fold (a
	-- sibling) for its initial value, and fails only when there is none.
	local close = caps[k + 2]
	if close == 0 or close == nil then
		lpegerror("no initial value for fold capture")
	end
	local V = caps.V
	local j, top = push(caps, k + 2, vt, rec)
	if top == vt then
		lpegerror("no initial value for fold capture")
	end
	if caps[k] < 0 then
		return j, vt + 1
	end
	local f = desc.f
	while caps[j] ~= 0 do
		j, top = push(caps, j, vt + 1, rec)
		V[vt + 1] = (f(unpack(V, vt + 1, top)))
	end
	return j + 2, vt + 1
end

function H.acc(caps, k, vt, desc, rec)
	if vt < caps.first then
		lpegerror("no previous value for accumulator capture")
	end
	local V = caps.V
	local after, top = nestedvalues(caps, k, vt, false, rec)
	V[vt] = (call(desc.f, V[vt], unpack(V, vt + 1, top)))
	return after, vt
end

function push(caps, k, vt, rec)
	if rec > MAXRECLEVEL then
		lpegerror("subcapture nesting too deep")
	end
	local d = caps[k]
	if d < 0 then
		if d == -1 then
			caps.V[vt + 1] = caps[k + 1]
			return k + 2, vt + 1
		end
		local desc = caps.desc[-d]
		local kind = desc.kind
		if kind == "simple" then
			local st = caps[k + 1]
			caps.V[vt + 1] = sub(caps.s, st, st + desc.flen - 1)
			return k + 2, vt + 1
		elseif kind == "position" then
			caps.V[vt + 1] = caps[k + 1]
			return k + 2, vt + 1
		end
		return desc.h(caps, k, vt, desc, rec + 1)
	end
	local desc = caps.desc[d]
	if caps[k + 2] == 0 and desc.kind == "simple" then
		caps.V[vt + 1] = sub(caps.s, caps[k + 1], caps[k + 3] - 1)
		return k + 4, vt + 1
	end
	return desc.h(caps, k, vt, desc, rec + 1)
end

-- The values of a successful match that recorded nc entries and ended at e
function M.get(caps, nc, e)
	caps[nc + 1] = 0 -- the list ends as if closed, as LPeg's does
	caps[nc + 2] = e
	local V = {}
	caps.V, caps.first = V, 1
	local k, top = 1, 0
	while k < nc do
		k, top = push(caps, k, top, 0)
	end
	I.release(caps)
	if top == 0 then
		return e
	end
	return unpack(V, 1, top)
end

-- lua_tointeger: a number or numeric string with an integer value, else 0
local function position(v)
	local n = tonumber(v)
	return n and tointeger(n) or 0
end

-- A match-time capture whose pattern matched from entry m + 1 to position i, with nc
-- entries so far: calls its function and returns the new position and entry count, or
-- nil when the function makes the match fail.
function M.cmt(s, i, caps, m, nc)
	caps[nc + 1] = 0
	caps[nc + 2] = i
	local V = {}
	caps.V, caps.first = V, 1
	local _, top = nestedvalues(caps, m + 1, 0, false, 0)
	caps.V = nil
	local desc = caps.desc[caps[m + 1]]
	return M.result(s, i, caps, m, desc.f(s, i, unpack(V, 1, top)))
end

function M.result(s, i, caps, m, ...)
	local r = ...
	if not r then
		return nil
	end
	local pos = i
	if r ~= true then
		pos = type(r) == "number" and (tointeger(r) or 0) or position(r)
		if pos < i or pos > #s + 1 then
			lpegerror("invalid position returned by match-time capture")
		end
	end
	local n = select("#", ...) - 1
	if n == 0 then
		return pos, m
	end
	caps[m + 1] = 2 -- an anonymous group now, holding the values
	local nc = m + 2
	for x = 2, n + 1 do
		caps[nc + 1] = -1
		caps[nc + 2] = (select(x, ...))
		nc = nc + 2
	end
	caps[nc + 1] = 0
	caps[nc + 2] = pos
	return pos, nc + 2
end

return M

end
