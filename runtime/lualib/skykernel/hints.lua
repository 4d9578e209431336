-- skykernel.hints: what the kernel tells a learner about a patch, computed in the service.
--
-- A function written in a cell cannot see the service's locals: where the old handler
-- read its upvalue `balance`, the new one reads a global `balance`, nil in the cell's
-- environment. `swaps` finds that after a cell swapped handlers; `homes` lists the
-- functions that hold an upvalue of a given name (where `balance` lives).

local type, pairs, ipairs, next, tostring, package = type, pairs, ipairs, next, tostring, package
local getupvalue, string_dump, pcall = debug.getupvalue, string.dump, pcall
local string_char, string_format, table_sort, table_concat = string.char, string.format, table.sort, table.concat

local M = {}

local function upvalue_names(f)
	local names = {}
	local i = 1
	while true do
		local name = getupvalue(f, i)
		if name == nil then
			return names
		end
		names[name] = i
		i = i + 1
	end
end

-- Does f's code (or a function nested in it) use the string constant `name`, as a global
-- read or a field does? Read from its stripped dump: debug names are not in it.
local function uses_constant(f, name)
	local ok, dump = pcall(string_dump, f, true)
	if not ok then
		return false
	end
	-- a short string is its size + 1 as one byte, then its bytes: 5.4 marks that byte's
	-- top bit (the varint's last byte), 5.5 ends the bytes with "\0" instead
	return dump:find(string_char((#name + 1) | 0x80) .. name, 1, true) ~= nil
		or dump:find(string_char(#name + 1) .. name .. "\0", 1, true) ~= nil
end

-- Hints for the swaps a cell made ({ {tbl, key, old, new, path}, ... }, as skykernel.swaps
-- records them), with env the cell's environment. One line each.
function M.swaps(swaps, env)
	local lines = {}
	for _, s in pairs(swaps or {}) do
		local old, new, path = s[3], s[4], s[5]
		if type(old) == "function" and type(new) == "function" then
			local before, now = upvalue_names(old), upvalue_names(new)
			local missed = {}
			for name in pairs(before) do
				if name ~= "_ENV" and #name < 127 and now[name] == nil and env[name] == nil
					and uses_constant(new, name) then
					missed[#missed + 1] = name
				end
			end
			table_sort(missed)
			for _, name in ipairs(missed) do
				lines[#lines + 1] = string_format(
					"hint: %s now reads a global `%s`, which is nil here; the function it replaced "
						.. "kept `%s` as an upvalue (a local of the service), which a cell cannot see. "
						.. "`%%upvalues ADDR %s` shows where it lives; %%%%hotfix and %%%%reload join "
						.. "upvalues by name, or join it by hand with debug.upvaluejoin.",
					path, name, name, name)
			end
		end
	end
	return table_concat(lines, "\n")
end

-- Where upvalues called `name` live: "path  upvalue name = value" for every function
-- reachable from _U and _P (their tables' functions, and the functions those hold).
function M.homes(name, U, P)
	local pretty = require "skykernel.pretty"
	local found, seen = {}, {}
	local function visit_function(f, path, depth)
		if seen[f] or depth > 3 then
			return
		end
		seen[f] = true
		local i = 1
		while true do
			local uname, value = getupvalue(f, i)
			if uname == nil then
				break
			end
			if uname == name then
				found[#found + 1] = string_format("%s  upvalue %d %s = %s", path, i, name,
					pretty.format(value, { max_depth = 1, max_items = 8, max_chars = 120 }))
			elseif type(value) == "function" then
				visit_function(value, path .. "^" .. uname, depth + 1)
			end
			i = i + 1
		end
	end
	local function visit_table(t, path)
		if seen[t] then
			return
		end
		seen[t] = true
		local keys = {}
		for k, v in next, t do
			if type(k) == "string" and type(v) == "function" then
				keys[#keys + 1] = k
			end
		end
		table_sort(keys)
		for _, k in ipairs(keys) do
			visit_function(t[k], path .. "." .. k, 1)
		end
	end
	local function roots(prefix, tables)
		local names = {}
		for k, v in pairs(tables or {}) do
			if type(v) == "table" and k ~= "_ENV" and k ~= "coroutine_pool" then
				names[#names + 1] = tostring(k)
			end
		end
		table_sort(names)
		for _, k in ipairs(names) do
			visit_table(tables[k], prefix .. "." .. k)
		end
	end
	local protos = {}
	for proto in pairs(P or {}) do
		protos[#protos + 1] = tostring(proto)
	end
	table_sort(protos)
	for _, proto in ipairs(protos) do
		roots("_P." .. proto, P[proto])
	end
	roots("_U", U)
	-- handlers cells replaced keep the old function's upvalues alive
	local swaps = package.loaded["skykernel.swaps"]
	if type(swaps) == "table" and type(swaps.history) == "table" then
		local ids = {}
		for id in pairs(swaps.history) do
			ids[#ids + 1] = id
		end
		table_sort(ids)
		for _, id in ipairs(ids) do
			for _, s in ipairs(swaps.history[id]) do
				if type(s[3]) == "function" then
					visit_function(s[3], s[5] .. " (before a cell replaced it)", 1)
				end
			end
		end
	end
	return table_concat(found, "\n")
end

return M
