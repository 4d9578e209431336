-- skykernel.complete: names for completion and inspection, computed where they live.
--
-- Injected into the target service by the kernel, so completion sees the service's own
-- globals and the cell's persistent variables, and the same code works on a real node.

local type, pairs, ipairs, pcall, tostring = type, pairs, ipairs, pcall, tostring
local getmetatable, require, package, io, string = getmetatable, require, package, io, string
local string_format, table_concat, table_sort = string.format, table.concat, table.sort
local getinfo, getlocal, getupvalue = debug.getinfo, debug.getlocal, debug.getupvalue

local complete = {}

local KEYWORDS = {
	"and", "break", "do", "else", "elseif", "end", "false", "for", "function", "goto", "if",
	"in", "local", "nil", "not", "or", "repeat", "return", "then", "true", "until", "while",
}

-- What a learner reaches for first, listed before the rest of a module's names.
local FIRST = {}
for i, name in ipairs {
	"call", "send", "newservice", "uniqueservice", "queryservice", "start", "dispatch", "ret",
	"retpack", "response", "pack", "unpack", "self", "error", "sleep", "timeout", "fork",
	"wait", "wakeup", "yield", "exit", "kill", "register", "name", "localname", "address",
	"getenv", "setenv", "now", "time", "init", "register_protocol", "launch",
	-- snax objects and modules
	"req", "post", "hotfix", "query", "update", "new", "delete",
} do
	FIRST[name] = i
end

-- The module a head name stands for in this cell (`local skynet = require "skynet"` not
-- run yet), or the loaded module of that name.
local function module_for(name, aliases)
	local mod = aliases and aliases[name] or name
	local loaded = package.loaded[mod]
	if loaded ~= nil then
		return loaded
	end
	-- requiring the runtime's own modules has no effect a cell would not have
	if aliases and aliases[name] and (mod == "skynet" or mod:find("^skynet%.") or mod == "snax") then
		local ok, m = pcall(require, mod)
		if ok then
			return m
		end
	end
	return nil
end

local function resolve(env, path, aliases)
	local v = env
	local first = true
	for name in path:gmatch("[^%.:]+") do
		if type(v) ~= "table" and type(v) ~= "string" then
			return nil
		end
		local ok, nv = pcall(function() return v[name] end)
		if not ok then
			return nil
		end
		if first and nv == nil then
			nv = module_for(name, aliases)
		end
		first = false
		v = nv
	end
	return v
end

local function keys_of(v, methods_only, out, seen)
	seen = seen or {}
	if type(v) == "string" then
		v = string
	end
	if type(v) ~= "table" or seen[v] then
		return out
	end
	seen[v] = true
	for k, x in pairs(v) do
		if type(k) == "string" and (not methods_only or type(x) == "function") and out[k] == nil then
			out[k] = type(x)
		end
	end
	local mt = getmetatable(v)
	if type(mt) == "table" and type(mt.__index) == "table" then
		keys_of(mt.__index, methods_only, out, seen)
	elseif type(mt) == "table" and type(mt.__index) == "function" then
		-- skynet.lua loads its rarer API on first use: its __index knows the names
		local i = 1
		while true do
			local name, lazy = getupvalue(mt.__index, i)
			if name == nil then
				break
			end
			if name == "LAZY" and type(lazy) == "string" then
				-- "module:key,key module:key ...": the keys, wherever they load from
				for keys in lazy:gmatch("[%w_]+:([%w_,]+)") do
					for key in keys:gmatch("[%w_]+") do
						if out[key] == nil then
							out[key] = "function"
						end
					end
				end
			end
			i = i + 1
		end
	end
	return out
end

-- Sort order: the names people use first, then functions, then other values, then
-- constants (ALL_CAPS), then private names (_x).
local function rank(name, kind)
	if FIRST[name] and kind == "function" then
		return 0, FIRST[name]
	elseif name:sub(1, 1) == "_" then
		return 5, 0
	elseif name:find("^[%u%d_]+$") then
		return 4, 0
	elseif kind == "function" then
		return 1, 0
	elseif kind == "keyword" then
		return 3, 0
	end
	return 2, 0
end

