-- service_mgr (.service, SERVICE): one instance per name for uniqueservice, and a
-- queryservice that waits until the named service exists.
--
-- Each name is in one of three states: an address (running), an error text (its launch
-- failed), or a pending entry listing the coroutines waiting for it.
local skynet = require "skynet"
require "skynet.manager"

local named = {}

local function settle(name, ok, result)
	local pending = named[name]
	named[name] = ok and result or tostring(result)
	for _, co in ipairs(pending.waiting) do
		skynet.wakeup(co)
	end
end

-- The address registered under name; launch(...) starts it when nobody has yet.
local function obtain(name, launch, ...)
	local state = named[name]
	if state == nil then
		state = { waiting = {} }
		named[name] = state
		if launch then
			state.launching = true
			local ok, result = pcall(launch, ...)
			settle(name, ok, result)
			state = named[name]
		end
	elseif type(state) == "table" and launch and not state.launching then
		state.launching = true -- someone only queried so far: this caller launches it
		local ok, result = pcall(launch, ...)
		settle(name, ok, result)
		state = named[name]
	end
	if type(state) == "table" then
		local co = coroutine.running()
		state.waiting[#state.waiting + 1] = co
		skynet.wait(co)
		state = named[name]
	end
	if type(state) == "string" then
		error(state)
	end
	return state
end

-- `@name` asks for the same service under a name of its own (as skynet allows).
local function service_file(name)
	return name:sub(1, 1) == "@" and name:sub(2) or name
end

local command = {}

function command.LAUNCH(name, subname, ...)
	if service_file(name) == "snaxd" then
		-- a unique snax service is started and initialised by snax itself
		local snax = require "skynet.snax"
		return obtain(name .. "." .. subname, snax.rawnewservice, subname, ...)
	end
	return obtain(name, skynet.newservice, service_file(name), subname, ...)
end

function command.QUERY(name, subname)
	if service_file(name) == "snaxd" then
		return obtain(name .. "." .. subname)
	end
	return obtain(name)
end

-- A standalone node has no other nodes: global names are local ones.
command.GLAUNCH = command.LAUNCH
command.GQUERY = command.QUERY

function command.LIST()
	local list = {}
	for name, state in pairs(named) do
		if type(state) == "number" then
			list[name] = skynet.address(state)
		elseif type(state) == "string" then
			list[name] = "Error: " .. state
		else
			list[name] = "Querying"
		end
	end
	return list
end

skynet.start(function()
	skynet.dispatch("lua", function(_, _, cmd, ...)
		local f = command[cmd]
		if f == nil then
			skynet.ret(skynet.pack(nil, "Invalid command " .. tostring(cmd)))
			return
		end
		local ok, result = pcall(f, ...)
		if ok then
			skynet.ret(skynet.pack(result))
		else
			skynet.ret(skynet.pack(nil, result))
		end
	end)
	skynet.register(".service")
	skynet.register("SERVICE")
end)
