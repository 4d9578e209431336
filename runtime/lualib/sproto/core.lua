-- sproto.core: skynet's sproto C core (lualib-src/sproto) in pure Lua.
--
-- Same functions, same arguments and results, the same bytes on the wire and the same
-- error messages a program can catch (as master's core words them). What was a C
-- pointer is a Lua table here: a sproto object (newproto), a type (querytype,
-- protocol) and RESPONSE_NIL, the marker for a protocol declared `response nil`.
--
-- Wire format, in short (every number little-endian):
--   struct  = u16 count, count u16 header entries, then the data part.
--   entry   = 0: the value is in the data part (u32 size, bytes);
--             even n: the value n/2 - 1 (small non-negative integers and booleans);
--             odd n: skip (n + 1) / 2 tags.
--   integer = 4 bytes if it fits 32 bits, else 8; double = 8 bytes;
--   arrays  = integers: a byte 4 or 8 then the values; doubles: 8 then the values;
--             booleans: a byte each; strings and structs: u32 size + bytes each.
-- pack/unpack is the 0-packing: every 8 bytes become a bitmap byte + the non-zero
-- bytes; 0xff n starts n + 1 words copied raw.

local type, error, pairs, ipairs, next, tostring, tonumber, rawget, select, print =
	type, error, pairs, ipairs, next, tostring, tonumber, rawget, select, print
local setmetatable, getmetatable_raw = setmetatable, debug.getmetatable
local debug_getinfo = debug.getinfo
local tointeger, floor = math.tointeger, math.floor
local spack, sunpack, sbyte, ssub, schar, sformat, srep =
	string.pack, string.unpack, string.byte, string.sub, string.char, string.format, string.rep
local concat = table.concat

local T_INTEGER, T_BOOLEAN, T_STRING, T_DOUBLE, T_STRUCT = 0, 1, 2, 3, 4
-- What the decoder dispatches on: the type, or K_ARRAY for any array.
local K_INTEGER, K_BOOLEAN, K_STRING, K_DOUBLE, K_STRUCT, K_ARRAY = 0, 1, 2, 3, 4, 5

-- Constructors of tables with room for 1, 2, 4, 8 or 16 fields: a decoded struct is
-- made with room for its type's fields, which spares the rehash at each new field
-- (a plain {} given three fields costs twice as much).
local NEW_SIZED = {
	function() return {} end,
	function() return { a = nil } end,
	function() return { a = nil, b = nil } end,
	function() return { a = nil, b = nil, c = nil, d = nil } end,
	function() return { a = nil, b = nil, c = nil, d = nil, e = nil, f = nil, g = nil, h = nil } end,
	function()
		return { a = nil, b = nil, c = nil, d = nil, e = nil, f = nil, g = nil, h = nil,
			i = nil, j = nil, k = nil, l = nil, m = nil, n = nil, o = nil, p = nil }
	end,
}
local function sized_constructor(nfields)
	if nfields == 0 then
		return NEW_SIZED[1]
	elseif nfields == 1 then
		return NEW_SIZED[2]
	elseif nfields == 2 then
		return NEW_SIZED[3]
	elseif nfields <= 4 then
		return NEW_SIZED[4]
	elseif nfields <= 8 then
		return NEW_SIZED[5]
	end
	return NEW_SIZED[6]
end

local MAX_DEPTH = 64 -- ENCODE_DEEPLEVEL
-- skynet's encode/pack/unpack buffer starts at 2050 bytes and doubles; it refuses to
-- grow past 16 MB, so output beyond 2050 * 2^12 bytes fails.
local MAX_SIZE = 0x1000000
local MAX_OUTPUT = 2050 * 4096

local core = {}

-- Where an error is reported: like luaL_error in the C core, at the line that called
-- the core function (usually in sproto.lua). Found by walking up to the entry frame,
-- only when an error is raised, so the normal path pays nothing for it.
local entries = {}

local function where()
	local level = 2
	while true do
		local info = debug_getinfo(level, "f")
		if info == nil then
			return ""
		end
		if entries[info.func] then
			local caller = debug_getinfo(level + 1, "Sl")
			if caller and caller.currentline > 0 then
				return caller.short_src .. ":" .. caller.currentline .. ": "
			end
			return ""
		end
		level = level + 1
	end
end

local function raise(msg)
	error(where() .. msg, 0)
end

-- What lua_getfield says when the value cannot be indexed (raised inside C, so no
-- position). Strings can be indexed (their fields are the string library's).
local function check_indexable(v)
	local tv = type(v)
	if tv ~= "table" and tv ~= "string" and tv ~= "userdata" then
		error("attempt to index a " .. tv .. " value", 0)
	end
end

-- lua_tonumber: a number, or a string that converts, else 0.
local function tonumber_c(v)
	local tv = type(v)
	if tv == "number" then
		return v
	elseif tv == "string" then
		return tonumber(v) or 0
	end
	return 0
end

-- C's round (halves away from zero), then the int64 cast (out of range: INT64_MIN,
-- what x86 gives).
local function round_c(x)
	local r
	if x >= 0 then
		r = floor(x)
		if x - r >= 0.5 then
			r = r + 1
		end
	else
		r = floor(-x)
		if -x - r >= 0.5 then
			r = r + 1
		end
		r = -r
	end
	return tointeger(r) or math.mininteger
end

--------------------------------------------------------------------------------------
-- Reading a binary schema (sproto_create). A malformed schema gives nil, as in C.

-- A struct inside the schema: its header entries and where each data item lies.
-- Returns a list of { tag, value } (value: number, or { pos, size } for data), or nil.
local function read_struct(s, pos, size)
	if size < 4 then -- the C reader insists on 4 bytes even for an empty header
		return nil
	end
	local fn = sunpack("<I2", s, pos)
	local header = 2 + fn * 2
	if size < header then
		return nil
	end
	local data, left = pos + header, size - header
	local out, tag = {}, -1
	for i = 0, fn - 1 do
		local v = sunpack("<I2", s, pos + 2 + i * 2)
		tag = tag + 1
		if v % 2 == 1 then
			tag = tag + (v - 1) // 2
		elseif v ~= 0 then
			out[#out + 1] = { tag, v // 2 - 1 }
		else
			if left < 4 then
				return nil
			end
			local dsz = sunpack("<I4", s, data)
			if left < 4 + dsz then
				return nil
			end
			out[#out + 1] = { tag, { data + 4, dsz } }
			data, left = data + 4 + dsz, left - 4 - dsz
		end
	end
	return out
end

-- The items of an array of structs in the schema: a list of { pos, size }, or nil.
local function read_array(s, pos, size)
	local items, last = {}, pos + size
	while pos < last do
		if last - pos < 4 then
			return nil
		end
		local isz = sunpack("<I4", s, pos)
		if isz + 4 > last - pos then
			return nil
		end
		items[#items + 1] = { pos + 4, isz }
		pos = pos + 4 + isz
	end
	return items
end

local function read_field(s, item, types)
	local entries_ = read_struct(s, item[1], item[2])
	if not entries_ then
		return nil
	end
	local f = { tag = -1, key = -1 }
	local ftype, array, extra, index = nil, false, nil, nil
	for _, e in ipairs(entries_) do
		local tag, v = e[1], e[2]
		if tag == 0 then
			if type(v) ~= "table" then
				return nil
			end
			f.name = ssub(s, v[1], v[1] + v[2] - 1)
		elseif type(v) == "table" then
			return nil
		elseif tag == 1 then
			if v >= T_STRUCT then
				return nil
			end
			ftype = v
		elseif tag == 2 then
			if ftype == nil then
				index = v
			else
				extra = v
			end
		elseif tag == 3 then
			f.tag = v
		elseif tag == 4 then
			array = v ~= 0
		elseif tag == 5 then
			f.key = v
		elseif tag == 6 then
			f.map = v ~= 0
		else
			return nil
		end
	end
	if ftype == nil then
		if index == nil or index >= #types then
			return nil
		end
		ftype = T_STRUCT
		f.st = types[index + 1]
	end
	if f.tag < 0 or f.name == nil then
		return nil
	end
	f.type = ftype
	f.array = array
	f.kind = array and K_ARRAY or ftype
	if ftype == T_INTEGER and extra then
		f.decimal = 10 ^ extra -- a float, as the result of decoding one is
	end
	return f
end

local function read_type(s, item, types, st)
	local entries_ = read_struct(s, item[1], item[2])
	if not entries_ or #entries_ < 1 or #entries_ > 2 then
		return nil
	end
	local name = entries_[1]
	if name[1] ~= 0 or type(name[2]) ~= "table" then
		return nil
	end
	st.name = ssub(s, name[2][1], name[2][1] + name[2][2] - 1)
	local fields, bytag = {}, {}
	st.fields, st.bytag, st.n, st.maxn = fields, bytag, 0, 0
	st.new = NEW_SIZED[1]
	if #entries_ == 1 then
		return st
	end
	local list = entries_[2]
	if list[1] ~= 1 or type(list[2]) ~= "table" then
		return nil
	end
	local items = read_array(s, list[2][1], list[2][2])
	if not items then
		return nil
	end
	local last, maxn = -1, #items
	for i, it in ipairs(items) do
		local f = read_field(s, it, types)
		if not f or f.tag <= last then
			return nil
		end
		if f.tag > last + 1 then
			maxn = maxn + 1
		end
		last = f.tag
		f.owner = st.name
		fields[i] = f
		bytag[f.tag] = f
	end
	st.n, st.maxn = #items, maxn
	st.new = sized_constructor(#items)
	return st
end

-- A map (`*T()`) stores T's two fields: the key is T's field with tag f.key.
local function link_maps(types)
	for _, st in ipairs(types) do
		for _, f in ipairs(st.fields) do
			if f.map and f.st then
				local kf = f.st.bytag[f.key]
				for _, sf in ipairs(f.st.fields) do
					if sf ~= kf then
						f.vname = sf.name
					end
				end
				if kf == nil or f.vname == nil or f.st.n ~= 2 then
					return false
				end
				f.kname = kf.name
			end
		end
	end
	return true
end

local RESPONSE_NIL = setmetatable({}, { __name = "sproto response nil", __tostring = function()
	return "sproto type: response nil"
end })

local function read_protocol(s, item, types)
	local entries_ = read_struct(s, item[1], item[2])
	if not entries_ then
		return nil
	end
	local p = { tag = -1 }
	for _, e in ipairs(entries_) do
		local tag, v = e[1], e[2]
		if tag == 0 then
			if type(v) ~= "table" then
				return nil
			end
			p.name = ssub(s, v[1], v[1] + v[2] - 1)
		elseif type(v) == "table" then
			return nil
		elseif tag == 1 then
			p.tag = v
		elseif tag == 2 or tag == 3 then
			if v >= #types then
				return nil
			end
			p[tag == 2 and "request" or "response"] = types[v + 1]
		elseif tag == 4 then
			p.confirm = v ~= 0
		else
			return nil
		end
	end
	if p.name == nil or p.tag < 0 then
		return nil
	end
	if p.response == nil and p.confirm then
		p.response = RESPONSE_NIL
	end
	return p
end

local function create(bin)
	local group = read_struct(bin, 1, #bin)
	if not group or #group > 2 then
		return nil
	end
	local lists = {}
	for i, e in ipairs(group) do
		if e[1] ~= i - 1 or type(e[2]) ~= "table" then
			return nil
		end
		lists[i] = read_array(bin, e[2][1], e[2][2])
		if not lists[i] then
			return nil
		end
	end
	local sp = { bin = bin, types = {}, typebyname = {}, protos = {}, protobyname = {},
		protobytag = {} }
	local types = sp.types
	for i = 1, #(lists[1] or {}) do
		types[i] = {} -- filled below; fields refer to types by index
	end
	for i, item in ipairs(lists[1] or {}) do
		if not read_type(bin, item, types, types[i]) then
			return nil
		end
		sp.typebyname[types[i].name] = sp.typebyname[types[i].name] or types[i]
	end
	if not link_maps(types) then
		return nil
	end
	for i, item in ipairs(lists[2] or {}) do
		local p = read_protocol(bin, item, types)
		if not p then
			return nil
		end
		sp.protos[i] = p
		sp.protobyname[p.name] = sp.protobyname[p.name] or p
		sp.protobytag[p.tag] = sp.protobytag[p.tag] or p
	end
	return sp
end

--------------------------------------------------------------------------------------
-- Encoding. Pieces go into one buffer and are joined once; a struct reserves slots for
-- its header (filled when its fields are done) and a nested value one slot for its
-- size, so nothing is concatenated twice. `len` counts the bytes in the buffer.

local buf, n, len = {}, 0, 0

-- Two-byte header entries as strings, cached for the small values that recur.
local U16 = {}
local function u16(v)
	local s = U16[v]
	if s == nil then
		s = spack("<I2", v)
		if v < 1024 then
			U16[v] = s
		end
	end
	return s
end

-- Four-byte sizes, cached for the small ones: a table hit is cheaper than string.pack.
local U32 = {}
local function u32(v)
	local s = U32[v]
	if s == nil then
		s = spack("<I4", v)
		if v < 256 then
			U32[v] = s
		end
	end
	return s
end

local encode_struct

local function type_error(st, f, index, what, v)
	raise(sformat("%s.%s[%d] is not %s (Is a %s)", st.name, f.name, index, what, type(v)))
end

local function to_integer(st, f, v, index)
	local d = f.decimal
	if d then
		return round_c(tonumber_c(v) * d)
	end
	local iv = tointeger(v)
	if iv == nil then
		type_error(st, f, index, "an integer", v)
	end
	return iv
end

-- The values wait in the buffer as numbers until the array's width is known.
local function encode_integer_array(st, f, v)
	local first = n + 1
	n = first
	local k, wide = 0, false
	while true do
		local e = v[k + 1]
		if e == nil then
			break
		end
		k = k + 1
		local iv = to_integer(st, f, e, k)
		if iv > 0x7fffffff or iv < -0x80000000 then
			wide = true
		end
		n = n + 1
		buf[n] = iv
	end
	if k == 0 then
		n = first - 1
		return
	end
	local fmt = wide and "<i8" or "<i4"
	buf[first] = wide and "\8" or "\4"
	for i = first + 1, n do
		buf[i] = spack(fmt, buf[i])
	end
	len = len + 1 + k * (wide and 8 or 4)
end

-- A struct inside an array or map: its size, then the struct.
local function encode_element(sub, e, deep)
	n = n + 1
	local slot = n
	local before = len
	encode_struct(sub, e, deep)
	buf[slot] = u32(len - before)
	len = len + 4
end

local map_entry = nil

-- Encodes the array v of field f. `top` is the type C's error message would name (see
-- encode_struct). Returns what C leaves on its stack top for the next array's message.
local function encode_array(st, f, v, deep, top)
	local mt = getmetatable_raw(v)
	local mt_pairs = mt and rawget(mt, "__pairs")
	local iter, state, key0
	if mt_pairs then
		iter, state, key0 = mt_pairs(v) -- C calls it for every array that has one
	elseif type(v) ~= "table" then
		raise(sformat("%s.%s(%d) should be a table or an userdata with metamethods (Is a %s)",
			st.name, f.name, 1, top))
	end
	local ty = f.type
	if ty == T_INTEGER then
		encode_integer_array(st, f, v)
	elseif ty == T_STRUCT then
		local sub = f.st
		if f.key >= 0 then
			-- a map keyed by a field: the table's own keys are not encoded, only values
			local key = key0
			if not mt_pairs then
				iter, state = next, v
			end
			local kname, vname = f.kname, f.vname
			while true do
				local value
				key, value = iter(state, key)
				if key == nil then
					break
				end
				if kname then
					-- one entry table reused for the whole map (a map nested inside makes
					-- its own while this one is out)
					local entry = map_entry
					if entry then
						map_entry = nil
					else
						entry = {}
					end
					entry[vname] = value
					entry[kname] = key
					encode_element(sub, entry, deep + 1)
					map_entry = entry
				else
					encode_element(sub, value, deep + 1)
				end
			end
		else
			local i = 1
			local b = buf
			while true do
				local e = v[i]
				if e == nil then
					break
				end
				n = n + 1
				local slot = n
				local before = len
				encode_struct(sub, e, deep + 1)
				b[slot] = u32(len - before)
				len = len + 4
				i = i + 1
			end
		end
	elseif ty == T_STRING then
		local i = 1
		while true do
			local e = v[i]
			if e == nil then
				break
			end
			if type(e) ~= "string" then
				type_error(st, f, i, "a string", e)
			end
			n = n + 1
			buf[n] = spack("<s4", e)
			len = len + 4 + #e
			i = i + 1
		end
	elseif ty == T_BOOLEAN then
		local i = 1
		while true do
			local e = v[i]
			if e == nil then
				break
			end
			n = n + 1
			if e == true then
				buf[n] = "\1"
			elseif e == false then
				buf[n] = "\0"
			else
				type_error(st, f, i, "a boolean", e)
			end
			i = i + 1
		end
		len = len + i - 1
	else -- T_DOUBLE
		local i = 1
		while true do
			local e = v[i]
			if e == nil then
				break
			end
			if i == 1 then
				n = n + 1
				buf[n] = "\8"
				len = len + 1
			end
			n = n + 1
			buf[n] = spack("<d", tonumber_c(e))
			len = len + 8
			i = i + 1
		end
	end
	-- C's iteration key slot: reset to nil after a keyed map, else __pairs' third value
	if mt_pairs and f.key < 0 then
		return type(key0)
	end
	return "nil"
end

function encode_struct(st, t, deep)
	local nf = st.n
	local b = buf -- stays the same table for the whole encode
	if nf == 0 then
		n = n + 1
		b[n] = "\0\0"
		len = len + 2
		return
	end
	if deep >= MAX_DEPTH then
		raise("The table is too deep")
	end
	check_indexable(t)
	local fields = st.fields
	-- header slots: the count, then up to maxn entries; unused ones stay empty
	local hbase = n + 1
	local hlast = hbase + st.maxn
	for i = hbase, hlast do
		b[i] = ""
	end
	n = hlast
	local hn, lasttag = 0, -1
	-- For the "should be a table" message, C names the type of whatever is on top of its
	-- stack: the value, unless an earlier array of this struct left its iteration key
	-- there, or the struct's map entry table was just pushed. Tracked to say the same.
	local arr_top, map_made = false, false
	for i = 1, nf do
		local f = fields[i]
		local v = t[f.name]
		if v ~= nil then
			local entry = 0
			local kind = f.kind
			if kind == K_INTEGER then
				local iv
				local d = f.decimal
				if d then
					iv = round_c(tonumber_c(v) * d)
				else
					iv = tointeger(v)
					if iv == nil then
						type_error(st, f, 0, "an integer", v)
					end
				end
				if iv >= 0 and iv < 0x7fff then
					entry = (iv + 1) * 2
				elseif iv <= 0x7fffffff and iv >= -0x80000000 then
					n = n + 1
					b[n] = spack("<I4i4", 4, iv)
					len = len + 8
				else
					n = n + 1
					b[n] = spack("<I4i8", 8, iv)
					len = len + 12
				end
			elseif kind == K_STRING then
				if type(v) ~= "string" then
					type_error(st, f, 0, "a string", v)
				end
				n = n + 1
				b[n] = spack("<s4", v)
				len = len + 4 + #v
			elseif kind == K_STRUCT then
				n = n + 1
				local slot = n
				local before = len
				encode_struct(f.st, v, deep + 1)
				b[slot] = u32(len - before)
				len = len + 4
			elseif kind == K_ARRAY then
				local top
				if f.kname and not map_made then
					map_made, top = true, "table"
				else
					top = arr_top or type(v)
				end
				n = n + 1
				local slot = n
				local before = len
				arr_top = encode_array(st, f, v, deep, top)
				b[slot] = u32(len - before)
				len = len + 4
			elseif kind == K_BOOLEAN then
				if v == true then
					entry = 4
				elseif v == false then
					entry = 2
				else
					type_error(st, f, 0, "a boolean", v)
				end
			else -- K_DOUBLE
				n = n + 1
				b[n] = spack("<I4d", 8, tonumber_c(v))
				len = len + 12
			end
			local tag = f.tag
			if tag ~= lasttag + 1 then
				hn = hn + 1
				b[hbase + hn] = u16((tag - lasttag) * 2 - 3) -- skip the tags between
			end
			hn = hn + 1
			b[hbase + hn] = U16[entry] or u16(entry)
			lasttag = tag
		elseif f.array then
			arr_top = false -- C drops its array slot on a nil array
		end
	end
	b[hbase] = U16[hn] or u16(hn)
	len = len + 2 + hn * 2
end

-- Free buffers, so a nested encode (from a metamethod, a finalizer) gets its own.
local spare = {}

local function encode(st, t)
	if st == RESPONSE_NIL or st == nil then
		if t ~= nil then
			error(where() .. "bad argument #2 to 'encode' (nil expected, got " .. type(t) .. ")", 0)
		end
		return ""
	end
	local obuf, on, olen = buf, n, len
	local b = spare[#spare]
	if b then
		spare[#spare] = nil
	else
		b = {}
	end
	buf, n, len = b, 0, 0
	encode_struct(st, t, 0)
	local out = concat(b, "", 1, n)
	if n < 4096 then
		spare[#spare + 1] = b
	end
	buf, n, len = obuf, on, olen
	if #out > MAX_OUTPUT then
		error(where() .. sformat("object is too large (>%d)", MAX_SIZE), 0)
	end
	return out
end
core.encode = encode

--------------------------------------------------------------------------------------
-- Decoding. The message is never cut up: a struct is read in place between two
-- positions. A failure returns nil up to core.decode, which raises "decode error".

local decode_struct

-- Sizes and counts are read with string.byte: cheaper than string.unpack's format.
local function u32_at(s, p)
	local a, b, c, d = sbyte(s, p, p + 3)
	return a | b << 8 | c << 16 | d << 24
end

local function decode_array(f, s, pos, size, deep, entry_box)
	local arr = {}
	local ty = f.type
	if size == 0 then
		return arr
	end
	if ty == T_INTEGER or ty == T_DOUBLE then
		if size == 1 then
			return arr -- a width byte and no values: C does not look at the width
		end
		local width = sbyte(s, pos)
		local fmt
		if width == 4 then
			fmt = "<i4"
		elseif width == 8 then
			fmt = ty == T_DOUBLE and "<d" or "<i8"
		else
			return nil
		end
		size = size - 1
		if size % width ~= 0 then
			return nil
		end
		local d = f.decimal
		local p = pos + 1
		for i = 1, size // width do
			local v = sunpack(fmt, s, p)
			if d then
				v = v / d
			elseif ty == T_DOUBLE and width == 4 then
				v = sunpack("<d", spack("<i8", v)) -- C reads the bits of a widened int32
			end
			arr[i] = v
			p = p + width
		end
	elseif ty == T_BOOLEAN then
		for i = 1, size do
			arr[i] = sbyte(s, pos + i - 1) ~= 0
		end
	elseif ty == T_STRING then
		local i, p, last = 1, pos, pos + size
		while p < last do
			if last - p < 4 then
				return nil
			end
			local isz = u32_at(s, p)
			p = p + 4
			if isz > last - p then
				return nil
			end
			arr[i] = ssub(s, p, p + isz - 1)
			p = p + isz
			i = i + 1
		end
	else
		local i, p, last = 1, pos, pos + size
		local sub = f.st
		local new = sub.new
		local key, kname, vname = f.key, f.kname, f.vname
		local keyname = key >= 0 and not kname and sub.bytag[key]
		keyname = keyname and keyname.name
		while p < last do
			if last - p < 4 then
				return nil
			end
			local isz = u32_at(s, p)
			p = p + 4
			if isz > last - p then
				return nil
			end
			local after = p + isz
			if kname then
				-- a map: C decodes every entry into one table it reuses, per struct
				local entry = entry_box[1]
				if entry == nil then
					entry = {}
					entry_box[1] = entry
				end
				if decode_struct(sub, s, p, after - 1, entry, deep + 1) ~= after then
					return nil
				end
				local k = entry[kname]
				if k == nil then
					raise("Can't find key field in [" .. f.name .. "]")
				end
				local v = entry[vname]
				if v == nil then
					raise("Can't find value field in [" .. f.name .. "]")
				end
				arr[k] = v
			else
				local t = new()
				if decode_struct(sub, s, p, after - 1, t, deep + 1) ~= after then
					return nil
				end
				if key >= 0 then
					local k = keyname and t[keyname]
					if k == nil then
						raise(sformat("Can't find main index (tag=%d) in [%s]", key, f.name))
					end
					arr[k] = t
				else
					arr[i] = t
				end
			end
			p = after
			i = i + 1
		end
	end
	return arr
end

-- Reads the struct at [pos, last] into result; returns the position after it, or nil.
function decode_struct(st, s, pos, last, result, deep)
	if last - pos < 1 then
		return nil
	end
	local lo, hi = sbyte(s, pos, pos + 1)
	local hpos = pos + 2
	local dpos = hpos + (lo | hi << 8) * 2
	if dpos - 1 > last then
		return nil
	end
	local bytag = st.bytag
	local tag = -1
	local entry_box -- the reused map entry of this struct, made when first needed
	for i = hpos, dpos - 1, 2 do
		lo, hi = sbyte(s, i, i + 1)
		local value = lo | hi << 8
		tag = tag + 1
		if value & 1 == 1 then
			tag = tag + (value >> 1)
		elseif value ~= 0 then
			-- the value sits in the header: only integers and booleans may
			local f = bytag[tag]
			if f then
				if deep >= MAX_DEPTH then
					raise("The table is too deep")
				end
				value = (value >> 1) - 1
				local kind = f.kind
				if kind == K_INTEGER then
					local d = f.decimal
					if d then
						result[f.name] = value / d
					else
						result[f.name] = value
					end
				elseif kind == K_BOOLEAN then
					result[f.name] = value ~= 0
				else
					return nil
				end
			end
		else
			if last - dpos < 3 then
				return nil
			end
			local size = u32_at(s, dpos)
			local cur = dpos + 4
			if size > last - cur + 1 then
				return nil
			end
			dpos = cur + size
			local f = bytag[tag]
			if f then
				if deep >= MAX_DEPTH then
					raise("The table is too deep")
				end
				local kind = f.kind
				if kind == K_STRING then
					result[f.name] = ssub(s, cur, dpos - 1)
				elseif kind == K_STRUCT then
					local sub = f.st
					local t = sub.new()
					if decode_struct(sub, s, cur, dpos - 1, t, deep + 1) ~= dpos then
						return nil
					end
					result[f.name] = t
				elseif kind == K_ARRAY then
					entry_box = entry_box or {}
					local arr = decode_array(f, s, cur, size, deep, entry_box)
					if arr == nil then
						return nil
					end
					result[f.name] = arr
				elseif kind == K_INTEGER or kind == K_DOUBLE then
					local v
					if size == 4 then
						v = sunpack("<i4", s, cur)
						if kind == K_DOUBLE then
							v = sunpack("<d", spack("<i8", v)) -- the bits of a widened int32
						end
					elseif size == 8 then
						v = sunpack(kind == K_DOUBLE and "<d" or "<i8", s, cur)
					else
						return nil
					end
					local d = f.decimal
					if d then
						v = v / d
					end
					result[f.name] = v
				else -- a boolean has no data part
					return nil
				end
			end
		end
	end
	return dpos
end

local function need_buffer(v, argn, fname)
	if type(v) ~= "string" then
		error(where() .. sformat("bad argument #%d to '%s' (Need a string or userdata)", argn, fname), 0)
	end
end

-- decode(st, msg [, sz] [, result]): the table (result, if the last argument is one)
-- and the number of bytes the message used.
local function decode(st, s, ...)
	if st == RESPONSE_NIL or st == nil then
		return
	end
	if type(s) ~= "string" then
		need_buffer(s, 2, "decode")
	end
	local result
	local nargs = select("#", ...)
	if nargs > 0 then
		result = select(nargs, ...)
	end
	if type(result) ~= "table" then
		result = st.new()
	end
	local after = decode_struct(st, s, 1, #s, result, 0)
	if after == nil then
		error(where() .. "decode error", 0)
	end
	return result, after - 1
end
core.decode = decode

--------------------------------------------------------------------------------------
-- 0-packing, a word (8 bytes) at a time. A word is read as one integer, and what it
-- packs to (or what a packed segment unpacks to) is looked up in a small cache first:
-- the same words recur (headers, sizes, small numbers), and a hit costs one call into
-- C instead of several. The caches are emptied when they reach CACHE_MAX entries, so a
-- service never holds more than a few tens of KB for them.

local CACHE_MAX = 256

local POPCOUNT = {}
for i = 0, 255 do
	local c, v = 0, i
	while v > 0 do
		c = c + (v & 1)
		v = v >> 1
	end
	POPCOUNT[i] = c
end

-- string.pack formats that rebuild a word from its bitmap: "B" where a byte is kept,
-- "x" (a zero) where it was dropped. Made when first needed.
local UNPACK_FMT = setmetatable({}, { __index = function(t, m)
	local parts = { "<" }
	for bit = 0, 7 do
		parts[#parts + 1] = (m >> bit) & 1 == 1 and "B" or "x"
	end
	local fmt = concat(parts)
	t[m] = fmt
	return fmt
end })

-- The low (k + 1) bytes of an integer: a bitmap byte and its k data bytes.
local SEGMENT_MASK = {}
for k = 0, 7 do
	SEGMENT_MASK[k] = k == 7 and -1 or (1 << ((k + 1) * 8)) - 1
end

local ZERO_PAD = srep("\0", 8)
local pack_cache, pack_cached = {}, 0
local unpack_cache, unpack_cached = {}, 0
-- The output pieces' table, reused. A call takes it (a pack run by a finalizer in the
-- middle of another one then makes its own) and puts it back unless it grew big.
local pieces = {}

-- What one word packs to: its bitmap byte and its non-zero bytes.
local function pack_word(w)
	local m, k, data = 0, 0, 0
	for i = 0, 7 do
		local b = (w >> (i * 8)) & 0xff
		if b ~= 0 then
			m = m | (1 << i)
			data = data | (b << (k * 8))
			k = k + 1
		end
	end
	local packed
	if k == 0 then
		packed = "\0"
	elseif k == 8 then
		packed = spack("<Bi8", m, w)
	else
		packed = spack("<BI" .. k, m, data)
	end
	if pack_cached >= CACHE_MAX then
		pack_cache, pack_cached = {}, 0
	end
	pack_cache[w] = packed
	pack_cached = pack_cached + 1
	return packed
end

local function pack(s)
	if type(s) ~= "string" then
		need_buffer(s, 1, "pack")
	end
	local size = #s
	if size == 0 then
		return ""
	end
	if (size + 2047) // 2048 * 2 + size + 2 > MAX_OUTPUT then
		error(where() .. sformat("object is too large (>%d)", MAX_SIZE), 0)
	end
	local rem = size % 8
	if rem ~= 0 then
		s = s .. ssub(ZERO_PAD, rem + 1) -- the last word is padded with zeros
		size = size + 8 - rem
	end
	local out, o = pieces or {}, 0
	pieces = nil
	local cache = pack_cache
	local run_at, run_n, run_from = 0, 0, 0 -- piece index, words, first byte of a raw run
	for i = 1, size, 8 do
		local w = sunpack("<i8", s, i)
		local packed = cache[w] or pack_word(w)
		local nz = #packed - 1
		-- a full word starts a raw run (0xff, words - 1, the bytes as they are); inside
		-- a run, a word with 6 or 7 non-zero bytes joins it, being no shorter outside
		if nz == 8 or (run_n > 0 and nz >= 6) then
			if run_n == 0 then
				o = o + 1
				run_at, run_from = o, i
			end
			run_n = run_n + 1
			if run_n == 256 then
				out[run_at] = "\255\255" .. ssub(s, run_from, i + 7)
				run_n = 0
			end
		else
			if run_n > 0 then
				out[run_at] = "\255" .. schar(run_n - 1) .. ssub(s, run_from, i - 1)
				run_n = 0
			end
			o = o + 1
			out[o] = packed
		end
	end
	if run_n > 0 then
		out[run_at] = "\255" .. schar(run_n - 1) .. ssub(s, run_from, size)
	end
	local r = concat(out, "", 1, o)
	if o <= 4096 then
		pieces = out
	end
	return r
end
core.pack = pack

local function invalid_stream()
	error(where() .. "Invalid unpack stream", 0)
end

local function unpack(s)
	if type(s) ~= "string" then
		need_buffer(s, 1, "unpack")
	end
	local size = #s
	local out, o = pieces or {}, 0
	pieces = nil
	local cache = unpack_cache
	local last8 = size - 7 -- from here on fewer than 8 bytes are left to read at once
	local p, total = 1, 0
	while p <= size do
		local m, key
		if p <= last8 then
			local w = sunpack("<i8", s, p)
			m = w & 0xff
			if m ~= 255 then
				key = w & SEGMENT_MASK[POPCOUNT[m]]
			end
		else
			m = sbyte(s, p)
		end
		if m == 255 then
			if p + 1 > size then
				invalid_stream()
			end
			local count = (sbyte(s, p + 1) + 1) * 8
			if p + 1 + count > size then
				invalid_stream()
			end
			o = o + 1
			out[o] = ssub(s, p + 2, p + 1 + count)
			p = p + 2 + count
			total = total + count
		else
			local nz = POPCOUNT[m]
			local word = key and cache[key]
			if word == nil then
				if p + nz > size then
					invalid_stream()
				end
				word = spack(UNPACK_FMT[m], sbyte(s, p + 1, p + nz))
				if key then
					if unpack_cached >= CACHE_MAX then
						unpack_cache, unpack_cached = {}, 0
						cache = unpack_cache
					end
					cache[key] = word
					unpack_cached = unpack_cached + 1
				end
			end
			o = o + 1
			out[o] = word
			p = p + 1 + nz
			total = total + 8
		end
		if total > MAX_OUTPUT then
			error(where() .. sformat("object is too large (>%d)", MAX_SIZE), 0)
		end
	end
	local r = concat(out, "", 1, o)
	if o <= 4096 then
		pieces = out
	end
	return r
end
core.unpack = unpack

--------------------------------------------------------------------------------------
-- Schema objects and queries.

function core.newproto(bin)
	if type(bin) == "number" then
		bin = tostring(bin)
	elseif type(bin) ~= "string" then
		error(where() .. "bad argument #1 to 'newproto' (string expected, got "
			.. (bin == nil and "no value" or type(bin)) .. ")", 0)
	end
	local sp = create(bin)
	if sp then
		return sp
	end
	-- nothing at all on failure, as in C (so `assert(newproto(bin))` says "value expected")
end

-- Memory belongs to the garbage collector here; kept for programs that call it.
function core.deleteproto(sp)
	if type(sp) ~= "table" then
		error(where() .. "bad argument #1 to 'deleteproto' (Need a sproto object)", 0)
	end
end

function core.querytype(sp, name)
	if type(sp) ~= "table" or sp.typebyname == nil then
		error(where() .. "bad argument #1 to 'querytype' (Need a sproto object)", 0)
	end
	if type(name) ~= "string" and type(name) ~= "number" then
		error(where() .. "bad argument #2 to 'querytype' (string expected, got "
			.. (name == nil and "no value" or type(name)) .. ")", 0)
	end
	return sp.typebyname[tostring(name)]
end

-- protocol(sp, name or tag): tag (or name), request type, response type. A protocol
-- declared `response nil` answers RESPONSE_NIL (C: a NULL pointer) for its response.
function core.protocol(sp, which)
	if type(sp) ~= "table" or sp.protobyname == nil then
		error(where() .. "bad argument #1 to 'protocol' (Need a sproto_type object)", 0)
	end
	local p, first
	if type(which) == "number" then
		p = sp.protobytag[tointeger(which) or 0]
		if p == nil then
			return
		end
		first = p.name
	elseif type(which) == "string" then
		p = sp.protobyname[which]
		if p == nil then
			return
		end
		first = p.tag
	else
		error(where() .. "bad argument #2 to 'protocol' (Should be number or string)", 0)
	end
	return first, p.request, p.response
end

local function default_value(f, in_array)
	local ty = f.type
	if ty == T_INTEGER then
		return f.decimal and 0.0 or 0
	elseif ty == T_DOUBLE then
		return 0.0
	elseif ty == T_BOOLEAN then
		return false
	elseif ty == T_STRING then
		return ""
	elseif in_array then
		return f.st.name
	end
	return { __type = f.st.name }
end

-- A table with every field at its zero value; arrays as { __array = element default }.
function core.default(st)
	if type(st) ~= "table" or st.fields == nil then
		error(where() .. "bad argument #1 to 'default' (Need a sproto_type object)", 0)
	end
	local t = {}
	for _, f in ipairs(st.fields) do
		if f.array then
			t[f.name] = { __array = default_value(f, true) }
		else
			t[f.name] = default_value(f, false)
		end
	end
	return t
end

local TYPE_NAMES = { [0] = "integer", "boolean", "string", "double" }

-- skynet's C core printf's this to stdout; here it goes through print.
function core.dumpproto(sp)
	if type(sp) ~= "table" or sp.types == nil then
		error(where() .. "bad argument #1 to 'dumpproto' (Need a sproto_type object)", 0)
	end
	print(sformat("=== %d types ===", #sp.types))
	for _, st in ipairs(sp.types) do
		print(st.name)
		for _, f in ipairs(st.fields) do
			local tname = f.type == T_STRUCT and f.st.name or TYPE_NAMES[f.type]
			local array = f.array and "*" or ""
			if f.key >= 0 then
				print(sformat("\t%s (%d) %s%s(%d)", f.name, f.tag, array, tname, f.key))
			else
				print(sformat("\t%s (%d) %s%s", f.name, f.tag, array, tname))
			end
		end
	end
	print(sformat("=== %d protocol ===", #sp.protos))
	for _, p in ipairs(sp.protos) do
		local line = sformat("\t%s (%d) request:%s", p.name, p.tag,
			p.request and p.request.name or "(null)")
		if p.response and p.response ~= RESPONSE_NIL then
			line = line .. " response:" .. p.response.name
		end
		print(line)
	end
end

--------------------------------------------------------------------------------------
-- The process-wide slots of sprotoloader. In skynet they are a C array every service
-- shares; here every service is its own Lua state, so the node keeps the schema bytes
-- (the SPROTO bridge command) and each service builds its own object from them once.

local MAX_GLOBALSPROTO = 16
local loaded = {} -- index -> sp built in this service (rebuilt if the bytes change)

local function slot_index(index, argn, fname)
	if index == nil then
		return 0
	end
	local i = tointeger(index)
	if i == nil then
		error(where() .. sformat("bad argument #%d to '%s' (number has no integer representation)",
			argn, fname), 0)
	end
	if i < 0 or i >= MAX_GLOBALSPROTO then
		error(where() .. sformat("Invalid global slot index %d", i), 0)
	end
	return i
end

local function slot_store(...) -- the node holds the slots
	local skynet_core = require "skynet.core"
	return skynet_core.command("SPROTO", ...)
end

function core.saveproto(sp, index)
	index = slot_index(index, 2, "saveproto")
	local bin = type(sp) == "table" and sp.bin or nil
	slot_store("SAVE", index, bin)
	if bin then
		loaded[index] = sp
	end
end

function core.loadproto(index)
	index = slot_index(index, 1, "loadproto")
	local bin = slot_store("LOAD", index)
	if bin == nil then
		error(where() .. sformat("nil sproto at index %d", index), 0)
	end
	local sp = loaded[index]
	if sp == nil or sp.bin ~= bin then
		sp = create(bin)
		loaded[index] = sp
	end
	return sp
end

for _, f in pairs(core) do
	if type(f) == "function" then
		entries[f] = true
	end
end

-- Reachable for sproto.lua, but not among the functions pairs(core) lists (skynet's
-- core has only functions).
return setmetatable(core, { __index = { RESPONSE_NIL = RESPONSE_NIL } })
