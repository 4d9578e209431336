-- skykernel.upvalues: one level of a lazy tree over Lua values, for the upvalue explorer.
--
-- A path of steps leads from a root value to a node; `probe` returns that node and one
-- page of its children as plain data (see skykernel.json). Steps are strings: "s<name>"
-- a string key, "i<n>" an integer key, "f<x>" a float key, "b1"/"b0" a boolean key,
-- "p<address>" any other key (found by identity), "u<i>" a function's i-th upvalue, "m" a
-- metatable. Functions expand to their upvalues, with the upvalue cell's identity
-- (debug.upvalueid) and the other functions sharing that cell; tables expand to their
-- fields (sorted: numbers, strings, then others); a value already on the path is a cycle:
-- marked, not followed. Standard Lua 5.4 and `debug` only.
--
-- Over a service's `{_U = _U, _P = _P}`, `probe` with opts.focus also says where the
-- service's own code is (`focus`): its handler tables (`_P.lua.CMD`), each handler with
-- its upvalues (the service's state), before skynet's internals; skykernel.origin draws
-- the line between the two.

local type, tostring, tonumber, next, rawget = type, tostring, tonumber, next, rawget
local ipairs = ipairs
local getupvalue, upvalueid, getinfo = debug.getupvalue, debug.upvalueid, debug.getinfo
local getmetatable = debug.getmetatable
local string_format, string_sub, table_sort = string.format, string.sub, table.sort
local math_type, math_tointeger = math.type, math.tointeger
local origin = require "skykernel.origin"

local M = {}

M.PAGE = 200
M.SHARED_BUDGET = 50000 -- entries scanned looking for functions that share a cell
M.FOCUS_OPEN = 64 -- nodes of the user's code opened at first, at most

local REFERENCE = { table = true, ["function"] = true, thread = true, userdata = true }

local function address(v)
	return string_format("%p", v)
end

local function is_identifier(s)
	return s:find("^[%a_][%w_]*$") ~= nil
end

local function source_of(f)
	local info = getinfo(f, "S")
	if info.what == "C" then
		return "[C]", nil, nil
	end
	local file = info.source:sub(1, 1) == "@" and info.source:sub(2) or info.short_src
	return file, info.linedefined, info.lastlinedefined
end

local function count_fields(t, cap)
	local n = 0
	for _ in next, t do
		n = n + 1
		if n >= cap then
			return n, true
		end
	end
	return n, false
end

local function preview(v)
	local t = type(v)
	if t == "string" then
		local s = #v > 60 and string_sub(v, 1, 60) or v
		s = string_format("%q", s):gsub("\\\n", "\\n")
		return #v > 60 and (s .. "...(" .. #v .. " bytes)") or s
	elseif t == "table" then
		local n, more = count_fields(v, 1000)
		local mt = getmetatable(v) and " +mt" or ""
		return string_format("{%d%s field%s}%s", n, more and "+" or "", n == 1 and "" or "s", mt)
	elseif t == "function" then
		local file, line = source_of(v)
		return line and string_format("function %s:%d", file, line) or "function [C]"
	elseif t == "number" or t == "boolean" or t == "nil" then
		return tostring(v)
	end
	return t .. ": " .. address(v)
end

local function key_step(k)
	local t = type(k)
	if t == "string" then
		return "s" .. k
	elseif t == "number" then
		if math_type(k) == "integer" then
			return "i" .. k
		end
		return "f" .. string_format("%.17g", k)
	elseif t == "boolean" then
		return k and "b1" or "b0"
	end
	return "p" .. address(k)
end

local function key_label(k)
	if type(k) == "string" then
		return is_identifier(k) and k or string_format("[%q]", k)
	end
	return "[" .. tostring(k) .. "]"
end

local function find_key(t, step)
	local kind, rest = string_sub(step, 1, 1), string_sub(step, 2)
	if kind == "s" then
		return rest
	elseif kind == "i" then
		return math_tointeger(tonumber(rest))
	elseif kind == "f" then
		return tonumber(rest)
	elseif kind == "b" then
		return rest == "1"
	end
	for k in next, t do
		if address(k) == rest then
			return k
		end
	end
	return nil
end

local function expandable(v)
	local t = type(v)
	if t == "table" then
		return next(v) ~= nil or getmetatable(v) ~= nil
	elseif t == "function" then
		return getupvalue(v, 1) ~= nil
	elseif t == "userdata" then
		return getmetatable(v) ~= nil
	end
	return false
end

local function child_label(label, step, name)
	local kind = string_sub(step, 1, 1)
	if kind == "u" then
		return label .. "@" .. name
	elseif kind == "m" then
		return label .. "<mt>"
	elseif kind == "s" and is_identifier(name) then
		return label == "" and name or (label .. "." .. name)
	end
	return label .. name
end

-- Follow `path` from `root`: the value there, the values on the way (for cycles), its label.
local function walk(root, path, label)
	local v, on_path = root, {}
	label = label or ""
	for i = 1, #path do
		if REFERENCE[type(v)] then
			on_path[v] = true
		end
		local step = path[i]
		local kind = string_sub(step, 1, 1)
		local name
		if kind == "u" then
			if type(v) ~= "function" then
				return nil, nil, nil, "not a function at " .. label
			end
			name, v = getupvalue(v, tonumber(string_sub(step, 2)))
			if name == nil then
				return nil, nil, nil, "no such upvalue at " .. label
			end
			name = name == "" and "?" or name
		elseif kind == "m" then
			v = getmetatable(v)
		else
			if type(v) ~= "table" then
				return nil, nil, nil, "not a table at " .. label
			end
			local k = find_key(v, step)
			if k == nil then
				return nil, nil, nil, "no such key at " .. label
			end
			name = key_label(k)
			v = rawget(v, k)
			if v == nil then
				return nil, nil, nil, "no such key at " .. child_label(label, step, name)
			end
		end
		label = child_label(label, step, name)
	end
	return v, on_path, label
end

local function row(key, step, v, on_path)
	local t = type(v)
	local r = { key = key, step = step, type = t, preview = preview(v) }
	if REFERENCE[t] then
		r.id = address(v)
		if on_path[v] then
			r.cycle = true
		else
			r.expandable = expandable(v)
		end
	end
	if t == "function" then
		local file, line = source_of(v)
		r.source = line and (file .. ":" .. line) or file
	end
	return r
end

local function sorted_keys(t)
	local nums, strs, others = {}, {}, {}
	for k in next, t do
		local kt = type(k)
		if kt == "number" then
			nums[#nums + 1] = k
		elseif kt == "string" then
			strs[#strs + 1] = k
		else
			others[#others + 1] = k
		end
	end
	table_sort(nums)
	table_sort(strs)
	local n = #nums
	for i = 1, #strs do
		nums[n + i] = strs[i]
	end
	n = #nums
	for i = 1, #others do
		nums[n + i] = others[i]
	end
	return nums
end

-- Every function reachable from `root` (breadth first, so each by its shortest label),
-- indexed by the upvalue cells it holds: {cell id -> {{fn, label}, ...}}. One walk serves
-- every node of a probe. skykernel's own modules are not walked: a view must not send the
-- user to `package.loaded["skykernel.swaps"]`. The walk stops after `budget` entries.
function M.cell_index(root, rootlabel, budget)
	local cells = {}
	budget = budget or M.SHARED_BUDGET
	local seen = origin.own_modules()
	local queue, labels, head = { root }, { rootlabel or "" }, 1
	seen[root] = true
	while queue[head] ~= nil and budget > 0 do
		local v, label = queue[head], labels[head]
		queue[head], labels[head] = false, false
		head = head + 1
		local vt = type(v)
		if vt == "table" then
			for k, x in next, v do
				budget = budget - 1
				if budget <= 0 then
					break
				end
				local xt = type(x)
				if (xt == "table" or xt == "function") and not seen[x] then
					seen[x] = true
					queue[#queue + 1] = x
					labels[#labels + 1] = child_label(label, key_step(k), key_label(k))
				end
			end
		elseif vt == "function" then
			local j = 1
			while true do
				local name, x = getupvalue(v, j)
				if name == nil then
					break
				end
				budget = budget - 1
				local id = upvalueid(v, j)
				local list = cells[id]
				if list == nil then
					list = {}
					cells[id] = list
				end
				list[#list + 1] = { v, label }
				local xt = type(x)
				if (xt == "table" or xt == "function") and not seen[x] then
					seen[x] = true
					queue[#queue + 1] = x
					labels[#labels + 1] = child_label(label, "u" .. j, name == "" and "?" or name)
				end
				j = j + 1
			end
		end
	end
	return { cells = cells, partial = budget <= 0 }
end

-- Other functions reachable from `root` that share an upvalue cell with f: {i -> {labels}},
-- and whether the search was cut short. `index` is a cell_index (made here if nil);
-- `names` (function -> label) names some functions better than their path does.
function M.shared(root, rootlabel, f, budget, index, names)
	index = index or M.cell_index(root, rootlabel, budget)
	names = names or {}
	local out = {}
	local i = 1
	while true do
		local name = getupvalue(f, i)
		if name == nil then
			break
		end
		local holders = index.cells[upvalueid(f, i)]
		if holders then
			for _, h in ipairs(holders) do
				if h[1] ~= f then
					local list = out[i] or {}
					out[i] = list
					list[#list + 1] = names[h[1]] or h[2]
				end
			end
		end
		i = i + 1
	end
	return out, index.partial
end

-- The node at `path` below `root` with one page of its children.
-- opts: offset (0-based), limit (default M.PAGE), label (the root's name).
function M.probe(root, path, opts)
	opts = opts or {}
	local offset, limit = opts.offset or 0, opts.limit or M.PAGE
	local v, on_path, label, err = walk(root, path or {}, opts.label)
	if on_path == nil then
		return { path = path, error = err }
	end
	local node = { path = path, label = label, type = type(v), preview = preview(v),
		offset = offset, children = {} }
	if REFERENCE[type(v)] then
		node.id = address(v)
		on_path[v] = true
	end
	local children = node.children
	local t = type(v)
	if t == "function" then
		local file, line, last = source_of(v)
		node.source = line and (file .. ":" .. line) or file
		node.lastline = last
		local shared, partial = M.shared(root, opts.label, v, nil, opts.index, opts.names)
		node.shared_partial = partial or nil
		local i = 1
		while true do
			local name, x = getupvalue(v, i)
			if name == nil then
				break
			end
			if i > offset and #children < limit then
				local r = row(name == "" and "?" or name, "u" .. i, x, on_path)
				r.cell = address(upvalueid(v, i))
				r.shared = shared[i]
				children[#children + 1] = r
			end
			i = i + 1
		end
		node.total = i - 1
	elseif t == "table" or t == "userdata" then
		local mt = getmetatable(v)
		local total, skip = 0, offset
		if mt ~= nil then
			total = 1
			if skip > 0 then
				skip = skip - 1
			else
				children[1] = row("<metatable>", "m", mt, on_path)
			end
		end
		if t == "table" then
			local keys = sorted_keys(v)
			total = total + #keys
			local first = skip + 1
			for j = first, #keys do
				if #children >= limit then
					break
				end
				local k = keys[j]
				children[#children + 1] = row(key_label(k), key_step(k), rawget(v, k), on_path)
			end
		end
		node.total = total
	else
		node.total = 0
	end
	node.more = offset + #children < node.total
	if opts.focus and #(path or {}) == 0 then
		local focus = M.focus(root)
		focus.nodes = M.probe_many(root, focus.open, { label = opts.label, names = focus.names })
		focus.names = nil -- functions: not data
		node.focus = focus
	end
	return node
end

-- Several nodes at once (the paths a view reopens), with one walk for "shared with".
function M.probe_many(root, paths, opts)
	opts = opts or {}
	local each = {}
	for k, v in next, opts do
		each[k] = v
	end
	each.index = each.index or M.cell_index(root, opts.label)
	local nodes = {}
	for i = 1, #paths do
		nodes[i] = M.probe(root, paths[i], each)
	end
	return nodes
end

-- The keys of t that hold the service's own functions, sorted.
local function own_handlers(t)
	local out = {}
	for k, v in next, t do
		if type(k) == "string" and type(v) == "function" and not origin.internal(v) then
			out[#out + 1] = k
		end
	end
	table_sort(out)
	return out
end

local function loaded_modules()
	local set = {}
	local loaded = package and package.loaded
	if loaded then
		for _, m in next, loaded do
			if type(m) == "table" then
				set[m] = true
			end
		end
	end
	return set
end

-- Protocol names in the order a reader wants them: `lua` first, then the others by
-- name, skynet's own (`debug`, `error`, `response`...) are simply where they fall: they
-- rarely hold the user's code and then give no group at all.
local function protocol_names(P)
	local names = {}
	for name in next, P do
		if type(name) == "string" then
			names[#names + 1] = name
		end
	end
	table_sort(names, function(a, b)
		if (a == "lua") ~= (b == "lua") then
			return a == "lua"
		end
		return a < b
	end)
	return names
end

-- snax keeps a service's methods in `func`: {id, group, name, function} each. They are
-- listed by group (`response`, `accept`, then snax's `system` ones) and name; `names`
-- gets each method's name, for "shared with".
local GROUP_ORDER = { response = 1, accept = 2 }

local function snax_methods(func, base, on_path, items, open, names)
	local found = {}
	for i = 1, #func do
		local m = func[i]
		if type(m) == "table" and type(m[4]) == "function" and not origin.internal(m[4]) then
			local label = tostring(m[2]) .. "." .. tostring(m[3])
			local r = row(label, "i4", m[4], on_path)
			r.path = { base[1], base[2], "sfunc", "i" .. i, "i4" }
			r.order = GROUP_ORDER[m[2]] or 3
			found[#found + 1] = r
			names[m[4]] = label
		end
	end
	table_sort(found, function(a, b)
		if a.order ~= b.order then
			return a.order < b.order
		end
		return a.key < b.key
	end)
	for _, r in ipairs(found) do
		r.order = nil
		items[#items + 1] = r
		if r.expandable then
			open[#open + 1] = r.path
		end
	end
end

-- Where the service's own code is, over root = {_U = _U, _P = _P}: groups (one per
-- protocol) of rows to show first, each row with its `path`, and the paths to open.
-- A handler table (a table of the service's own functions, as `CMD`) opens with each
-- handler open, so its upvalues (the service's state) show at once.
function M.focus(root)
	local P, U = type(root) == "table" and root._P, type(root) == "table" and root._U
	local groups, open, names = {}, {}, {}
	if type(P) ~= "table" then
		return { groups = groups, open = open, names = names }
	end
	local modules = loaded_modules()
	local proto = type(U) == "table" and type(U.proto) == "table" and U.proto or {}
	for _, pn in ipairs(protocol_names(P)) do
		local ups = P[pn]
		local p = proto[pn]
		local dispatch = type(p) == "table" and p.dispatch or nil
		local mine = type(dispatch) == "function" and not origin.internal(dispatch)
		local items = {}
		local base = { "s_P", "s" .. pn }
		local on_path = { [root] = true, [P] = true }
		if type(ups) == "table" then
			on_path[ups] = true
			if type(ups.func) == "table" and not mine then
				snax_methods(ups.func, base, on_path, items, open, names)
			end
			local keys = sorted_keys(ups)
			for _, k in ipairs(keys) do
				local v = rawget(ups, k)
				local vt = type(v)
				if type(k) == "string" and k ~= "_ENV" and not modules[v] then
					local handlers = vt == "table" and own_handlers(v) or nil
					local show = (handlers and #handlers > 0)
						or (vt == "function" and not origin.internal(v))
						or (mine and vt ~= "function" and k ~= "func")
					if show then
						local r = row("_P." .. pn .. "." .. k, key_step(k), v, on_path)
						r.path = { base[1], base[2], key_step(k) }
						items[#items + 1] = r
						if r.expandable then
							open[#open + 1] = r.path
						end
						for _, h in ipairs(handlers or {}) do
							if getupvalue(v[h], 1) ~= nil then
								open[#open + 1] = { base[1], base[2], key_step(k), key_step(h) }
							end
						end
					end
				end
			end
		end
		if #items > 0 then
			local d = type(dispatch) == "function" and row("dispatch", "", dispatch, {}) or nil
			groups[#groups + 1] = { proto = pn, dispatch = d and d.source, items = items }
		end
	end
	while #open > M.FOCUS_OPEN do
		open[#open] = nil
	end
	return { groups = groups, open = open, names = names }
end

return M
