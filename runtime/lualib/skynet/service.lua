-- skynet.service: a service defined by a function instead of a file.
--
-- new(name, mainfunc, ...) string.dump's mainfunc (it may have no upvalue but _ENV) and
-- asks the service_provider to start it once per name; later callers get the same address.
local skynet = require "skynet"

local service = {}
local cache = {}
local provider

local function get_provider()
	provider = provider or skynet.uniqueservice "service_provider"
	return provider
end

-- As skynet's: the function is string.dump'ed, so its only upvalue may be _ENV.
local function check(func)
	local info = debug.getinfo(func, "u")
	assert(info.nups == 1)
	assert(debug.getupvalue(func, 1) == "_ENV")
end

function service.new(name, mainfunc, ...)
	local p = get_provider()
	local addr, booting = skynet.call(p, "lua", "test", name)
	local address
	if addr then
		address = addr
	elseif booting then
		address = skynet.call(p, "lua", "query", name)
	else
		check(mainfunc)
		address = skynet.call(p, "lua", "launch", name, string.dump(mainfunc), ...)
	end
	cache[name] = address
	return address
end

function service.close(name)
	local addr = skynet.call(get_provider(), "lua", "close", name)
	if addr then
		cache[name] = nil
		skynet.kill(addr)
		return true
	end
	return false
end

function service.query(name)
	if not cache[name] then
		cache[name] = skynet.call(get_provider(), "lua", "query", name)
	end
	return cache[name]
end

return service
