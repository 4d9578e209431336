-- bson: skynet's `bson` C library in pure Lua, byte for byte.
--
-- What skynet's lualib-src/lua-bson.c gives Lua, reimplemented from its observed behaviour:
-- the same encodings (int32 or int64 by value, arrays by length, special values as strings
-- that start with "\0" and a BSON type byte), the same decoded values and the same error
-- messages, raised at the same places. An encoded document is a table with the `bson`
-- metatable (skynet's is a userdata) holding the bytes: `tostring` gives them, `#` their
-- length, `:decode()`, `:makeindex()` and then `doc.key = value` work as in skynet.
-- docs/differences.md lists what a pure Lua module cannot copy.

local type, select, error, tostring, tonumber, next, rawget, rawset, rawlen, setmetatable, pcall =
	type, select, error, tostring, tonumber, next, rawget, rawset, rawlen, setmetatable, pcall
local rawmetatable, getinfo = debug.getmetatable, debug.getinfo
local mtype, tointeger = math.type, math.tointeger
local schar, sbyte, ssub, sfind, spack, sunpack, format =
	string.char, string.byte, string.sub, string.find, string.pack, string.unpack, string.format
local concat = table.concat
local utf8len = utf8.len

local REAL, STRING, DOCUMENT, ARRAY, BINARY, OBJECTID, BOOLEAN, DATE, NULL, REGEX =
	1, 2, 3, 4, 5, 7, 8, 9, 10, 11
local DBPOINTER, JSCODE, SYMBOL, CODEWS, INT32, TIMESTAMP, INT64, MINKEY, MAXKEY =
	12, 13, 14, 15, 16, 17, 18, 255, 127

local MAX_DEPTH = 128 -- skynet's limit; it also stops a table that contains itself

local bson = {}

-- An encoded document: its bytes, and after makeindex the offsets of fixed-size fields.
-- Both sit under keys no other code can name, so `doc.anything = v` always reaches
-- __newindex, as on skynet's userdata.
local BYTES = setmetatable({}, { __name = "bson bytes" })
local INDEX = setmetatable({}, { __name = "bson index" })
local META = { __name = "bson" }

local function new_document(s)
	return setmetatable({ [BYTES] = s }, META)
end

---------------------------------------------------------------------------------------
-- Errors as skynet's C functions raise them. luaL_error puts the position of the Lua
-- code that called the C function in front, which here is level 2 of the API function
-- (`error(msg, level)` counts from the function that calls error).

-- The type name luaL_typeerror reports: a metatable's __name first.
local function typename(v, present)
	if not present then
		return "no value"
	end
	local mt = rawmetatable(v)
	local name = mt and rawget(mt, "__name")
	if type(name) == "string" then
		return name
	end
	return type(v)
end

-- luaL_argerror for the API function `level` levels up from argerror (2 when the API
-- function calls it directly); the error points at that function's caller. The name is
-- the one the caller used, as Lua infers it; a function called from C (pcall) has none,
-- and skynet's C then finds it in package.loaded as "bson.<fname>" (or gives "?" for a
-- function that is not there, `fname` nil).
local function argerror(level, arg, fname, msg)
	local info = getinfo(level, "n")
	local name = info and info.name
	if info and info.namewhat == "method" then
		arg = arg - 1
		if arg == 0 then
			error(format("calling '%s' on bad self (%s)", name, msg), level + 1)
		end
	end
	name = name or (fname and "bson." .. fname or "?")
	error(format("bad argument #%d to '%s' (%s)", arg, name, msg), level + 1)
end

-- lua_tonumber: numbers, and strings that convert.
local function to_number(v)
	if type(v) == "number" then
		return v
	elseif type(v) == "string" then
		return tonumber(v)
	end
end

-- luaL_checkinteger's conversion: the integer, or nil and what is wrong.
local function check_integer(v, present)
	if mtype(v) == "integer" then
		return v
	end
	local n = to_number(v)
	if n == nil then
		return nil, "number expected, got " .. typename(v, present)
	end
	local i = tointeger(n)
	if i == nil then
		return nil, "number has no integer representation"
	end
	return i
end

-- lua_tointeger: 0 when the value is not an integer (or a string of one).
local function to_integer(v)
	if mtype(v) == "integer" then
		return v
	end
	local n = to_number(v)
	return n and tointeger(n) or 0
end

-- lua_tolstring: strings, and numbers converted; nil for anything else.
local function to_string(v)
	local tv = type(v)
	if tv == "string" then
		return v
	elseif tv == "number" then
		return tostring(v)
	end
