-- skykernel.pretty: Lua values as readable text for a notebook.
--
-- Tables print as Lua constructors, sorted keys, nested tables indented; a table seen
-- again on the current path is a cycle and is marked, not followed; big tables and long
-- output are cut with a note saying how much was left out.

local type, tostring, pairs, next, rawget = type, tostring, pairs, next, rawget
local getmetatable, setmetatable, select = getmetatable, setmetatable, select
local string_format, string_rep = string.format, string.rep
local table_concat, table_sort = table.concat, table.sort
local math_type = math.type

local pretty = {}

local DEFAULTS = { max_items = 100, max_depth = 6, max_chars = 20000, indent = "  " }

local function is_identifier(s)
	return type(s) == "string" and s:find("^[%a_][%w_]*$") ~= nil
end

local function key_order(a, b)
	local ta, tb = type(a), type(b)
	if ta ~= tb then
		return ta < tb
	end
	if ta == "number" or ta == "string" then
		return a < b
	end
	return tostring(a) < tostring(b)
end

local function scalar(v)
	local t = type(v)
	if t == "string" then
		return string_format("%q", v):gsub("\\\n", "\\n")
	elseif t == "number" then
		if math_type(v) == "float" and v == math.floor(v) and v > -1e15 and v < 1e15 then
			return string_format("%.1f", v)
		end
		return tostring(v)
	elseif t == "function" then
		local info = debug.getinfo(v, "S")
		if info.what == "C" then
			return "function: builtin"
		end
		return string_format("function<%s:%d>", info.short_src, info.linedefined)
	end
	return tostring(v)
end

local function render(v, opts, out, depth, path)
	if type(v) ~= "table" then
		out[#out + 1] = scalar(v)
		return
	end
	if path[v] then
		out[#out + 1] = "<cycle: " .. tostring(v) .. ">"
		return
	end
	local mt = getmetatable(v)
	if type(mt) == "table" and rawget(mt, "__tostring") then
		-- an object that says how it wants to be shown
		out[#out + 1] = tostring(v)
		return
	end
	if next(v) == nil then
		out[#out + 1] = "{}"
		return
	end
	if depth >= opts.max_depth then
		out[#out + 1] = "{...}"
		return
	end
	path[v] = true
	local n = #v
	local keys = {}
	for k in pairs(v) do
		if not (math_type(k) == "integer" and k >= 1 and k <= n) then
			keys[#keys + 1] = k
		end
	end
	table_sort(keys, key_order)
	local items, shown, total = {}, 0, n + #keys
	local pad = string_rep(opts.indent, depth + 1)
	for i = 1, n do
		if shown >= opts.max_items then
			break
		end
		local sub = {}
		render(rawget(v, i), opts, sub, depth + 1, path)
		items[#items + 1] = table_concat(sub)
		shown = shown + 1
	end
	for i = 1, #keys do
		if shown >= opts.max_items then
			break
		end
		local k = keys[i]
		local sub = {}
		render(rawget(v, k), opts, sub, depth + 1, path)
		local ks = is_identifier(k) and k or "[" .. scalar(k) .. "]"
		items[#items + 1] = ks .. " = " .. table_concat(sub)
		shown = shown + 1
	end
	if shown < total then
		items[#items + 1] = string_format("... (%d more)", total - shown)
	end
	path[v] = nil
	local flat = "{ " .. table_concat(items, ", ") .. " }"
	if #flat <= 72 and not flat:find("\n") then
		out[#out + 1] = flat
	elseif n == total and not flat:find("\n") then
		-- a plain array: fill lines rather than one item per line
		local lines, line = {}, {}
		local width = 0
		for i = 1, #items do
			local item = items[i]
			if width + #item > 72 and line[1] then
				lines[#lines + 1] = table_concat(line, ", ")
				line, width = {}, 0
			end
			line[#line + 1] = item
			width = width + #item + 2
		end
		lines[#lines + 1] = table_concat(line, ", ")
		out[#out + 1] = "{\n" .. pad .. table_concat(lines, ",\n" .. pad) .. "\n"
			.. string_rep(opts.indent, depth) .. "}"
	else
		out[#out + 1] = "{\n" .. pad .. table_concat(items, ",\n" .. pad) .. "\n"
			.. string_rep(opts.indent, depth) .. "}"
	end
end

-- One value as text, cut at max_chars with a note.
function pretty.format(v, options)
	local opts = DEFAULTS
	if options then
		opts = setmetatable(options, { __index = DEFAULTS })
	end
	local out = {}
	render(v, opts, out, 0, {})
	local s = table_concat(out)
	if #s > opts.max_chars then
		s = s:sub(1, opts.max_chars) .. string_format("\n... (truncated: %d more characters)", #s - opts.max_chars)
	end
	return s
end

-- Several values (a chunk's results) as text, tab-separated like print.
function pretty.values(n, ...)
	local parts = {}
	for i = 1, n do
		parts[i] = pretty.format((select(i, ...)))
	end
	return table_concat(parts, "\t")
end

return pretty
