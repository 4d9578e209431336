-- launcher (.launcher): starts services for newservice and answers once their start
-- function has run (LAUNCHOK) or failed (ERROR).
local skynet = require "skynet"
require "skynet.manager"

local services = {}
local instance = {}
local command = {}

-- Returned by commands that answer later through a response closure.
local NORET = {}

function command.LIST()
	local list = {}
	for k, v in pairs(services) do
		list[skynet.address(k)] = v
	end
	return list
end

local function list_srv(ti, fmt_func, ...)
	local list = {}
	local sessions = {}
	local req = skynet.request()
	for addr in pairs(services) do
		local r = { addr, "debug", ... }
		req:add(r)
		sessions[r] = addr
	end
	for req, resp in req:select(ti) do
		local addr = req[1]
		if resp then -- false: the request failed, and it is listed as an error below
			list[skynet.address(addr)] = fmt_func(resp[1], addr)
			sessions[req] = nil
		end
	end
	for _, addr in pairs(sessions) do
		list[skynet.address(addr)] = "ERROR"
	end
	return list
end

function command.STAT(addr, ti)
	return list_srv(ti, function(v)
		return string.format("cpu:%s\tmessage:%s\tmqlen:%s\ttask:%s", v.cpu, v.message, v.mqlen, v.task)
	end, "STAT")
end

function command.KILL(_, handle)
	skynet.kill(handle)
	local ret = { [skynet.address(handle)] = tostring(services[handle]) }
	services[handle] = nil
	return ret
end

function command.MEM(addr, ti)
	return list_srv(ti, function(kb, a)
		local v = services[a]
		return string.format("%.2f Kb (%s)", kb, v)
	end, "MEM")
end

function command.GC(addr, ti)
	for k in pairs(services) do
		skynet.send(k, "debug", "GC")
	end
	return command.MEM(addr, ti)
end

function command.REMOVE(_, handle, kill)
	services[handle] = nil
	local response = instance[handle]
	if response then
		response(not kill)
		instance[handle] = nil
	end
	return NORET
end

local function launch_service(service, ...)
	local param = table.concat({ ... }, " ")
	local inst = skynet.launch(service, param)
	local response = skynet.response()
	if inst then
		services[inst] = service .. " " .. param
		instance[inst] = response
	else
		response(false)
		return
	end
	return inst
end

function command.LAUNCH(_, service, ...)
	launch_service(service, ...)
	return NORET
end

function command.LAUNCHOK(address)
	local response = instance[address]
	if response then
		response(true, address)
		instance[address] = nil
	end
	return NORET
end

function command.ERROR(address)
	local response = instance[address]
	if response then
		response(false)
		instance[address] = nil
	end
	services[address] = nil
	return NORET
end

skynet.register_protocol {
	name = "text",
	id = skynet.PTYPE_TEXT,
	unpack = skynet.tostring,
	dispatch = function(session, address, cmd)
		if cmd == "" then
			command.LAUNCHOK(address)
		elseif cmd == "ERROR" then
			command.ERROR(address)
		else
			error("Invalid text command " .. cmd)
		end
	end,
}

skynet.dispatch("lua", function(session, address, cmd, ...)
	cmd = string.upper(cmd)
	local f = command[cmd]
	if f then
		local ret = f(address, ...)
		if ret ~= NORET then
			skynet.ret(skynet.pack(ret))
		end
	else
		skynet.ret(skynet.pack({ "Unknown command" }))
	end
end)

skynet.start(function() end)
