-- skynet.datasheet: read a datasheet a builder published (skynet.datasheet.builder).
--
-- query(name) returns its root table (skynet.datasheet.core); a watcher takes each new
-- version the `datasheet` service announces and refills the tables this service holds.
local skynet = require "skynet"
local service = require "skynet.service"
local core = require "skynet.datasheet.core"

local datasheet_svr

skynet.init(function()
	datasheet_svr = service.query "datasheet"
end)

local datasheet = {}
local sheets = setmetatable({}, {
	__gc = function()
		skynet.send(datasheet_svr, "lua", "close")
	end,
})

local function querysheet(name)
	return skynet.call(datasheet_svr, "lua", "query", name)
end

local function updateobject(name)
	local t = sheets[name]
	if not t.object then
		t.object = core.new(t.handle)
	end
	local function monitor()
		while true do
			local handle = t.handle
			local newhandle = skynet.call(datasheet_svr, "lua", "monitor", handle)
			core.update(t.object, newhandle)
			t.handle = newhandle
			skynet.send(datasheet_svr, "lua", "release", handle)
		end
	end
	skynet.fork(monitor)
end

function datasheet.query(name)
	local t = sheets[name]
	if not t then
		t = {}
		sheets[name] = t
	end
	if t.error then
		error(t.error)
	end
	if t.object then
		return t.object
	end
	if t.queue then
		local co = coroutine.running()
		t.queue[#t.queue + 1] = co
		skynet.wait(co)
	else
		t.queue = {} -- others asking meanwhile wait here
		local ok, handle = pcall(querysheet, name)
		if ok then
			t.handle = handle
			updateobject(name)
		else
			t.error = handle
		end
		local q = t.queue
		t.queue = nil
		for _, co in ipairs(q) do
			skynet.wakeup(co)
		end
	end
	if t.error then
		error(t.error)
	end
	return t.object
end

return datasheet
