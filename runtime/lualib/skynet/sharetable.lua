-- skynet.sharetable: tables loaded once (from a file, a string or a table) and read by
-- many services; a new version replaces the old one in place with sharetable.update.
--
-- skynet keeps each version in a Lua state of its own and lets every service read it
-- without a copy, read-only. Here the `sharetable` service packs each version into bytes
-- the node holds (SHARED, node/shared.py); query unpacks them into plain tables of the
-- asking service: reading, pairs, next, # work as in skynet, but a write is not refused
-- (it changes this service's copy only). update(name...) then finds every reference this
-- service holds to the tables it queried (locals, upvalues, tables, metatables, suspended
-- coroutines, as skynet's does) and points it at the new version.
local skynet = require "skynet"
local service = require "skynet.service"

local function sharetable_service()
	local skynet = require "skynet"
	local core = require "skynet.core"

	local versions = {} -- blob id -> { filename =, count = refs, refs = { source = true } }
	local files = {} -- filename -> blob id of its current version
	local clients = {} -- source -> { blob id... }

	local sharetable = {}

	local function put(data)
		return core.command("SHARED", "put", data)
	end

	local function drop(id)
		core.command("SHARED", "drop", id)
	end

	-- A version nobody holds goes when it is replaced.
	local function close_version(id)
		if id == nil then
			return
		end
		local ref = versions[id]
		if ref == nil or ref.count == 0 then
			versions[id] = nil
			drop(id)
		end
	end

	-- skynet runs the source in a Lua state of its own; here in a fresh environment
	local function load_version(filename, chunk, ...)
		local t = chunk(...)
		assert(type(t) == "table", "a sharetable source must return a table")
		close_version(files[filename])
		files[filename] = put(skynet.packstring(t))
	end

	function sharetable.loadfile(source, filename, ...)
		local chunk = assert(loadfile(filename, "bt", setmetatable({}, { __index = _G })))
		load_version(filename, chunk, ...)
		skynet.ret()
	end

	function sharetable.loadstring(source, filename, datasource, ...)
		local chunk = assert(load(datasource, datasource, "bt", setmetatable({}, { __index = _G })))
		load_version(filename, chunk, ...)
		skynet.ret()
	end

	-- the table comes packed (by the caller), as the node keeps it
	function sharetable.loadtable(source, filename, data)
		assert(type(data) == "string")
		close_version(files[filename])
		files[filename] = put(data)
		skynet.ret()
	end

	local function query_file(source, filename)
		local id = files[filename]
		local ref = versions[id]
		if ref == nil then
			ref = { filename = filename, count = 0, refs = {} }
			versions[id] = ref
		end
		if ref.refs[source] == nil then
			ref.refs[source] = true
			local list = clients[source]
			if list == nil then
				list = {}
				clients[source] = list
			end
			list[#list + 1] = id
			ref.count = ref.count + 1
		end
		return id
	end

	function sharetable.query(source, filename)
		if files[filename] == nil then
			skynet.ret()
			return
		end
		skynet.ret(skynet.pack(query_file(source, filename)))
	end

	function sharetable.queryall(source, filenamelist)
		local ids = {}
		if filenamelist then
			for _, filename in ipairs(filenamelist) do
				if files[filename] then
					ids[filename] = query_file(source, filename)
				end
			end
		else
			for filename in pairs(files) do
				ids[filename] = query_file(source, filename)
			end
		end
		skynet.ret(skynet.pack(ids))
	end

	-- a client is done with every version it queried
	function sharetable.close(source)
		local list = clients[source]
		if list then
			for _, id in ipairs(list) do
				local ref = versions[id]
				if ref and ref.refs[source] then
					ref.refs[source] = nil
					ref.count = ref.count - 1
					if ref.count == 0 and files[ref.filename] ~= id then
						skynet.error(string.format("Delete a version (%s) of %s", id, ref.filename))
						versions[id] = nil
						drop(id)
					end
				end
			end
			clients[source] = nil
		end
	end

	skynet.dispatch("lua", function(_, source, cmd, ...)
		sharetable[cmd](source, ...)
	end)

	skynet.info_func(function()
		local info = {}
		for filename, id in pairs(files) do
			info[filename] = { current = id }
		end
		for id, ref in pairs(versions) do
			local v = info[ref.filename]
			local refs = {}
			for addr in pairs(ref.refs) do
				refs[#refs + 1] = skynet.address(addr)
			end
			table.sort(refs)
			v.history = (v.history and v.history .. "\n\t" or "") ..
				string.format("%s: (%s)", id, table.concat(refs, ","))
		end
		return info
	end)
end

local function load_service(t, key)
	if key == "address" then
		t.address = service.new("sharetable", sharetable_service)
		return t.address
	end
end

local function report_close(t)
	local addr = rawget(t, "address")
	if addr then
		skynet.send(addr, "lua", "close")
	end
end

local sharetable = setmetatable({}, { __index = load_service, __gc = report_close })

local type, assert, pairs, next, ipairs = type, assert, pairs, next, ipairs
local rawget, rawset = rawget, rawset

function sharetable.loadfile(filename, ...)
	skynet.call(sharetable.address, "lua", "loadfile", filename, ...)
end

function sharetable.loadstring(filename, source, ...)
	skynet.call(sharetable.address, "lua", "loadstring", filename, source, ...)
end

function sharetable.loadtable(filename, tbl)
	assert(type(tbl) == "table")
	skynet.call(sharetable.address, "lua", "loadtable", filename, skynet.packstring(tbl))
end

local c = require "skynet.core"

local function fetch(id)
	return skynet.unpack(c.command("SHARED", "get", id))
end

local RECORD = {} -- filename -> { table this service got from query = true }

local function record(filename, t)
	local map = RECORD[filename]
	if not map then
		map = {}
		RECORD[filename] = map
	end
	map[t] = true
	return t
end

function sharetable.query(filename)
	local id = skynet.call(sharetable.address, "lua", "query", filename)
	if id then
		return record(filename, fetch(id))
	end
end

function sharetable.queryall(filenamelist)
	local list = {}
	local ids = skynet.call(sharetable.address, "lua", "queryall", filenamelist)
	for filename, id in pairs(ids) do
		list[filename] = record(filename, fetch(id))
	end
	return list
end

----- update: every reference to an old version's tables, pointed at the new version's

local GONE = {} -- a sub-table the new version no longer has: references become nil

-- old table -> its counterpart in the new version (by the same keys), or GONE
local function pair_tables(old, new, map)
	for k, ov in next, old do
		if type(ov) == "table" then
			local nv = type(new) == "table" and new[k] or nil
			if type(nv) ~= "table" then
				nv = GONE
			end
			map[ov] = nv
			pair_tables(ov, nv, map)
		end
	end
	map[old] = new
	return map
end

local getmetatable, setmetatable = debug.getmetatable, debug.setmetatable
local getupvalue, setupvalue = debug.getupvalue, debug.setupvalue
local getlocal, setlocal, getinfo = debug.getlocal, debug.setlocal, debug.getinfo
local getuservalue, setuservalue = debug.getuservalue, debug.setuservalue
local coroutine_running = coroutine.running

local function replace_all(map, first_level)
	local seen = {}
	local visit

	local function new_of(v)
		local n = map[v]
		if n == GONE then
			return nil
		end
		return n
	end

	local function visit_metatable(v)
		local mt = getmetatable(v)
		if mt ~= nil then
			if map[mt] then
				setmetatable(v, new_of(mt))
			else
				visit(mt)
			end
		end
	end

	local function visit_table(t)
		local rekey
		for k, v in next, t do
			if map[v] then
				rawset(t, k, new_of(v))
			else
				visit(v)
			end
			if map[k] then
				rekey = rekey or {}
				rekey[#rekey + 1] = k
			else
				visit(k)
			end
		end
		if rekey then
			for _, k in ipairs(rekey) do
				local v = rawget(t, k)
				rawset(t, k, nil)
				local nk = new_of(k)
				if nk ~= nil then
					rawset(t, nk, v)
				end
			end
		end
		visit_metatable(t)
	end

	local function visit_function(f)
		local i = 1
		while true do
			local name, v = getupvalue(f, i)
			if name == nil then
				break
			end
			if map[v] then
				setupvalue(f, i, new_of(v))
			else
				visit(v)
			end
			i = i + 1
		end
	end

	-- every frame's locals and temporaries, from `level` up (in co, or this thread)
	local function visit_frames(co, level)
		local here = co == coroutine_running()
		while true do
			local info
			if here then
				info = getinfo(level, "fS")
			else
				info = getinfo(co, level, "fS")
			end
			if info == nil then
				break
			end
			visit(info.func)
			local lua_frame = info.what ~= "C" -- a C function's slots are only looked at
			local i = 1
			while true do
				local name, v
				if here then
					name, v = getlocal(level, i)
				else
					name, v = getlocal(co, level, i)
				end
				if name == nil then
					break
				end
				if map[v] and lua_frame then
					if here then
						setlocal(level, i, new_of(v))
					else
						setlocal(co, level, i, new_of(v))
					end
				else
					visit(v)
				end
				i = i + 1
			end
			level = level + 1
		end
	end

	local function visit_userdata(u)
		local n = 1
		while true do
			local v, ok = getuservalue(u, n)
			if not ok then
				break
			end
			if map[v] then
				setuservalue(u, new_of(v), n)
			else
				visit(v)
			end
			n = n + 1
		end
		visit_metatable(u)
	end

	function visit(v)
		if v == nil or seen[v] then
			return
		end
		local tv = type(v)
		if tv == "table" then
			seen[v] = true
			visit_table(v)
		elseif tv == "function" then
			seen[v] = true
			visit_function(v)
		elseif tv == "thread" then
			seen[v] = true
			if v ~= coroutine_running() then
				visit_frames(v, 0)
			end
		elseif tv == "userdata" then
			seen[v] = true
			visit_userdata(v)
		end
	end

	seen[seen] = true
	seen[map] = true
	seen[RECORD] = true
	-- the caller's frames and up (this function's own locals are not the program's)
	visit_frames(coroutine_running(), first_level)
	for _, sample in ipairs { "", 0, true, print, coroutine_running() } do
		visit_metatable(sample) -- the metatables every string, number... share
	end
	visit(debug.getregistry())
end

function sharetable.update(...)
	local map = {}
	for _, name in ipairs { ... } do
		local old_tables = RECORD[name]
		if old_tables then
			local new = sharetable.query(name)
			for old in pairs(old_tables) do
				if old ~= new then
					pair_tables(old, new, map)
					old_tables[old] = nil
				end
			end
		end
	end
	if next(map) then
		replace_all(map, 4) -- frames seen from visit_frames: 2 replace_all, 3 update, 4 its caller
	end
end

return sharetable
