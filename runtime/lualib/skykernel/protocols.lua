-- skykernel.protocols: a service's protocol dispatch chains as plain data.
--
-- For each registered protocol: name, id, pack, unpack and dispatch (with source), how
-- many messages the dispatch function served (skynet.handler_count, when the library has
-- it) and, per handler, the messages whose command name it answers to
-- (skynet.command_count), and the handler tables the dispatch reads (table upvalues holding functions, such
-- as the `CMD` of a typical service) with every handler's source. A handler is marked
-- replaced when its source is not the file the dispatch function came from, or when its
-- identity changed since this module first saw it. A handler table's home is the file
-- of the function that holds it as an upvalue (the dispatch, or a function it calls). Standard Lua 5.4 and `debug` only;
-- `skynet` is used when present (pcall(require)).
--
-- What is the service's own code and what is skynet's (skykernel.origin) orders the
-- reply: protocols and handler tables holding the service's code come first and carry
-- `own = true`; the rest (the debug protocol's `dbgcmd`, ...) is skynet's, for a view to fold.

local type, pairs, next, tostring = type, pairs, next, tostring
local getupvalue, getinfo = debug.getupvalue, debug.getinfo
local string_format, table_sort = string.format, table.sort
local origin = require "skykernel.origin"

local M = {}

-- key -> {id, source}: handlers as first seen by this module in this service.
local first_seen = {}

local function address(v)
	return string_format("%p", v)
end

local function fninfo(f)
	if type(f) ~= "function" then
		return nil
	end
	local info = getinfo(f, "S")
	local r = { id = address(f), what = info.what }
	if info.what ~= "C" then
		r.file = info.source:sub(1, 1) == "@" and info.source:sub(2) or info.short_src
		r.line = info.linedefined
		r.lastline = info.lastlinedefined
		r.source = r.file .. ":" .. r.line
	else
		r.source = "[C]"
	end
	return r
end

local function modules()
	local set = {}
	local loaded = package and package.loaded
	if loaded then
		for _, m in pairs(loaded) do
			if type(m) == "table" then
				set[m] = true
			end
		end
	end
	return set
end

-- The handlers a table holds: sorted names and name -> function. A table of functions
-- by name (`CMD`), or snax's method list (`func`: {id, group, name, function} each, named
-- `response.get`); `snax` says it is the latter, whose functions live in another file
-- than the dispatch by design.
local function handlers_of(t)
	local out, fns = {}, {}
	for k, v in next, t do
		if type(v) == "function" and type(k) == "string" then
			out[#out + 1] = k
			fns[k] = v
		end
	end
	local snax = false
	if #out == 0 then
		for i = 1, #t do
			local m = t[i]
			if type(m) == "table" and type(m[4]) == "function" and type(m[3]) == "string" then
				local name = tostring(m[2]) .. "." .. m[3]
				out[#out + 1] = name
				fns[name] = m[4]
				snax = true
			end
		end
	end
	table_sort(out)
	return out, fns, snax
end

-- Tables of functions the dispatch reads: its upvalues, and those of the Lua functions
-- it calls through upvalues (one level down), skipping modules and _ENV.
local function handler_tables(dispatch, skip)
	local found, seen = {}, { [dispatch] = true }
	local function scan(f, via, depth)
		local i = 1
		while true do
			local name, v = getupvalue(f, i)
			if name == nil then
				break
			end
			if type(v) == "table" and name ~= "_ENV" and not skip[v] and not seen[v] then
				seen[v] = true
				local names, fns, snax = handlers_of(v)
				if #names > 0 then
					found[#found + 1] = { name = name, via = via, value = v, names = names,
						fns = fns, home = not snax and fninfo(f).file or nil }
				end
			elseif type(v) == "function" and depth > 0 and not seen[v] then
				seen[v] = true
				local info = getinfo(v, "S")
				if info.what == "Lua" then
					scan(v, name, depth - 1)
				end
			end
			i = i + 1
		end
	end
	scan(dispatch, nil, 1)
	return found
end

local function chain_of(dispatch_message)
	-- the hops from the entry point to the per-message dispatcher, through upvalues
	local hops = { { name = "skynet.dispatch_message", fn = fninfo(dispatch_message) } }
	local wanted = { raw_dispatch_message = 1, dispatch_request = 2 }
	local seen = { [dispatch_message] = true }
	local function scan(f, depth)
		local i = 1
		while true do
			local name, v = getupvalue(f, i)
			if name == nil then
				break
			end
			if type(v) == "function" and not seen[v] then
				seen[v] = true
				if wanted[name] then
					hops[#hops + 1] = { name = name, fn = fninfo(v) }
				end
				if depth > 0 then
					scan(v, depth - 1)
				end
			end
			i = i + 1
		end
	end
	scan(dispatch_message, 2)
	return hops
end

-- The dispatch chains of this service. U is inject's _U (it holds `proto`).
-- opts.limit caps handlers listed per table (default: all).
function M.chains(U, opts)
	opts = opts or {}
	local ok, skynet = pcall(require, "skynet")
	if not ok then
		skynet = nil
	end
	local counter = skynet and skynet.handler_count
	local commands = skynet and skynet.command_count
	local proto = U and U.proto or {}
	local skip = modules()
	local result = { protocols = {}, entry = {} }
	if skynet and skynet.dispatch_message then
		result.entry = chain_of(skynet.dispatch_message)
	end
	result.counts = commands and "command" or counter and "dispatch" or "none"
	local list = {}
	for name, p in pairs(proto) do
		if type(name) == "string" and type(p) == "table" then
			list[#list + 1] = p
		end
	end
	table_sort(list, function(a, b)
		return (a.id or 0) < (b.id or 0)
	end)
	for _, p in ipairs(list) do
		local d = p.dispatch
		local entry = { name = p.name, id = p.id, pack = fninfo(p.pack), unpack = fninfo(p.unpack),
			dispatch = fninfo(d), tables = {} }
		if counter and d then
			entry.count = counter(d)
		end
		local served = commands and d and commands(d)
		if type(d) == "function" then
			for _, ht in ipairs(handler_tables(d, skip)) do
				local home = ht.home -- the file of the function that reads the table
				local handlers = {}
				for j, hname in ipairs(ht.names) do
					if opts.limit and j > opts.limit then
						break
					end
					local f = ht.fns[hname]
					local h = fninfo(f)
					h.name = hname
					if commands then
						h.count = served and served[hname] or 0
					end
					local key = p.name .. "\0" .. ht.name .. "\0" .. hname
					local first = first_seen[key]
					if first == nil then
						first_seen[key] = { id = h.id, source = h.source }
					elseif first.id ~= h.id then
						h.replaced = "changed since first seen (was " .. first.source .. ")"
					end
					if h.replaced == nil and home and h.file ~= home then
						h.replaced = "defined in " .. tostring(h.file)
					end
					handlers[#handlers + 1] = h
				end
				local own = false
				for _, hname in ipairs(ht.names) do
					if not origin.internal(ht.fns[hname]) then
						own = true
						break
					end
				end
				entry.tables[#entry.tables + 1] = { name = ht.name, via = ht.via, id = address(ht.value),
					total = #ht.names, handlers = handlers, own = own or nil }
				entry.own = entry.own or own or nil
			end
			if not origin.internal(d) then
				entry.own = true
			end
		end
		result.protocols[#result.protocols + 1] = entry
	end
	-- the service's own protocols first (stable: by id within each part)
	local ordered = {}
	for pass = 1, 2 do
		for _, e in ipairs(result.protocols) do
			if (pass == 1) == (e.own == true) then
				ordered[#ordered + 1] = e
			end
		end
	end
	result.protocols = ordered
	return result
end

-- Forget first-seen identities (the next view records them afresh).
function M.reset()
	first_seen = {}
end

return M