end

-- A string as C's "%s" prints it: up to its first zero byte.
local function cstr(s)
	local z = sfind(s, "\0", 1, true)
	return z and ssub(s, 1, z - 1) or s
end

---------------------------------------------------------------------------------------
-- Encoding. Pieces go into a buffer table `b` (last index `n`); each writer returns the
-- new last index and the number of bytes it wrote, so a document's length is known when
-- its body is done and goes into the slot reserved for it.

-- skynet accepts UTF-8 with surrogates and NUL, and rejects malformed sequences, overlong
-- forms and code points above U+10FFFF. Lua's strict utf8.len accepts a subset of that
-- (no surrogates), quickly; when it refuses, the lax one checks the form (rejecting
-- overlong ones too) and two patterns reject what lies above U+10FFFF.
local function check_utf8(s)
	if not utf8len(s) and not (utf8len(s, 1, -1, true) and not sfind(s, "[\245-\255]")
			and not sfind(s, "\244[\144-\191]")) then
		error("Invalid utf8 string", 0)
	end
end

-- Keys seen before are known to be valid UTF-8 without zeros: such a key is written by
-- string.pack's "z" together with its value, one call per field. Bounded, since keys
-- may come from data.
local plain_keys = {}
local nplain = 0

local function plain_key(key)
	check_utf8(key)
	if sfind(key, "\0", 1, true) then
		return false -- written as is, zeros included, as skynet does
	end
	if nplain >= 4096 then
		plain_keys, nplain = {}, 0
	end
	plain_keys[key] = true
	nplain = nplain + 1
	return true
end

