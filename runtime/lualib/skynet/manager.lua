-- skynet.manager: launching, killing and naming services.

local skynet = require "skynet"
local c = require "skynet.core"

function skynet.launch(...)
	local addr = c.command("LAUNCH", table.concat({ ... }, " "))
	return addr
end

function skynet.kill(name)
	if type(name) == "string" and name:sub(1, 1) == ":" then
		name = tonumber(name:sub(2), 16)
	end
	if name == c.handle then
		-- the node cannot look into a running state: fail our own callers from here
		local t = c.inflight()
		for i = 1, #t, 2 do
			c.send(t[i], skynet.PTYPE_ERROR, t[i + 1], "")
		end
		require("skynet.private").fail_rest_of_batch()
	end
	c.command("KILL", name)
	c.forget_alive()
end

function skynet.abort()
	c.command("ABORT")
end

-- A global name goes to skynet.harbor (true); a `.name` is this node's (false).
local function globalname(name, handle)
	local c1 = name:sub(1, 1)
	assert(c1 ~= ":", "can't use :address as a name")
	if c1 == "." then
		return false
	end
	assert(#name < 16, "global name is too long (max 15 characters)")
	assert(tonumber(name) == nil, "global name can't be a number")
	require("skynet.harbor").globalname(name, handle)
	return true
end

function skynet.register(name)
	if not globalname(name) then
		c.command("NAME", name, skynet.self())
	end
end

function skynet.name(name, handle)
	if type(handle) == "string" then
		handle = assert(c.resolve(handle), "no such service " .. handle)
	end
	if not globalname(name, handle) then
		c.command("NAME", name, handle)
	end
end

local dispatch_message = skynet.dispatch_message

function skynet.forward_type(map, start_func)
	-- Messages of a mapped type are re-typed and kept (not freed) by the dispatcher.
	local proto = {}
	local old = skynet.dispatch_message
	c.callback(function(...)
		local n = select("#", ...)
		local t = { ... }
		for i = 2, n, 4 do
			local to = map[t[i]]
			if to then
				t[i] = to
			end
		end
		return old(table.unpack(t, 1, n))
	end)
	skynet.timeout(0, function()
		skynet.init_service(start_func)
	end)
end

function skynet.filter(f, start_func)
	c.callback(function(...)
		local n = select("#", ...)
		local t = { ... }
		local out = {}
		for i = 1, n, 4 do
			local prototype, msg, sz, session, source = f(t[i + 1], t[i + 3], #t[i + 3], t[i + 2], t[i])
			out[#out + 1] = source
			out[#out + 1] = prototype
			out[#out + 1] = session
			out[#out + 1] = msg
		end
		return dispatch_message(table.unpack(out))
	end)
	skynet.timeout(0, function()
		skynet.init_service(start_func)
	end)
end

function skynet.monitor(service, query)
	local monitor
	if query then
		monitor = skynet.queryservice(true, service)
	else
		monitor = skynet.uniqueservice(true, service)
	end
	assert(monitor, "Monitor launch failed")
	return monitor
end

return skynet
