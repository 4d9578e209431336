-- sprotoparser: sproto schema text -> the binary schema sproto.new takes.
--
-- skynet's parser is built on lpeg, which skykernel does not have (no Lua 5.5 build
-- exists, and a C module would have to be built against lupa). This one is a small
-- recursive-descent parser over the same grammar, written so that the bytes it emits
-- are the ones skynet's sprotoparser emits for the same text, and a bad schema fails
-- with the same message. The grammar is a PEG, so its repetitions are greedy and never
-- give back what they matched; the functions below keep that behaviour, because it
-- decides which odd layouts are syntax errors.
--
-- Binary layout (every struct is a sproto message itself):
--   group    { type 0 : *type   protocol 1 : *protocol }
--   type     { name 0 : string  fields 1 : *field }
--   field    { name 0 : string  buildin 1 : integer  type 2 : integer  tag 3 : integer
--              array 4 : boolean  key 5 : integer  map 6 : boolean }
--   protocol { name 0 : string  tag 1 : integer  request 2 : integer
--              response 3 : integer  confirm 4 : boolean }

local string_byte, string_find, string_sub, string_format, pack =
	string.byte, string.find, string.sub, string.format, string.pack
local concat, sort = table.concat, table.sort
local error, assert, pairs, ipairs, next, tonumber, type, print =
	error, assert, pairs, ipairs, next, tonumber, type, print

-- The parser state of one parse call: the text and the furthest point where blanks
-- were skipped (skynet counts lines as its blank pattern crosses them, so the line in a
-- syntax error is the line of the furthest point the grammar reached).
local text, far

local BYTE_NL, BYTE_CR, BYTE_HASH = 10, 13, 35
local BYTE_SPACE, BYTE_TAB = 32, 9

-- blank = " " | "\t" | newline | "#" comment up to and including the newline (or end).
-- newline is "\n" or "\r\n"; a lone "\r" is not blank.
local function skip_blank(pos)
	while true do
		local c = string_byte(text, pos)
		if c == BYTE_SPACE or c == BYTE_TAB or c == BYTE_NL then
			pos = pos + 1
		elseif c == BYTE_CR and string_byte(text, pos + 1) == BYTE_NL then
			pos = pos + 2
		elseif c == BYTE_HASH then
			local nl = string_find(text, "\n", pos + 1, true)
			pos = nl and nl + 1 or #text + 1
		else
			break
		end
	end
	if pos > far then
		far = pos
	end
	return pos
end

-- blanks: at least one blank; nil when there is none.
local function skip_blanks(pos)
	local after = skip_blank(pos)
	if after == pos then
		return nil
	end
	return after
end

-- word = [A-Za-z_][A-Za-z0-9_]*
local function word(pos)
	local s, e = string_find(text, "^[%a_][%w_]*", pos)
	if s then
		return string_sub(text, s, e), e + 1
	end
end

-- typename = word ("." word)*
local function typename(pos)
	local name, after = word(pos)
	if not name then
		return nil
	end
	while string_byte(text, after) == 46 do -- "."
		local more, next_after = word(after + 1)
		if not more then
			break
		end
		name = name .. "." .. more
		after = next_after
	end
	return name, after
end

local function digits(pos)
	local s, e = string_find(text, "^%d+", pos)
	if s then
		return string_sub(text, s, e), e + 1
	end
end