-- The element header for a key with zeros in it (string.pack's "z" refuses those).
local function header(t, key)
	return schar(t) .. key .. "\0"
end

-- Length prefixes of small documents, made once.
local LEN4 = setmetatable({}, { __index = function(t, size)
	local s = spack("<i4", size)
	if size < 4096 then
		t[size] = s
	end
	return s
end })

-- Array keys "0", "1", ...: made once.
local AKEY = setmetatable({}, { __index = function(t, i)
	local s = tostring(i)
	if i >= 0 and i < 1024 then
		t[i] = s
	end
	return s
end })

local pack_one -- (b, n, key, plain, v, depth) -> n, bytes
local pack_table -- (b, n, key, plain, t, depth, metatable) -> n, bytes

local function bad_key(k)
	local tk = type(k)
	if tk == "number" then
		error("Bson dictionary's key can't be number", 0)
	end
	error("Invalid key type : " .. tk, 0)
end

-- A document through its __pairs: every field the general way.
local function pack_pairs(b, n, t, depth, pairs_mm)
	local slot = n + 1
	n = slot
	local size = 5
	local f, s, k = pairs_mm(t)
	while true do
		local v
		k, v = f(s, k)
		if k == nil then
			break
		end
		if type(k) ~= "string" then
			bad_key(k)
		end
		local w
		n, w = pack_one(b, n, k, nil, v, depth)
		size = size + w
	end
	n = n + 1
	b[n] = "\0"
	b[slot] = LEN4[size]
	return n, size
end

-- A document from its raw keys. Numbers, booleans and plain strings under a key seen
-- before are written inline: a call per field is a good part of what a small one costs.
local function pack_dict(b, n, t, depth)
	local slot = n + 1
	n = slot
	local size = 5
	for k, v in next, t do
		local tv = type(v)
		if plain_keys[k] and (tv == "number" or tv == "boolean") then
			local e
			if tv == "boolean" then
				e = spack("<BzB", BOOLEAN, k, v and 1 or 0)
			elseif mtype(v) == "float" then
				e = spack("<Bzd", REAL, k, v)
			elseif v >= -0x80000000 and v <= 0x7fffffff then
				e = spack("<Bzi4", INT32, k, v)
			else
				e = spack("<Bzi8", INT64, k, v)
			end
			n = n + 1
			b[n] = e
			size = size + #e
		elseif plain_keys[k] and tv == "string" and (#v < 2 or sbyte(v, 1) ~= 0) then
			if not utf8len(v) then
				check_utf8(v)
			end
			local len = #v
			local h = spack("<Bzi4", STRING, k, len + 1)
			b[n + 1] = h
			b[n + 2] = v
			n = n + 3
			b[n] = "\0"
			size = size + #h + len + 1
		else -- (plain_keys holds strings only: any other key comes here)
			if type(k) ~= "string" then
				bad_key(k)
			end
			local w
			local mt = tv == "table" and rawmetatable(v)
			if tv == "table" and mt ~= META then
				n, w = pack_table(b, n, k, nil, v, depth, mt)
			else
				n, w = pack_one(b, n, k, nil, v, depth)
			end
			size = size + w
		end
	end
	n = n + 1
	b[n] = "\0"
	b[slot] = LEN4[size]
	return n, size
end

local function pack_array(b, n, t, depth, len)
	local slot = n + 1
	n = slot
	local size = 5
	for i = 1, len do
		local v = t[i]
		if mtype(v) == "integer" and v >= -0x80000000 and v <= 0x7fffffff then
			local e = spack("<Bzi4", INT32, AKEY[i - 1], v)
			n = n + 1
			b[n] = e
			size = size + #e
		else
			local w
			local mt = type(v) == "table" and rawmetatable(v)
			if mt ~= false and mt ~= META then
				n, w = pack_table(b, n, AKEY[i - 1], true, v, depth, mt)
			else
				n, w = pack_one(b, n, AKEY[i - 1], true, v, depth)
			end
			size = size + w
		end
	end
	n = n + 1
	b[n] = "\0"
	b[slot] = LEN4[size]
	return n, size
end

-- A table value: an array when its metatable has __len or its raw length is not zero
-- (elements 1..len, through __index), else a document (its __pairs, or every raw key).
function pack_table(b, n, key, plain, t, depth, mt)
	depth = depth + 1
	if depth > MAX_DEPTH then
		error("Too depth while encoding bson", 0)
	end
	local len, pairs_mm
	if mt ~= nil then
		local len_mm = rawget(mt, "__len")
		if len_mm ~= nil then
			len = len_mm(t)
			if mtype(len) ~= "integer" then
				error("__len should return integer", 0)
			end
			if len < 0 then -- skynet reads it as a size_t: it goes on until a hole
				len = math.maxinteger
			end
		else
			pairs_mm = rawget(mt, "__pairs")
		end
	end
	if len == nil and pairs_mm == nil then
		len = rawlen(t)
		if len == 0 then
			len = nil
		end
	end
	if plain == nil then -- skynet checks the key after the depth and __len
		plain = plain_keys[key] or plain_key(key)
	end
	local h
	if plain then
		h = spack("<Bz", len and ARRAY or DOCUMENT, key)
	else
		h = header(len and ARRAY or DOCUMENT, key)
	end
	n = n + 1
	b[n] = h
	local w
	if len then
		n, w = pack_array(b, n, t, depth, len)
	elseif pairs_mm then
		n, w = pack_pairs(b, n, t, depth, pairs_mm)
	else
		n, w = pack_dict(b, n, t, depth)
	end
	return n, #h + w
end

-- A string that starts with "\0" and a type byte: one of bson.date, bson.objectid...
-- (or a value decoded from a type skynet does not map to Lua), written as that type.
local function pack_special(b, n, key, plain, v, len)
	local st = sbyte(v, 2)
	local h = plain and spack("<Bz", st, key) or header(st, key)
	local body
	if st == BINARY then
		body = spack("<i4", len - 3) .. ssub(v, 3) -- the subtype byte is not counted
	elseif st == OBJECTID then
		if len ~= 14 then
			error("Invalid object id " .. cstr(ssub(v, 3)), 0)
		end
		body = ssub(v, 3)
	elseif st == JSCODE or st == DBPOINTER or st == SYMBOL or st == CODEWS then
		body = ssub(v, 3) -- kept raw by decode, written back raw
	elseif st == DATE then
		if len ~= 6 then
			error("Invalid date", 0)
		end
		body = spack("<i8", sunpack("<I4", v, 3) * 1000) -- seconds, as skynet keeps them
	elseif st == TIMESTAMP then
		if len ~= 10 then
			error("Invalid timestamp", 0)
		end
		body = ssub(v, 3)
	elseif st == REGEX then
		-- pattern "\0" options "\0": the last byte is taken for the final zero and the
		-- last zero before it splits the two, as skynet does
		local s = ssub(v, 3, -2)
		local split
		for i = #s, 1, -1 do
			if sbyte(s, i) == 0 then
				split = i
				break
			end
		end
		if split == nil then
			-- skynet then validates memory past the string and fails with this message
			error("Invalid utf8 string", 0)
		end
		local pattern, options = ssub(s, 1, split - 1), ssub(s, split + 1)
		check_utf8(pattern)
		check_utf8(options)
		body = pattern .. "\0" .. options .. "\0"
	elseif st == INT64 then
		if len ~= 10 then
			error("Invalid int64", 0)
		end
		body = ssub(v, 3)
	elseif st == MINKEY or st == MAXKEY or st == NULL then
		body = ""
	else
		error("Invalid subtype " .. st, 0)
	end
	n = n + 1
	b[n] = h .. body
	return n, #h + #body
end

-- Appends the element `key`: `v` after b[n]; `plain` when the key is known to be fit for
-- string.pack's "z" (array keys), nil when it still has to be checked.
function pack_one(b, n, key, plain, v, depth)
	local tv = type(v)
	if tv == "nil" then
		error("Bson array has a hole (nil), Use bson.null instead", 0)
	elseif tv ~= "number" and tv ~= "string" and tv ~= "boolean" and tv ~= "table" then
		error("Invalid value type : " .. tv, 0)
	end
	if tv == "table" then
		local mt = rawmetatable(v)
		if mt ~= META then
			return pack_table(b, n, key, plain, v, depth, mt)
		end
	end
	if plain == nil then
		plain = plain_keys[key] or plain_key(key)
	end
	local s
	if tv == "number" then
		if mtype(v) == "integer" then
			if v >= -0x80000000 and v <= 0x7fffffff then
				s = plain and spack("<Bzi4", INT32, key, v) or header(INT32, key) .. spack("<i4", v)
			else
				s = plain and spack("<Bzi8", INT64, key, v) or header(INT64, key) .. spack("<i8", v)
			end
		else
			s = plain and spack("<Bzd", REAL, key, v) or header(REAL, key) .. spack("<d", v)
		end
	elseif tv == "string" then
		local len = #v
		if len > 1 and sbyte(v, 1) == 0 then
			return pack_special(b, n, key, plain, v, len)
		end
		check_utf8(v)
		s = plain and spack("<Bzi4", STRING, key, len + 1)
			or header(STRING, key) .. spack("<i4", len + 1)
		b[n + 1] = s
		b[n + 2] = v
		n = n + 3
		b[n] = "\0"
		return n, #s + len + 1
	elseif tv == "boolean" then
		s = plain and spack("<BzB", BOOLEAN, key, v and 1 or 0)
			or header(BOOLEAN, key) .. (v and "\1" or "\0")
	else -- an encoded document, embedded as it is
		local h = plain and spack("<Bz", DOCUMENT, key) or header(DOCUMENT, key)
		s = h .. v[BYTES]
	end
	n = n + 1
	b[n] = s
	return n, #s
end

-- A buffer kept between encodes; an encode running inside another one (from a __pairs
-- or __len) gets a fresh one.
local spare = {}

local function finish(b, n)
	local s = concat(b, "", 1, n)
	if n <= 1024 then
		spare = b
	end
	return new_document(s)
end

function bson.encode(t)
	if type(t) ~= "table" or rawmetatable(t) == META then
		argerror(2, 1, "encode", "table expected, got " .. typename(t, true))
	end
	local b = spare or {}
	spare = nil
	local mt = rawmetatable(t)
	local pairs_mm = mt and rawget(mt, "__pairs")
	local n
	if pairs_mm then
		n = pack_pairs(b, 0, t, 0, pairs_mm)
	else
		n = pack_dict(b, 0, t, 0)
	end
	return finish(b, n)
end

function bson.encode_order(...)
	local count = select("#", ...)
	if count % 2 ~= 0 then
		error("Invalid ordered dict", 2)
	end
	local args = { ... }
	local b = spare or {}
	spare = nil
	local n, size, w = 1, 5, nil
	for i = 1, count, 2 do
		local key = to_string(args[i])
		if key == nil then
			error(format("Argument %d need a string", i), 0)
		end
		n, w = pack_one(b, n, key, nil, args[i + 1], 0)
		size = size + w
	end
	n = n + 1
	b[n] = "\0"
	b[1] = spack("<i4", size)
	return finish(b, n)
end

---------------------------------------------------------------------------------------
-- Decoding. A reader is a position and a limit (the last byte it may read); errors
-- report what was left and what was needed, as skynet's "Invalid bson block (%d:%d)".

local function short(left, need)
	error(format("Invalid bson block (%d:%d)", left, need), 0)
end

local function cstring_error()
	error("Invalid bson block : cstring", 0)
end

-- Array keys become integers as skynet makes them: strtol(key) + 1, kept to 32 bits.
local function array_index(key)
	local sign, digits = key:match("^[ \t\n\v\f\r]*([+-]?)(%d+)")
	if digits == nil then
		return 1
	end
	local v = tonumber(sign .. digits)
	if mtype(v) ~= "integer" then -- strtol saturates
		v = sign == "-" and math.mininteger or math.maxinteger
	end
	v = (v + 1) & 0xffffffff
	return v >= 0x80000000 and v - 0x100000000 or v
end

local AINDEX = setmetatable({}, { __index = function(t, key)
	local i = array_index(key)
	if i >= 1 and i <= 1024 and AKEY[i - 1] == key then -- only the usual keys are kept
		t[key] = i
	end
	return i
end })

local unpack_dict

-- Reads the cstring at pos (within limit); returns it and the position after its zero.
local function read_cstring(s, pos, limit)
	local z = sfind(s, "\0", pos, true)
	if z == nil or z > limit then
		cstring_error()
	end
	return ssub(s, pos, z - 1), z + 1
end

-- Reads the value of type bt at p; returns it and the next position.
local function read_value(s, p, lim, bt)
	local left = lim - p + 1
	if bt == INT32 then
		if left < 4 then short(left, 4) end
		return sunpack("<i4", s, p)
	elseif bt == STRING then
		if left < 4 then short(left, 4) end
		local sz = sunpack("<i4", s, p)
		if sz <= 0 then
			error(format("Invalid bson string , length = %d", sz), 0)
		end
		if left - 4 < sz then short(left - 4, sz) end
		return ssub(s, p + 4, p + sz + 2), p + 4 + sz -- no check of the final zero, as skynet
	elseif bt == REAL then
		if left < 8 then short(left, 8) end
		return sunpack("<d", s, p)
	elseif bt == DOCUMENT or bt == ARRAY then
		return unpack_dict(s, p, lim, bt == ARRAY)
	elseif bt == INT64 then
		if left < 8 then short(left, 8) end
		return sunpack("<i8", s, p)
	elseif bt == BOOLEAN then
		if left < 1 then short(left, 1) end
		return sbyte(s, p) ~= 0, p + 1
	elseif bt == OBJECTID then
		if left < 12 then short(left, 12) end
		return "\0\7" .. ssub(s, p, p + 11), p + 12
	elseif bt == DATE then
		if left < 8 then short(left, 8) end
		local ms = sunpack("<i8", s, p)
		local sec = ms // 1000
		if sec < 0 and sec * 1000 ~= ms then -- C divides toward zero
			sec = sec + 1
		end
		return "\0\9" .. spack("<I4", sec & 0xffffffff), p + 8
	elseif bt == NULL or bt == MINKEY or bt == MAXKEY then
		return "\0" .. schar(bt), p
	elseif bt == BINARY then
		if left < 4 then short(left, 4) end
		local sz = sunpack("<i4", s, p)
		if left < 5 then short(left - 4, 1) end
		if sz < 0 or left - 5 < sz then short(left - 5, sz) end
		return "\0\5" .. ssub(s, p + 4, p + 4 + sz), p + 5 + sz -- subtype, then the data
	elseif bt == REGEX then
		local pattern, options
		pattern, p = read_cstring(s, p, lim)
		options, p = read_cstring(s, p, lim)
		return "\0\11" .. pattern .. "\0" .. options .. "\0", p
	elseif bt == TIMESTAMP then
		if left < 4 then short(left, 4) end
		if left < 8 then short(left - 4, 4) end
		return "\0\17" .. ssub(s, p, p + 7), p + 8
	elseif bt == DBPOINTER or bt == JSCODE or bt == SYMBOL or bt == CODEWS then
		-- kept raw, length included, so that encoding it writes the same bytes back
		if left < 4 then short(left, 4) end
		local sz = sunpack("<i4", s, p)
		local skip, keep
		if bt == DBPOINTER then
			skip, keep = sz + 12, sz + 16
		elseif bt == CODEWS then
			skip, keep = sz - 4, sz
		else
			skip, keep = sz, sz + 4
		end
		if skip < 0 or left - 4 < skip then short(left - 4, skip) end
		return "\0" .. schar(bt) .. ssub(s, p, p + keep - 1), p + 4 + skip
	end
	error("Invalid bson type : " .. bt, 0)
end

-- The document whose length prefix is at pos, inside a reader that ends at limit;
-- returns the table and the position after the document.
function unpack_dict(s, pos, limit, array)
	local left = limit - pos + 1
	if left < 4 then short(left, 4) end
	local sz = sunpack("<i4", s, pos)
	pos, left = pos + 4, left - 4
	if left < sz - 5 then short(left, sz - 5) end
	local p, lim = pos, pos + sz - 6 -- the body
	pos, left = pos + sz - 5, left - (sz - 5)
	if left < 1 then short(left, 1) end
	-- a length under 5 moves skynet's reader backwards: the end byte is read from there
	if pos < 1 or sbyte(s, pos) ~= 0 then
		error("Invalid document end", 0)
	end
	if sz < 5 then short(sz - 5, 1) end
	local t = {}
	while p <= lim do
		-- safe: the outermost document ends with a zero, so "z" stops inside the string
		local bt, key, np = sunpack("<Bz", s, p)
		if np - 1 > lim then
			cstring_error()
		end
		local v
		-- the usual types inline, with the bounds check read_value would make
		if bt == INT32 and np + 3 <= lim then
			v, p = sunpack("<i4", s, np)
		elseif bt == STRING and np + 3 <= lim then
			local sz = sunpack("<i4", s, np)
			if sz > 0 and np + 3 + sz <= lim then
				p = np + 4 + sz
				v = ssub(s, np + 4, p - 2)
			else
				v, p = read_value(s, np, lim, bt)
			end
		elseif bt == REAL and np + 7 <= lim then
			v, p = sunpack("<d", s, np)
		else
			v, p = read_value(s, np, lim, bt)
		end
		if array then
			t[AINDEX[key]] = v
		else
			t[key] = v
		end
	end
	return t, pos + 1
end

local function decode_string(s)
	return (unpack_dict(s, 1, #s, false))
end

-- skynet decodes a bson userdata or a pointer to one (the mongo driver's replies) and
-- returns nothing for anything else. A pure Lua module has no pointers, so a string of
-- BSON bytes is decoded here too.
function bson.decode(doc)
	local s
	if type(doc) == "string" then
		s = doc
	elseif rawmetatable(doc) == META then
		s = doc[BYTES]
	else
		return
	end
	local ok, r = pcall(decode_string, s)
	if not ok then
		error(r, 2)
	end
	return r
end

---------------------------------------------------------------------------------------
-- makeindex and in-place replacement of fixed-size fields, as on skynet's userdata.

local FIELD_SIZE = { [INT64] = 8, [TIMESTAMP] = 8, [DATE] = 8, [REAL] = 8, [BOOLEAN] = 1,
	[OBJECTID] = 12, [INT32] = 4 }

-- How makeindex steps over the other fields: by their length prefixes, without looking
-- inside (so it checks less than decode does).
local SKIP = { [STRING] = 0, [JSCODE] = 0, [SYMBOL] = 0, [DOCUMENT] = -4, [ARRAY] = -4,
	[CODEWS] = -4, [BINARY] = 1, [DBPOINTER] = 12 }

local function skip_value(s, p, lim, bt)
	local extra = SKIP[bt]
	if extra then
		local left = lim - p + 1
		if left < 4 then short(left, 4) end
		local skip = sunpack("<i4", s, p) + extra
		if skip < 0 or left - 4 < skip then short(left - 4, skip) end
		return p + 4 + skip
	elseif bt == NULL or bt == MINKEY or bt == MAXKEY then
		return p
	elseif bt == REGEX then
		local _
		_, p = read_cstring(s, p, lim)
		_, p = read_cstring(s, p, lim)
		return p
	end
	error("Invalid bson type : " .. bt, 0)
end

local function build_index(s)
	local index = {}
	local p, lim = 5, #s - 1
	while p <= lim do
		local bt, key, np = sunpack("<Bz", s, p)
		if np - 1 > lim then
			cstring_error()
		end
		local fs = FIELD_SIZE[bt]
		if fs then
			local left = lim - np + 1
			if left < fs then short(left, fs) end
			index[key] = bt | (np - 1) << 5 -- the type and the value's offset, as skynet
			p = np + fs
		else
			p = skip_value(s, np, lim, bt)
		end
	end
	return index
end

local function check_document(doc, present, fname)
	if rawmetatable(doc) ~= META then
		argerror(3, 1, fname, "bson expected, got " .. typename(doc, present))
	end
end

local function makeindex(...)
	local doc = ...
	check_document(doc, select("#", ...) > 0) -- a method: not in package.loaded.bson
	local ok, index = pcall(build_index, doc[BYTES])
	if not ok then
		error(index, 2)
	end
	rawset(doc, INDEX, index)
	return doc
end

-- The new bytes of a field of type t from the assigned value v (the third argument of
-- __newindex). Errors are raised at level 3: the code doing the assignment.
local function replacement(t, v)
	if t == REAL then
		local x = to_number(v)
		if x == nil then
			argerror(3, 3, "newindex", "number expected, got " .. typename(v, true))
		end
		return spack("<d", x)
	elseif t == BOOLEAN then
		return v and "\1" or "\0"
	elseif t == INT32 or t == INT64 then
		if mtype(v) ~= "integer" then
			local x = to_number(v) or 0
			error(format("%s must be a %s integer ", tostring(x + 0.0),
				t == INT32 and "32bit" or "64bit"), 3)
		end
		return t == INT32 and spack("<I4", v & 0xffffffff) or spack("<i8", v)
	end
	local data = to_string(v) -- objectid, date or timestamp
	if data == nil then
		argerror(3, 3, "newindex", "string expected, got " .. typename(v, true))
	end
	local len = #data
	if len < 6 or sbyte(data, 1) ~= 0 or sbyte(data, 2) ~= t then
		error("Type mismatch, need bson type " .. t, 3)
	end
	if t == OBJECTID then
		if len ~= 14 then
			error("Invalid object id", 3)
		end
		return ssub(data, 3)
	elseif t == DATE then
		if len ~= 6 then
			error("Invalid date", 3)
		end
		return spack("<i8", sunpack("<I4", data, 3) * 1000)
	end
	if len ~= 10 then
		error("Invalid timestamp", 3)
	end
	return ssub(data, 3)
end

local function key_text(k)
	return to_string(k) or "(null)"
end

function META.__newindex(doc, k, v)
	local index = doc[INDEX]
	if index == nil then
		error("call makeindex first", 2)
	end
	local id = type(k) == "string" and index[k]
	if not id then
		error("Can't replace key : " .. key_text(k), 2)
	end
	local t, offset = id & 31, id >> 5
	local bytes = replacement(t, v)
	local s = doc[BYTES]
	rawset(doc, BYTES, ssub(s, 1, offset) .. bytes .. ssub(s, offset + #bytes + 1))
end

function META.__tostring(doc)
	return doc[BYTES]
end

function META.__len(doc)
	return #doc[BYTES]
end

META.__index = { decode = bson.decode, makeindex = makeindex }

-- skynet (master) hands C code a light userdata; here the document itself does that job.
function bson.to_lightuserdata(doc)
	if rawmetatable(doc) == META then
		return doc
	end
end

---------------------------------------------------------------------------------------
-- Values that are not Lua types: strings "\0" .. type byte .. payload.

bson.null = "\0\10"
bson.minkey = "\0\255"
bson.maxkey = "\0\127"

local function need_integer(v, present, arg, fname)
	local i, err = check_integer(v, present)
	if i == nil then
		argerror(3, arg, fname, err)
	end
	return i
end

function bson.date(...)
	local d = need_integer((...), select("#", ...) > 0, 1, "date")
	return "\0\9" .. spack("<I4", d & 0xffffffff) -- skynet keeps a C int of seconds
end

function bson.timestamp(...)
	local ts, inc = ...
	ts = need_integer(ts, select("#", ...) > 0, 1, "timestamp")
	return "\0\17" .. spack("<I4I4", to_integer(inc) & 0xffffffff, ts & 0xffffffff)
end

function bson.regex(...)
	local pattern, options = ...
	pattern = to_string(pattern)
	if pattern == nil then
		argerror(2, 1, "regex", "string expected, got " .. typename((...), select("#", ...) > 0))
	end
	return "\0\11" .. pattern .. "\0" .. (to_string(options) or "") .. "\0"
end

function bson.binary(data)
	return "\0\5\0" .. (to_string(data) or "") -- subtype 0, generic binary
end

function bson.int64(...)
	local v = need_integer((...), select("#", ...) > 0, 1, "int64")
	return "\0\18" .. spack("<i8", v)
end

-- objectid(): 4 bytes of time (big-endian seconds), 5 bytes that tell this service apart,
-- 3 bytes of a counter. skynet's 5 bytes hash the host name and pid, shared by every
-- service of its process, and its counter is shared too; here each service has its own
-- counter, so its 5 bytes hold its handle (unique in the node) and 2 random bytes (to
-- tell processes apart), and the counter starts at random.
local oid_middle, oid_counter

local function init_objectid()
	local core = package.loaded["skynet.core"]
	local handle = type(core) == "table" and mtype(core.handle) == "integer" and core.handle
		or math.random(0, 0xffffff)
	oid_middle = spack(">I3I2", handle & 0xffffff, math.random(0, 0xffff))
	oid_counter = math.random(0, 0xffffff)
end

local function hexdigit(c)
	if c >= 48 and c <= 57 then -- 0-9
		return c - 48
	elseif c >= 97 and c <= 122 then -- a-z, as skynet: letters past f go on counting
		return c - 87
	elseif c >= 65 and c <= 90 then
		return c - 55
	end
	return 0
end

function bson.objectid(id)
	local tid = type(id)
	if tid == "string" or tid == "number" then
		local s = to_string(id)
		if #s ~= 24 then
			error("Invalid objectid " .. cstr(s), 2)
		end
		local bytes = {}
		for i = 1, 12 do
			local hi, lo = sbyte(s, i * 2 - 1, i * 2)
			bytes[i] = (hexdigit(hi) << 4 | hexdigit(lo)) & 0xff
		end
		return "\0\7" .. schar(table.unpack(bytes))
	end
	if oid_middle == nil then
		init_objectid()
	end
	local c = oid_counter
	oid_counter = (c + 1) & 0xffffff
	return "\0\7" .. spack(">I4", os.time() & 0xffffffff) .. oid_middle .. spack(">I3", c)
end

---------------------------------------------------------------------------------------
-- bson.type(v): the BSON type name of a value, and its fields.

local HEX = {}
for i = 0, 255 do
	HEX[i] = format("%02x", i)
end

local function last_zero_split(payload)
	-- the regex layout: the final byte is the closing zero, the last zero before splits
	local sz = #payload - 1
	for i = sz, 1, -1 do
		if sbyte(payload, i) == 0 then
			return ssub(payload, 1, i - 1), ssub(payload, i + 1, sz)
		end
	end
end

-- Returns the count of results, then the results (so that bson.type, which must not
-- tail-call this for the error levels to hold, returns as many as skynet).
local function subtype(st, payload, sz)
	if st == BINARY then
		if sz < 1 then
			error("Invalid binary", 3) -- skynet's C reads before the data here
		end
		return 3, "binary", ssub(payload, 2), sbyte(payload, 1)
	elseif st == OBJECTID then
		if sz ~= 12 then
			error("Invalid object id", 3)
		end
		local hex = {}
		for i = 1, 12 do
			hex[i] = HEX[sbyte(payload, i)]
		end
		return 2, "objectid", concat(hex)
	elseif st == DATE then
		if sz ~= 4 then
			error("Invalid date", 3)
		end
		return 2, "date", (sunpack("<i4", payload))
	elseif st == TIMESTAMP then
		if sz ~= 8 then
			error("Invalid timestamp", 3)
		end
		local inc, ts = sunpack("<I4I4", payload)
		return 3, "timestamp", ts, inc
	elseif st == REGEX then
		local pattern, options
		if sz >= 1 then
			pattern, options = last_zero_split(payload)
		end
		if pattern == nil then
			error("Invalid regex", 3)
		end
		return 3, "regex", pattern, options
	elseif st == INT64 then
		if sz ~= 8 then
			error("Invalid int64", 3)
		end
		return 2, "int64", (sunpack("<i8", payload))
	elseif st == MINKEY then
		return 1, "minkey"
	elseif st == MAXKEY then
		return 1, "maxkey"
	elseif st == NULL then
		return 1, "nil"
	elseif st == JSCODE or st == DBPOINTER or st == SYMBOL or st == CODEWS then
		return 2, "unsupported", payload
	end
	error("Invalid subtype " .. st, 3)
end

function bson.type(...)
	local v = ...
	local tv = type(v)
	if tv == "number" or tv == "boolean" then
		return tv, v
	elseif tv == "string" then
		if #v >= 2 and sbyte(v, 1) == 0 then
			local n, name, a, b = subtype(sbyte(v, 2), ssub(v, 3), #v - 2)
			if n == 1 then
				return name
			elseif n == 2 then
				return name, a
			end
			return name, a, b
		end
		return "string", v
	elseif tv == "table" then
		if rawmetatable(v) == META then -- skynet's documents are userdata
			error("Invalid type userdata", 2)
		end
		return "table", v
	elseif tv == "nil" then
		if select("#", ...) == 0 then
			error("Invalid type no value", 2)
		end
		return "nil"
	end
	error("Invalid type " .. tv, 2)
end

return bson
