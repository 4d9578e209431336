-- service_mgr (.service, SERVICE): one instance per name for uniqueservice, and
-- queryservice that waits until the service exists.
local skynet = require "skynet"
require "skynet.manager"

local cmd = {}
local service = {}

local function request(name, func, ...)
	local ok, handle = pcall(func, ...)
	local s = service[name]
	assert(type(s) == "table")
	if ok then
		service[name] = handle
	else
		service[name] = tostring(handle)
	end
	for _, v in ipairs(s) do
		skynet.wakeup(v.co)
	end
	if ok then
		return handle
	end
	error(tostring(handle))
end

local function waitfor(name, func, ...)
	local s = service[name]
	if type(s) == "number" then
		return s
	end
	local co = coroutine.running()
	if s == nil then
		s = {}
		service[name] = s
	elseif type(s) == "string" then
		error(s)
	end
	assert(type(s) == "table")
	local session, source = skynet.context()
	if s.launch == nil and func then
		s.launch = { session = session, source = source, co = co }
		return request(name, func, ...)
	end
	table.insert(s, { co = co, session = session, source = source })
	skynet.wait(co)
	s = service[name]
	if type(s) == "string" then
		error(s)
	end
	assert(type(s) == "number")
	return s
end

local function read_name(service_name)
	if string.byte(service_name) == 64 then -- '@'
		return string.sub(service_name, 2)
	end
	return service_name
end

function cmd.LAUNCH(service_name, subname, ...)
	local realname = read_name(service_name)
	if realname == "snaxd" then
		-- as skynet's service_mgr: a unique snax service is started and init'ed by snax
		local snax = require "snax"
		return waitfor(service_name .. "." .. subname, snax.rawnewservice, subname, ...)
	end
	return waitfor(service_name, skynet.newservice, realname, subname, ...)
end

function cmd.QUERY(service_name, subname)
	local realname = read_name(service_name)
	if realname == "snaxd" then
		return waitfor(service_name .. "." .. subname)
	end
	return waitfor(service_name)
end

cmd.GLAUNCH = cmd.LAUNCH
cmd.GQUERY = cmd.QUERY

function cmd.LIST()
	local result = {}
	for k, v in pairs(service) do
		if type(v) == "string" then
			v = "Error: " .. v
		elseif type(v) == "table" then
			v = "Querying"
		else
			v = skynet.address(v)
		end
		result[k] = v
	end
	return result
end

skynet.start(function()
	skynet.dispatch("lua", function(session, address, command, ...)
		local f = cmd[command]
		if f == nil then
			skynet.ret(skynet.pack(nil, "Invalid command " .. command))
			return
		end
		local ok, r = pcall(f, ...)
		if ok then
			skynet.ret(skynet.pack(r))
		else
			skynet.ret(skynet.pack(nil, r))
		end
	end)
	skynet.register(".service")
	skynet.register("SERVICE")
end)