local function literal(pos, lit)
	if string_sub(text, pos, pos + #lit - 1) == lit then
		return pos + #lit
	end
end

-- multipat(p) = blank* (p blank+)* p* blank*  -- returns the list of p's results
local function multipat(pos, pat)
	local items = {}
	pos = skip_blank(pos)
	while true do
		local item, after = pat(pos)
		if not item then
			break
		end
		local after_blanks = skip_blanks(after)
		if not after_blanks then
			break -- this item is matched again by the p* part below
		end
		items[#items + 1] = item
		pos = after_blanks
	end
	while true do
		local item, after = pat(pos)
		if not item then
			break
		end
		items[#items + 1] = item
		pos = after
	end
	return items, skip_blank(pos)
end

-- The captures of a field's parenthesised suffixes, as lpeg lists them: "(name)" or
-- "()" gives the name (maybe ""), "(digits)" gives the digits and their number.
local function paren_suffixes(pos, captures)
	while string_byte(text, pos) == 40 do -- "("
		local inner = skip_blank(pos + 1)
		local name, after = word(inner)
		name = name or ""
		after = after or inner
		local close = skip_blank(after)
		if string_byte(text, close) == 41 then -- ")"
			captures[#captures + 1] = name
			pos = close + 1
		else
			local num, num_after = digits(inner)
			if not num then
				return pos
			end
			close = skip_blank(num_after)
			if string_byte(text, close) ~= 41 then
				return pos
			end
			captures[#captures + 1] = num
			captures[#captures + 1] = tonumber(num)
			pos = close + 1
		end
	end
	return pos
end

local struct_body

-- FIELD = name blank+ tag blank* ":" blank* "*"? typename suffix*
local function field(pos)
	local name, p = word(pos)
	if not name then
		return nil
	end
	p = skip_blanks(p)
	if not p then
		return nil
	end
	local tag
	tag, p = digits(p)
	if not tag then
		return nil
	end
	p = literal(skip_blank(p), ":")
	if not p then
		return nil
	end
	p = skip_blank(p)
	local array = string_byte(text, p) == 42 -- "*"
	if array then
		p = p + 1
	end
	local tname
	tname, p = typename(p)
	if not tname then
		return nil
	end
	local captures = {}
	p = paren_suffixes(p, captures)
	-- skynet reads the suffix as the 5th capture of the field: with "*" that is the
	-- first suffix capture, without it the second one (so "string(x)" is ignored and
	-- "integer(2)" is read through the number capture).
	local mainkey
	if array then
		mainkey = captures[1]
	else
		mainkey = captures[2]
	end
	return { kind = "field", name = name, tag = tonumber(tag), array = array,
		typename = tname, mainkey = mainkey }, p
end

-- TYPE = "." name blank* STRUCT
local function type_def(pos)
	if string_byte(text, pos) ~= 46 then
		return nil
	end
	local name, p = word(pos + 1)
	if not name then
		return nil
	end
	local body
	body, p = struct_body(skip_blank(p))
	if not body then
		return nil
	end
	return { kind = "type", name = name, body = body }, p
end

local function field_or_type(pos)
	local item, after = field(pos)
	if item then
		return item, after
	end
	return type_def(pos)
end

-- STRUCT = "{" multipat(FIELD | TYPE) "}"
function struct_body(pos)
	if string_byte(text, pos) ~= 123 then
		return nil
	end
	local items, p = multipat(pos + 1, field_or_type)
	if string_byte(text, p) ~= 125 then
		return nil
	end
	return items, p + 1
end

-- SUBPROTO = ("request" | "response") blank+ (typename | STRUCT)
local function subproto(pos)
	local which
	local p = literal(pos, "request")
	if p then
		which = "request"
	else
		p = literal(pos, "response")
		if not p then
			return nil
		end
		which = "response"
	end
	p = skip_blanks(p)
	if not p then
		return nil
	end
	local tname, after = typename(p)
	if tname then
		return { which, tname }, after
	end
	local body
	body, after = struct_body(p)
	if not body then
		return nil
	end
	return { which, body }, after
end

-- PROTOCOL = name blank+ tag blank* "{" multipat(SUBPROTO) "}"
local function protocol_def(pos)
	local name, p = word(pos)
	if not name then
		return nil
	end
	p = skip_blanks(p)
	if not p then
		return nil
	end
	local tag
	tag, p = digits(p)
	if not tag then
		return nil
	end
	p = skip_blank(p)
	if string_byte(text, p) ~= 123 then
		return nil
	end
	local subs
	subs, p = multipat(p + 1, subproto)
	if string_byte(text, p) ~= 125 then
		return nil
	end
	return { kind = "protocol", name = name, tag = tonumber(tag), subs = subs }, p + 1
end

local function type_or_protocol(pos)
	local item, after = type_def(pos)
	if item then
		return item, after
	end
	return protocol_def(pos)
end

local function line_of(pos)
	local line = 1
	for _ in string_sub(text, 1, pos - 1):gmatch("\n") do
		line = line + 1
	end
	return line
end

local function syntax(source, filename)
	text, far = source, 1
	local items, p = multipat(1, type_or_protocol)
	if p <= #text then
		local line = line_of(far)
		text = nil
		error(string_format("syntax error at [%s] line (%d)", filename or "", line))
	end
	text = nil
	return items
end

-- From the syntax tree to named types and protocols, checking redefinitions in the
-- order skynet checks them.

local convert_type

local function convert_protocol(all, obj)
	local result = { tag = obj.tag }
	for _, sub in ipairs(obj.subs) do
		local which, tname = sub[1], sub[2]
		if result[which] ~= nil then
			error(string_format("redefine %s in protocol %s", which, obj.name))
		end
		if type(tname) == "table" then
			local struct = tname
			tname = obj.name .. "." .. which
			all.type[tname] = convert_type(all, tname, struct)
		end
		if tname == "nil" then
			if which == "response" then
				result.confirm = true
			end
		else
			result[which] = tname
		end
	end
	return result
end

function convert_type(all, typename, items)
	local result = {}
	local tags, names = {}, {}
	for _, item in ipairs(items) do
		if item.kind == "field" then
			local name = item.name
			if names[name] then
				error(string_format("redefine %s in type %s", name, typename))
			end
			names[name] = true
			local tag = item.tag
			if tags[tag] then
				error(string_format("redefine tag %d in type %s", tag, typename))
			end
			tags[tag] = true
			local f = { name = name, tag = tag, array = item.array or nil }
			result[#result + 1] = f
			local mainkey = item.mainkey
			if mainkey ~= nil then
				if item.typename == "integer" then
					f.decimal = mainkey
				else
					-- a key suffix on a non-array field: skynet stops on an assert here
					assert(f.array)
					f.key = mainkey
				end
			end
			f.typename = item.typename
		else
			local nested = typename .. "." .. item.name
			assert(all.type[nested] == nil, "redefined " .. nested)
			all.type[nested] = convert_type(all, nested, item.body)
		end
	end
	sort(result, function(a, b) return a.tag < b.tag end)
	return result
end

local function adjust(items)
	local all = { type = {}, protocol = {} }
	for _, item in ipairs(items) do
		local set = all[item.kind]
		assert(set[item.name] == nil, "redefined " .. item.name)
		if item.kind == "type" then
			set[item.name] = convert_type(all, item.name, item.body)
		else
			set[item.name] = convert_protocol(all, item)
		end
	end
	return all
end

local buildin_types = {
	integer = 0,
	boolean = 1,
	string = 2,
	binary = 2, -- a string the program reads as bytes; marked by extra = 1
	double = 3,
}

-- A field's type name is looked up from the innermost enclosing type outwards.
local function checktype(types, ptype, t)
	if buildin_types[t] then
		return t
	end
	while true do
		local fullname = ptype .. "." .. t
		if types[fullname] then
			return fullname
		end
		ptype = ptype:match("(.+)%..+$")
		if not ptype then
			if types[t] then
				return t
			end
			return nil
		end
	end
end

local function check_protocol(all)
	local bytag = {}
	local types = all.type
	for name, p in pairs(all.protocol) do
		if bytag[p.tag] then
			error(string_format("redefined protocol tag %d at %s", p.tag, name))
		end
		if p.request and not types[p.request] then
			error(string_format("Undefined request type %s in protocol %s", p.request, name))
		end
		if p.response and not types[p.response] then
			error(string_format("Undefined response type %s in protocol %s", p.response, name))
		end
		bytag[p.tag] = p
	end
end

local function flattypename(all)
	for typename, fields in pairs(all.type) do
		for _, f in ipairs(fields) do
			local fullname = checktype(all.type, typename, f.typename)
			if fullname == nil then
				error(string_format("Undefined type %s in type %s", f.typename, typename))
			end
			f.typename = fullname
		end
	end
end

-- Encoding. A small integer sits in the header as (v + 1) * 2; "\1\0" skips a tag.

local function packbytes(s)
	return pack("<s4", s)
end

-- A decimal or key suffix that is not a number still reaches here as text.
local function packvalue(v, what, name)
	local n = tonumber(v)
	if n == nil then
		error(string_format("Invalid %s (%s) in field %s", what, v, name))
	end
	return pack("<I2", (n + 1) * 2)
end

local function packfield(f)
	local parts = {}
	if f.array then
		if f.key then
			parts[1] = f.map and "\7\0" or "\6\0"
		else
			parts[1] = "\5\0"
		end
	else
		parts[1] = "\4\0"
	end
	parts[#parts + 1] = "\0\0" -- name, in the data part
	if f.buildin then
		parts[#parts + 1] = packvalue(f.buildin)
		if f.extra then
			parts[#parts + 1] = packvalue(f.extra, "decimal", f.name) -- decimal, or binary
		else
			parts[#parts + 1] = "\1\0" -- no type index
		end
		parts[#parts + 1] = packvalue(f.tag)
	else
		parts[#parts + 1] = "\1\0" -- no buildin
		parts[#parts + 1] = packvalue(f.type)
		parts[#parts + 1] = packvalue(f.tag)
	end
	if f.array then
		parts[#parts + 1] = packvalue(1)
		if f.key then
			parts[#parts + 1] = packvalue(f.key)
			if f.map then
				parts[#parts + 1] = packvalue(1)
			end
		end
	end
	parts[#parts + 1] = packbytes(f.name)
	return packbytes(concat(parts))
end

-- The key of a `*T(key)` array (or of a `*T()` map: T's lowest tag, T must have two
-- fields) must be a builtin-typed field of T.
local function map_key(f, subtype)
	if subtype == nil then
		error("Invalid map index :" .. f.key)
	end
	local out = { map = nil }
	if f.key == "" then
		out.map = 1
		local count, min_tag = 0, math.maxinteger
		for name, sf in pairs(subtype.fields) do
			count = count + 1
			if sf.tag < min_tag then
				min_tag = sf.tag
				f.key = name
			end
		end
		if count ~= 2 then
			error(string_format("Invalid map definition: %s, must only have two fields", f.name))
		end
	end
	local keyfield = subtype.fields[f.key]
	if not keyfield or not keyfield.buildin then
		error("Invalid map index :" .. f.key)
	end
	out.key = keyfield.tag
	return out
end

local function packtype(name, fields, alltypes)
	local packed = {}
	for _, f in ipairs(fields) do
		local tmp = {
			array = f.array,
			name = f.name,
			tag = f.tag,
			extra = f.decimal,
			buildin = buildin_types[f.typename],
		}
		if f.typename == "binary" then
			tmp.extra = 1
		end
		local subtype
		if not tmp.buildin then
			subtype = alltypes[f.typename]
			tmp.type = subtype.id
		end
		if f.key then
			local k = map_key(f, subtype)
			tmp.key, tmp.map = k.key, k.map
		end
		packed[#packed + 1] = packfield(tmp)
	end
	local data
	if #packed == 0 then
		data = { "\1\0", "\0\0", packbytes(name) }
	else
		data = { "\2\0", "\0\0", "\0\0", packbytes(name), packbytes(concat(packed)) }
	end
	return packbytes(concat(data))
end

local function packproto(name, p, alltypes)
	local parts = { "\4\0", "\0\0", packvalue(p.tag) }
	if p.request == nil and p.response == nil and p.confirm == nil then
		parts[1] = "\2\0" -- name and tag only
	else
		if p.request then
			parts[#parts + 1] = packvalue(alltypes[p.request].id)
		else
			parts[#parts + 1] = "\1\0"
		end
		if p.response then
			parts[#parts + 1] = packvalue(alltypes[p.response].id)
		elseif p.confirm then
			parts[1] = "\5\0" -- `response nil`: skip response, confirm = true
			parts[#parts + 1] = "\1\0"
			parts[#parts + 1] = packvalue(1)
		else
			parts[1] = "\3\0"
		end
	end
	parts[#parts + 1] = packbytes(name)
	return packbytes(concat(parts))
end

local function packgroup(types, protocols)
	if next(types) == nil then
		-- skynet asserts here: protocols need at least one type
		assert(next(protocols) == nil)
		return "\0\0"
	end
	-- types are numbered in name order, which makes the output stable
	local names = {}
	for name in pairs(types) do
		names[#names + 1] = name
	end
	sort(names)
	local alltypes = {}
	for idx, name in ipairs(names) do
		local fields = {}
		for _, f in ipairs(types[name]) do
			fields[f.name] = { tag = f.tag, buildin = buildin_types[f.typename] }
		end
		alltypes[name] = { id = idx - 1, fields = fields }
	end
	local packed = {}
	for _, name in ipairs(names) do
		packed[#packed + 1] = packtype(name, types[name], alltypes)
	end
	local tt = packbytes(concat(packed))
	if next(protocols) == nil then
		return concat({ "\1\0", "\0\0", tt })
	end
	local list = {}
	for name, p in pairs(protocols) do
		p.name = name
		list[#list + 1] = p
	end
	sort(list, function(a, b) return a.tag < b.tag end)
	local tp = {}
	for _, p in ipairs(list) do
		tp[#tp + 1] = packproto(p.name, p, alltypes)
	end
	return concat({ "\2\0", "\0\0", "\0\0", tt, packbytes(concat(tp)) })
end

local sparser = {}

-- Prints the bytes in hex, 16 to a line (skynet's debugging helper).
function sparser.dump(str)
	local line = {}
	for i = 1, #str do
		line[#line + 1] = string_format("%02X ", string_byte(str, i))
		if i % 8 == 0 then
			if i % 16 == 0 then
				print(concat(line))
				line = {}
			else
				line[#line + 1] = "- "
			end
		end
	end
	print(concat(line))
end

function sparser.parse(source, name)
	if type(source) ~= "string" then
		error(string_format("bad argument #1 to 'parse' (string expected, got %s)", type(source)), 2)
	end
	local all = adjust(syntax(source, name or "=text"))
	check_protocol(all)
	flattypename(all)
	return packgroup(all.type, all.protocol)
end

return sparser