-- Candidates for the identifier path ending `text` (like `skynet.ca` or `obj:me`), in env:
-- "name<TAB>kind" lines, best first, and where in text they start. aliases: name -> module
-- for the cell's `local NAME = require "MODULE"` lines (the cell has not run yet).
function complete.names(env, text, aliases)
	local base, sep, partial = text:match("^(.-)([%.:]?)([%w_]*)$")
	local names = {}
	if sep == "" then
		keys_of(env, false, names)
		local mt = getmetatable(env)
		if mt and type(mt.__index) == "table" then
			keys_of(mt.__index, false, names)
		end
		for name in pairs(aliases or {}) do
			names[name] = names[name] or "table"
		end
		for _, k in ipairs(KEYWORDS) do
			names[k] = "keyword"
		end
	else
		keys_of(resolve(env, base, aliases), sep == ":", names)
	end
	local out = {}
	for k, kind in pairs(names) do
		if k:sub(1, #partial) == partial then
			local r, order = rank(k, kind)
			out[#out + 1] = { k, kind, r, order }
		end
	end
	table_sort(out, function(a, b)
		if a[3] ~= b[3] then
			return a[3] < b[3]
		elseif a[4] ~= b[4] then
			return a[4] < b[4]
		end
		return a[1] < b[1]
	end)
	local lines = {}
	for i, e in ipairs(out) do
		lines[i] = e[1] .. "\t" .. e[2]
	end
	return table_concat(lines, "\n"), #text - #partial
end

-- The lines first..last of a chunk's file, or nil (a cell, a chunk from a string).
local function source_lines(source, first, last)
	local path = source:match("^@(.*)$")
	local f = path and io.open(path, "r")
	if not f then
		return nil
	end
	local lines, n = {}, 0
	for line in f:lines() do
		n = n + 1
		if n >= first then
			lines[#lines + 1] = line
		end
		if n >= last then
			break
		end
	end
	f:close()
	return lines
end

-- A Lua function's signature: its parameters by name (a chunk stripped of its debug
-- names: from its source line).
local function signature(path, f, info)
	local params = {}
	for i = 1, info.nparams do
		params[i] = getlocal(f, i) or ("arg" .. i)
	end
	if info.isvararg then
		params[#params + 1] = "..."
	end
	local shown = path:gsub(":", ".")
	if info.nparams > 0 and getlocal(f, 1) == nil then
		local line = (source_lines(info.source, info.linedefined, info.linedefined) or {})[1]
		local written = line and line:match("function%s*[%w_.:]*%s*(%b())")
		if written then
			return shown .. written
		end
	end
	return shown .. "(" .. table_concat(params, ", ") .. ")"
end

-- What `path` names in env, for a front end's inspection (Shift+Tab, `name?`):
-- a function's signature and where it is defined (detail 1: its source); a table's keys;
-- a value's text. The first line is `path : type`; nil is just that.
function complete.describe(env, path, detail, aliases)
	local v = resolve(env, path, aliases)
	local pretty = require "skykernel.pretty"
	local lines = { path .. " : " .. type(v) }
	if type(v) == "function" then
		local info = getinfo(v, "Su")
		if info.what == "C" then
			lines[#lines + 1] = path:gsub(":", ".") .. "(...)"
			lines[#lines + 1] = "a built-in (C) function"
		else
			lines[#lines + 1] = signature(path, v, info)
			lines[#lines + 1] = string_format("defined at %s:%d", info.short_src, info.linedefined)
			if detail and detail > 0 then
				local src = source_lines(info.source, info.linedefined, info.lastlinedefined)
				local cell = info.source:match("^@(cell%[%d+%])$")
				if src then
					lines[#lines + 1] = ""
					for _, line in ipairs(src) do
						lines[#lines + 1] = line
					end
				elseif cell then
					-- the kernel keeps the cells: it fills the source in
					lines[#lines + 1] = string_format("@@source %s %d %d", cell, info.linedefined,
						info.lastlinedefined)
				else
					lines[#lines + 1] = "(no source: " .. info.short_src .. ")"
				end
				local ups = {}
				for i = 1, info.nups do
					ups[#ups + 1] = (getupvalue(v, i))
				end
				if ups[1] then
					lines[#lines + 1] = "upvalues: " .. table_concat(ups, ", ")
				end
			end
		end
	elseif type(v) == "table" then
		local funcs, other, n = {}, {}, 0
		for k, x in pairs(v) do
			n = n + 1
			local list = type(x) == "function" and funcs or other
			if #list < 40 then
				list[#list + 1] = tostring(k)
			end
		end
		table_sort(funcs)
		table_sort(other)
		lines[#lines + 1] = string_format("%d key%s", n, n == 1 and "" or "s")
		if funcs[1] then
			lines[#lines + 1] = "functions: " .. table_concat(funcs, ", ")
		end
		if other[1] then
			lines[#lines + 1] = "fields: " .. table_concat(other, ", ")
		end
		if detail and detail > 0 then
			lines[#lines + 1] = pretty.format(v, { max_depth = 2, max_items = 40, max_chars = 4000 })
		end
	elseif v ~= nil then
		lines[#lines + 1] = pretty.format(v, { max_chars = 2000 })
	end
	return table_concat(lines, "\n")
end

return complete
