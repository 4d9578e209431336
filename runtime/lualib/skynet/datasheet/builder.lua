-- skynet.datasheet.builder: publish a datasheet (new) and its next versions (update).
--
-- Each version is dumped (skynet.datasheet.dump; an update is dumped as a diff against
-- the last version, so readers keep their tables) into bytes the node holds (SHARED);
-- the `datasheet` service hands their id to readers and counts who still reads each
-- version, and the builder lets the node drop a version once nobody does.
local skynet = require "skynet"
local dump = require "skynet.datasheet.dump"
local service = require "skynet.service"
local c = require "skynet.core"

local builder = {}

local dataset = {} -- name -> { bytes = last version's document, handle = its id }
local address

local function monitor(handle)
	skynet.fork(function()
		skynet.call(address, "lua", "collect", handle)
		c.command("SHARED", "drop", handle)
	end)
end

local function dumpsheet(v)
	if type(v) == "string" then
		return v
	end
	return dump.dump(v)
end

function builder.new(name, v)
	assert(dataset[name] == nil)
	local bytes = dumpsheet(v)
	local handle = c.command("SHARED", "put", bytes)
	skynet.call(address, "lua", "update", name, handle)
	dataset[name] = { bytes = bytes, handle = handle }
	monitor(handle)
end

function builder.update(name, v)
	local last = assert(dataset[name])
	local bytes = dump.diff(last.bytes, dumpsheet(v))
	local handle = c.command("SHARED", "put", bytes)
	skynet.call(address, "lua", "update", name, handle)
	skynet.send(address, "lua", "release", last.handle)
	dataset[name] = { bytes = bytes, handle = handle }
	monitor(handle)
end

function builder.compile(v)
	return dump.dump(v)
end

local function datasheet_service()
	local skynet = require "skynet"

	local datasheet = {}
	local handles = {} -- handle -> { ref = count, name =, collect = response }
	local dataset = {} -- name -> { handle = current, monitor = { source -> response } }
	local customers = setmetatable({}, { __index = function(t, source)
		local v = {}
		t[source] = v
		return v
	end }) -- source -> { handle = true }

	local function releasehandle(source, handle)
		local h = handles[handle]
		h.ref = h.ref - 1
		if h.ref == 0 and h.collect then
			h.collect(true)
			h.collect = nil
			handles[handle] = nil
		end
		local t = dataset[h.name]
		t.monitor[source] = nil
	end

	-- from the builder: a new datasheet or its next version
	function datasheet.update(source, name, handle)
		local t = dataset[name]
		if not t then
			t = { handle = handle, monitor = {} }
			dataset[name] = t
			handles[handle] = { ref = 1, name = name }
		else
			handles[handle] = { ref = handles[t.handle].ref, name = name }
			t.handle = handle
			for k, v in pairs(t.monitor) do
				v(true, handle)
				t.monitor[k] = nil
			end
		end
		skynet.ret()
	end

	function datasheet.query(source, name)
		local t = assert(dataset[name], "create data first")
		local handle = t.handle
		local h = handles[handle]
		h.ref = h.ref + 1
		customers[source][handle] = true
		skynet.ret(skynet.pack(handle))
	end

	-- answered with the next version's handle
	function datasheet.monitor(source, handle)
		local h = assert(handles[handle], "Invalid data handle")
		local t = dataset[h.name]
		if t.handle ~= handle then
			customers[source][t.handle] = true
			skynet.ret(skynet.pack(t.handle))
		else
			assert(not t.monitor[source])
			local resp = skynet.response()
			t.monitor[source] = function(ok, newhandle)
				if ok then
					customers[source][newhandle] = true
				end
				resp(ok, newhandle)
			end
		end
	end

	function datasheet.release(source, handle)
		customers[source][handle] = nil
		releasehandle(source, handle)
	end

	function datasheet.close(source)
		for handle in pairs(customers[source]) do
			releasehandle(source, handle)
		end
		customers[source] = nil
	end

	-- from the builder: answered once nobody reads this version
	function datasheet.collect(source, handle)
		local h = assert(handles[handle], "Invalid data handle")
		if h.ref == 0 then
			handles[handle] = nil
			skynet.ret()
		else
			assert(h.collect == nil, "Only one collect allows")
			h.collect = skynet.response()
		end
	end

	skynet.dispatch("lua", function(_, source, cmd, ...)
		datasheet[cmd](source, ...)
	end)

	skynet.info_func(function()
		local info, tmp = {}, {}
		for k, v in pairs(handles) do
			tmp[k] = v
		end
		for k, v in pairs(dataset) do
			local h = handles[v.handle]
			tmp[v.handle] = nil
			info[k] = { handle = v.handle, monitors = h.ref }
		end
		for k, v in pairs(tmp) do
			info[k] = v.ref
		end
		return info
	end)
end

skynet.init(function()
	address = service.new("datasheet", datasheet_service)
end)

return builder
