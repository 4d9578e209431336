-- skynet.seri: skynet's lua-seri wire format (skynet.pack / skynet.unpack) in pure Lua.
--
-- Byte-for-byte what skynet's C module writes, so packed messages cross between this
-- runtime, the Python node (skykernel/node/seri.py) and real skynet unchanged.
-- Every value starts with a byte (type | cookie << 3); numbers are little-endian.
-- Loaded into every service, so it stays small: no big tables, no globals.

local setmetatable, getmetatable, type, rawlen, rawget, next, select, error =
	setmetatable, getmetatable, type, rawlen, rawget, next, select, error
local mtype = math.type
local char, sbyte, ssub, spack, sunpack = string.char, string.byte, string.sub, string.pack, string.unpack
local concat, tunpack = table.concat, table.unpack

-- skynet's limit: a table nested more than MAX_DEPTH deep may exist but must be empty.
-- unpack applies the same rule, so whatever unpacks can be packed again, and a crafted
-- stream cannot recurse without bound (real skynet's C unpack crashes on such a stream).
local MAX_DEPTH = 32

-- Header bytes as strings, made on first use (at most 256 each, usually a dozen):
-- a table hit is several times cheaper than calling string.char.
local function cache(f)
	return setmetatable({}, { __index = function(t, i)
		local c = f(i)
		t[i] = c
		return c
	end })
end
local B = cache(char)
local U8 = cache(function(i) return char(10, i) end)

-- A piece buffer kept between packs saves regrowing a table each time. A pack takes
-- it (a pack nested in a __gc finalizer then gets a fresh one) and returns it only
-- when small, so it never pins much memory.
local spare = {}

local pack_value

-- Like skynet, a table at level `depth` packs its items at `depth`; an item deeper than
-- MAX_DEPTH fails, so 32 nested tables pack and a 33rd level fails once it holds anything.
local function pack_table(b, n, t, depth)
	local mt = getmetatable(t)
	local mpairs = mt ~= nil and type(mt) == "table" and rawget(mt, "__pairs")
	if mpairs then
		-- what __pairs yields, all as key-value pairs, as skynet's lua-seri packs it
		-- (so a proxy, a sharedata object say, packs as the data it shows)
		n = n + 1
		b[n] = "\6"
		for k, v in mpairs(t) do
			if depth > MAX_DEPTH then -- as deep as a plain table, it may yield nothing
				error("serialize can't pack too depth table", 0)
			end
			n = pack_value(b, pack_value(b, n, k, depth), v, depth)
		end
		n = n + 1
		b[n] = "\0"
		return n
	end
	local asize = rawlen(t)
	if depth > MAX_DEPTH and (asize > 0 or next(t) ~= nil) then
		error("serialize can't pack too depth table", 0)
	end
	if asize < 31 then
		n = n + 1
		b[n] = B[6 + asize * 8]
	else
		b[n + 1] = "\254"
		n = pack_value(b, n + 1, asize, depth)
	end
	local raw = mt ~= nil -- without a metatable t[i] is raw, and cheaper
	for i = 1, asize do
		local v
		if raw then v = rawget(t, i) else v = t[i] end
		if mtype(v) == "integer" and v > 0 and v < 0x100 then -- small integer, inlined
			n = n + 1
			b[n] = U8[v]
		else
			n = pack_value(b, n, v, depth)
		end
	end
	local ai = 1 -- array slots come first and in order when they sit in the array part
	for k, v in next, t do
		local tk = k == ai and ai <= asize or type(k)
		if tk == true then
			ai = ai + 1
		elseif tk == "string" and #k < 32 then -- the usual key, inlined
			b[n + 1] = B[4 + #k * 8]
			n = n + 2
			b[n] = k
			n = pack_value(b, n, v, depth)
		elseif not (tk == "number" and k >= 1 and k <= asize and k % 1 == 0) then
			n = pack_value(b, pack_value(b, n, k, depth), v, depth)
		end -- else an array slot, already packed (float keys are never integral)
	end
	n = n + 1
	b[n] = "\0"
	return n
end

-- Appends v after b[n]; returns the new last index.
function pack_value(b, n, v, depth)
	local tv = type(v)
	n = n + 1
	if tv == "string" then
		local len = #v
		if len < 32 then
			b[n] = B[4 + len * 8]
		else
			b[n] = len < 0x10000 and spack("<BI2", 21, len) or spack("<BI4", 37, len)
		end
		n = n + 1
		b[n] = v
	elseif tv == "number" then
		if mtype(v) == "float" then
			b[n] = spack("<Bd", 66, v)
		elseif v == 0 then
			b[n] = "\2"
		elseif v > 0 and v < 0x100 then
			b[n] = U8[v]
		elseif v > 0 and v < 0x10000 then
			b[n] = char(18, v & 0xff, v >> 8)
		elseif v >= -0x80000000 and v <= 0x7fffffff then
			b[n] = spack("<Bi4", 34, v)
		else
			b[n] = spack("<Bi8", 50, v)
		end
	elseif tv == "table" then
		return pack_table(b, n - 1, v, depth + 1)
	elseif tv == "boolean" then
		b[n] = v and "\9" or "\1"
	elseif v == nil then
		b[n] = "\0"
	else
		error("Unsupport type " .. tv .. " to serialize", 0)
	end
	return n
end

-- The bytes of a short string or an integer, or nil for anything else: what most
-- messages are made of (`"cmd", n`), encoded with no buffer and no call per value.
local function scalar(v)
	local tv = mtype(v)
	if tv == "integer" then
		if v > 0 and v < 0x100 then
			return U8[v]
		elseif v == 0 then
			return "\2"
		elseif v > 0 and v < 0x10000 then
			return char(18, v & 0xff, v >> 8)
		elseif v >= -0x80000000 and v <= 0x7fffffff then
			return spack("<Bi4", 34, v)
		end
		return spack("<Bi8", 50, v)
	elseif tv == nil and type(v) == "string" then
		local len = #v
		if len < 32 then
			return B[4 + len * 8] .. v
		end
	end
end

local function pack_slow(count, ...)
	local b = spare or {}
	spare = nil
	local n = 0
	if count == 1 then
		n = pack_value(b, 0, (...), 0)
	elseif count > 1 then
		local args = { ... }
		for i = 1, count do
			n = pack_value(b, n, args[i], 0)
		end
	end
	local s = concat(b, "", 1, n)
	if n <= 256 and #s <= 4096 then
		spare = b
	end
	return s
end

local function pack(...)
	local count = select("#", ...)
	if count == 2 then -- the usual request: a command name and an argument
		local a, b = ...
		if type(a) == "string" and #a < 32 then
			local pb = scalar(b)
			if pb then
				return B[4 + #a * 8] .. a .. pb
			end
		end
	elseif count == 1 then -- the usual answer
		local p = scalar((...))
		if p then
			return p
		end
	end
	local s = pack_slow(count, ...) -- not a tail call: a debugger counting frames sees it return
	return s
end

local function invalid(pos, what)
	error("Invalid serialize stream (" .. what .. " at byte " .. pos .. ")", 0)
end

-- Reads the value whose header is at s[pos]; returns it and the next position.
-- depth is how many tables enclose it. The caller trims s to the stream length, so
-- reading past #s means truncation.
local function unpack_value(s, pos, depth)
	local h, b1 = sbyte(s, pos, pos + 1)
	if not h then
		invalid(pos, "truncated")
	end
	local t, c = h & 7, h >> 3
	if t == 4 then
		local e = pos + c
		if e > #s then
			invalid(pos, "truncated string")
		end
		return ssub(s, pos + 1, e), e + 1
	elseif t == 2 then
		if c == 0 then
			return 0, pos + 1
		elseif c == 1 then
			if b1 then
				return b1, pos + 2
			end
		elseif c == 2 then
			local lo, hi = sbyte(s, pos + 1, pos + 2)
			if hi then
				return lo | hi << 8, pos + 3
			end
		elseif c == 4 or c == 6 or c == 8 then
			if pos + (c == 4 and 4 or 8) <= #s then
				return sunpack(c == 4 and "<i4" or c == 6 and "<i8" or "<d", s, pos + 1)
			end
		else
			invalid(pos, "bad number cookie " .. c)
		end
		invalid(pos, "truncated number")
	elseif t == 6 then
		local hpos = pos
		pos = pos + 1
		local asize = c
		if c == 31 then
			local nh = sbyte(s, pos)
			if not nh or nh & 7 ~= 2 or nh >> 3 == 8 then
				invalid(pos, "bad array size")
			end
			asize, pos = unpack_value(s, pos, depth)
		end
		depth = depth + 1 -- this table's items are one level deeper
		if depth > MAX_DEPTH then -- pack's rule: only an empty table may sit this deep
			local nb = sbyte(s, pos)
			if asize > 0 or not nb or nb & 7 ~= 0 then
				invalid(hpos, "too depth table")
			end
		end
		local tab, k, v -- small arrays sized by a constructor: no regrowth while filling
		if asize == 0 or asize > 8 then
			tab = {}
		elseif asize <= 4 then
			tab = { nil, nil, nil, nil }
		else
			tab = { nil, nil, nil, nil, nil, nil, nil, nil }
		end
		for i = 1, asize do
			local ih, b = sbyte(s, pos, pos + 1)
			if ih == 10 and b then -- small integer, inlined
				tab[i], pos = b, pos + 2
			else
				v, pos = unpack_value(s, pos, depth)
				tab[i] = v
			end
		end
		while true do
			local kh = sbyte(s, pos)
			if kh == 0 then
				return tab, pos + 1
			elseif kh and kh & 7 == 4 then -- the usual key, inlined
				local e = pos + (kh >> 3)
				if e > #s then
					invalid(pos, "truncated string")
				end
				k, pos = ssub(s, pos + 1, e), e + 1
			else
				local kpos = pos
				k, pos = unpack_value(s, pos, depth)
				if k == nil then
					return tab, pos
				elseif k ~= k then -- Lua's own error here would carry no stream position
					invalid(kpos, "table index is NaN")
				end
			end
			v, pos = unpack_value(s, pos, depth)
			tab[k] = v
		end
	elseif t == 1 then
		return c ~= 0, pos + 1
	elseif t == 0 then
		return nil, pos + 1
	elseif t == 5 then
		if (c ~= 2 and c ~= 4) or pos + c > #s then
			invalid(pos, "bad long string header")
		end
		local len, p = sunpack(c == 2 and "<I2" or "<I4", s, pos + 1)
		local e = p + len - 1
		if e > #s then
			invalid(pos, "truncated string")
		end
		return ssub(s, p, e), e + 1
	elseif t == 3 then
		-- A C pointer only means something inside the process that packed it; pure Lua
		-- cannot make a light userdata, so hand back the address as an integer.
		if pos + 8 <= #s then
			return sunpack("<i8", s, pos + 1)
		end
		invalid(pos, "truncated pointer")
	end
	invalid(pos, "bad type " .. t)
end

local function unpack(s, sz)
	if s == nil then
		return
	end
	if sz and sz < #s then -- a prefix of the string is the stream
		if sz <= 0 then -- not a count from the end, as ssub would take it: no bytes
			return
		end
		s = ssub(s, 1, sz)
	end
	local len = #s
	if len == 0 then
		return
	end
	local v, pos = unpack_value(s, 1, 0)
	if pos > len then
		return v
	end
	local v2
	v2, pos = unpack_value(s, pos, 0)
	if pos > len then -- two values, the usual request: no table to gather them in
		return v, v2
	end
	local out, n = { v, v2 }, 2
	repeat
		n = n + 1
		v, pos = unpack_value(s, pos, 0)
		out[n] = v
	until pos > len
	return tunpack(out, 1, n)
end

return {
	pack = pack,
	packstring = pack,
	unpack = unpack,
}
