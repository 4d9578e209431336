-- skynet.datasheet.dump: the binary document a datasheet is stored as, skynet's format.
--
-- document: u32 offset of the string area, u32 n (tables), u32 x n offsets of the tables
--   (from the end of that list; 0xffffffff: no such table), the tables, then the strings
--   (each ending with "\0", one more "\0" at the end).
-- table: u32 array length, u32 dict length, one type byte per value (padded to 4 bytes),
--   the array values, then the dict entries as (string key, value), 4 bytes each.
-- value by type: 1 int32, 2 float32, 3 boolean (00 00 00 01 is true), 4 table index,
--   5 string offset (in the string area).
-- Table 0 is the root; tables are numbered in the order a depth-first walk meets them.

local type, pairs, ipairs, error, tostring, assert, setmetatable =
	type, pairs, ipairs, error, tostring, assert, setmetatable
local math_type, math_tointeger = math.type, math.tointeger
local spack, sunpack, srep, ssub = string.pack, string.unpack, string.rep, string.sub
local table_concat = table.concat

local dump = {}

local INT_MIN, INT_MAX = -0x80000000, 0x7fffffff
local NONE = 0xffffffff

function dump.dump(root)
	local tables = {} -- index (1-based) -> encoded block
	local strings, string_offset, string_size = {}, {}, 0

	local function string_ref(s)
		local offset = string_offset[s]
		if offset == nil then
			offset = string_size
			string_size = offset + #s + 1
			string_offset[s] = offset
			strings[#strings + 1] = s
		end
		return spack("<I4", offset)
	end

	local encode_table

	local function encode(v)
		local tv = type(v)
		if tv == "table" then
			return "\4", spack("<i4", encode_table(v) - 1)
		elseif tv == "number" then
			local i = math_tointeger(v)
			if i and i >= INT_MIN and i <= INT_MAX then
				return "\1", spack("<i4", i)
			end
			return "\2", spack("<f", v)
		elseif tv == "boolean" then
			return "\3", v and "\0\0\0\1" or "\0\0\0\0"
		elseif tv == "string" then
			return "\5", string_ref(v)
		end
		error("Unsupport value " .. tostring(v))
	end

	function encode_table(t)
		local index = #tables + 1
		tables[index] = false -- taken before the children are numbered
		local types, array, dict = {}, {}, {}
		local array_n = 0
		for i, v in ipairs(t) do
			types[i], array[i] = encode(v)
			array_n = i
		end
		for k, v in pairs(t) do
			if type(k) == "string" then
				local _, key = encode(k)
				local tv, value = encode(v)
				types[#types + 1] = tv
				dict[#dict + 1] = key .. value
			else
				local ik = math_tointeger(k)
				assert(ik and ik > 0 and ik <= array_n)
			end
		end
		local typeset = table_concat(types)
		tables[index] = table_concat {
			spack("<i4i4", array_n, #dict), typeset, srep("\0", (4 - #typeset & 3) & 3),
			table_concat(array), table_concat(dict),
		}
		return index
	end

	encode_table(root)
	local offsets, offset = {}, 0
	for i, block in ipairs(tables) do
		offsets[i] = spack("<I4", offset)
		offset = offset + #block
	end
	return table_concat {
		spack("<I4I4", 8 + 4 * #tables + offset, #tables), table_concat(offsets),
		table_concat(tables), table_concat(strings, "\0"), "\0",
	}
end

----- reading

-- A document read lazily: doc:fill(t, i) puts table i's entries into t, with table
-- values from doc:table_of(i) (the caller keeps one Lua table per index).
local reader = {}
reader.__index = reader

function dump.reader(s)
	local strings, n = sunpack("<I4I4", s)
	local offsets = { sunpack("<" .. srep("I4", n), s, 9) }
	offsets[n + 1] = nil
	return setmetatable({ s = s, n = n, offsets = offsets, strings = strings + 1,
		blocks = 8 + 4 * n + 1 }, reader)
end

function reader:has(index)
	local offset = self.offsets[index + 1]
	return offset ~= nil and offset ~= NONE
end

-- Calls set(key, value) for each entry of table `index`; table values as table_of(j).
function reader:each(index, set, table_of)
	local s = self.s
	local at = self.offsets[index + 1] + self.blocks
	local array, dict = sunpack("<I4I4", s, at)
	local types = { sunpack(srep("B", array + dict), s, at + 8) }
	local pos = ((array + dict + 8 + 3) & ~3) + at
	local function value(t)
		local p = pos
		pos = pos + 4
		if t == 1 then
			return (sunpack("<i4", s, p))
		elseif t == 2 then
			return (sunpack("<f", s, p))
		elseif t == 3 then
			return sunpack("<i4", s, p) ~= 0
		elseif t == 4 then
			return table_of((sunpack("<I4", s, p)))
		elseif t == 5 then
			return (sunpack("z", s, self.strings + sunpack("<I4", s, p)))
		end
		error(string.format("Invalid data at %d (%d)", p, t))
	end
	for i = 1, array do
		set(i, value(types[i]))
	end
	for i = 1, dict do
		local key = sunpack("z", s, self.strings + sunpack("<I4", s, pos))
		pos = pos + 4
		set(key, value(types[array + i]))
	end
end

-- The whole document as Lua tables, and table -> its index.
function dump.undump(s)
	local doc = dump.reader(s)
	local made, index_of = {}, {}
	local function table_of(i)
		local t = made[i]
		if t == nil then
			t = {}
			made[i] = t
			index_of[t] = i
			doc:each(i, function(k, v) t[k] = v end, table_of)
		end
		return t
	end
	return table_of(0), index_of
end

----- a new version that keeps the old one's table numbers

-- `current` renumbered so that a table at a key path `last` also had keeps its number
-- there (a reader's table for it stays the same table); new tables come after last's.
function dump.diff(last, current)
	local last_root, last_index = dump.undump(last)
	local cur_root, cur_index = dump.undump(current)
	local map = {} -- current index -> new index
	local function pair(old, new)
		map[cur_index[new]] = last_index[old]
		for k, v in pairs(old) do
			local nv = type(v) == "table" and new[k]
			if type(nv) == "table" and map[cur_index[nv]] == nil then
				pair(v, nv)
			end
		end
	end
	pair(last_root, cur_root)
	local _, last_n = sunpack("<I4I4", last)
	local strings, n = sunpack("<I4I4", current)
	local newn = last_n
	for i = 0, n - 1 do
		if map[i] == nil then
			map[i] = newn
			newn = newn + 1
		end
	end
	local doc = dump.reader(current)
	local blocks, index, offset = {}, {}, 0
	for i = 0, newn - 1 do
		index[i + 1] = NONE
	end
	for i = 0, n - 1 do
		-- the block, with its table values renumbered
		local at = doc.offsets[i + 1] + doc.blocks
		local array, dict = sunpack("<I4I4", current, at)
		local types = { sunpack(srep("B", array + dict), current, at + 8) }
		local head = (array + dict + 8 + 3) & ~3
		local values = { sunpack("<" .. srep("I4", array + dict * 2), current, at + head) }
		values[#values] = nil
		for j = 1, array do
			if types[j] == 4 then
				values[j] = map[values[j]]
			end
		end
		for j = 1, dict do
			if types[array + j] == 4 then
				values[array + j * 2] = map[values[array + j * 2]]
			end
		end
		local block = ssub(current, at, at + head - 1) ..
			spack("<" .. srep("I4", array + dict * 2), table.unpack(values, 1, array + dict * 2))
		blocks[#blocks + 1] = block
		index[map[i] + 1] = offset
		offset = offset + #block
	end
	local packed_index = {}
	for i = 1, newn do
		packed_index[i] = spack("<I4", index[i])
	end
	return table_concat {
		spack("<I4I4", 8 + 4 * newn + offset, newn), table_concat(packed_index),
		table_concat(blocks), ssub(current, strings + 1),
	}
end

return dump
