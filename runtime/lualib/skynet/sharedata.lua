-- skynet.sharedata: read-mostly data shared by many services, updatable while they run.
--
-- `query(name)` returns a proxy; reads go through it to this service's unpacked copy of
-- the current version. When sharedatad has a new version, a watcher thread swaps the
-- copy in; every proxy checks the version on its next access and re-finds its own key
-- path in the new data, raising `The key [.a.b] doesn't exist after update` if that
-- path is gone (skynet's words). Proxies are read-only.

local skynet = require "skynet"

local type, pairs, next, error, setmetatable, rawget, tostring = type, pairs, next, error, setmetatable,
	rawget, tostring
local string_format = string.format

local sharedata = {}
local service
local objects = {} -- name -> root proxy

local function sharedatad()
	if service == nil then
		service = skynet.uniqueservice "sharedatad"
	end
	return service
end

-- A proxy: { [DATA] = table, [PARENT] = proxy, [KEY] = key, [GEN] = n, [ROOT] = box }
local DATA, PARENT, KEY, GEN, ROOT, CHILD = {}, {}, {}, {}, {}, {}
local proxy_mt = {}

local function genkey(p)
	local key = tostring(rawget(p, KEY))
	p = rawget(p, PARENT)
	while p do
		key = tostring(rawget(p, KEY)) .. "." .. key
		p = rawget(p, PARENT)
	end
	return key
end

-- Bring a proxy up to the root's current data, or raise.
local function refresh(p)
	local box = rawget(p, ROOT)
	if rawget(p, GEN) == box.gen then
		return rawget(p, DATA)
	end
	local parent = rawget(p, PARENT)
	local data
	if parent == nil then
		data = box.data
	else
		local pdata = refresh(parent)
		data = pdata[rawget(p, KEY)]
		if type(data) ~= "table" then
			error(string_format("The key [%s] doesn't exist after update", genkey(p)), 3)
		end
	end
	if box.data == nil then
		error(string_format("sharedata %s was deleted", box.name), 3)
	end
	p[DATA] = data
	p[GEN] = box.gen
	p[CHILD] = {}
	return data
end

local function child(p, k, v)
	local cache = rawget(p, CHILD)
	local c = cache[k]
	if c == nil then
		c = setmetatable({ [DATA] = v, [PARENT] = p, [KEY] = k, [GEN] = rawget(p, GEN),
			[ROOT] = rawget(p, ROOT), [CHILD] = {} }, proxy_mt)
		cache[k] = c
	end
	return c
end

proxy_mt.__index = function(p, k)
	local v = refresh(p)[k]
	if type(v) == "table" then
		return child(p, k, v)
	end
	return v
end

proxy_mt.__newindex = function()
	error("sharedata is read-only", 2)
end

proxy_mt.__len = function(p)
	return #refresh(p)
end

proxy_mt.__pairs = function(p)
	local data = refresh(p)
	return function(_, k)
		local nk, v = next(data, k)
		if type(v) == "table" then
			v = child(p, nk, v)
		end
		return nk, v
	end, p, nil
end

local function watch(box)
	skynet.fork(function()
		while objects[box.name] do
			local version, data = skynet.call(sharedatad(), "lua", "monitor", box.name, box.version)
			if version == nil then
				box.data = nil
				box.gen = box.gen + 1
				objects[box.name] = nil
				return
			end
			box.version = version
			box.data = skynet.unpack(data)
			box.gen = box.gen + 1
		end
	end)
end

function sharedata.query(name)
	local p = objects[name]
	if p then
		return p
	end
	local version, data = skynet.call(sharedatad(), "lua", "query", name)
	local box = { name = name, version = version, data = skynet.unpack(data), gen = 1 }
	p = setmetatable({ [DATA] = box.data, [KEY] = "", [GEN] = 1, [ROOT] = box, [CHILD] = {} }, proxy_mt)
	objects[name] = p
	watch(box)
	return p
end

function sharedata.new(name, value, ...)
	skynet.call(sharedatad(), "lua", "new", name, value, ...)
end

function sharedata.update(name, value, ...)
	return skynet.call(sharedatad(), "lua", "update", name, value, ...)
end

function sharedata.delete(name)
	skynet.call(sharedatad(), "lua", "delete", name)
end

function sharedata.flush() end

-- A plain copy of the current data (or of the sub-table at the given keys).
function sharedata.deepcopy(name, ...)
	local p = sharedata.query(name)
	local data = refresh(p)
	for i = 1, select("#", ...) do
		data = data[select(i, ...)]
		if data == nil then
			return nil
		end
	end
	local function copy(t)
		if type(t) ~= "table" then
			return t
		end
		local r = {}
		for k, v in pairs(t) do
			r[k] = copy(v)
		end
		return r
	end
	return copy(data)
end

return sharedata
