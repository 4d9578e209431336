-- Unique services through the service manager (skynet.uniqueservice / queryservice).
-- Loaded by skynet.lua on first use.

local assert = assert

return function(skynet)
	function skynet.uniqueservice(global, ...)
		if global == true then
			return assert(skynet.call(".service", "lua", "GLAUNCH", ...))
		end
		return assert(skynet.call(".service", "lua", "LAUNCH", global, ...))
	end

	function skynet.queryservice(global, ...)
		if global == true then
			return assert(skynet.call(".service", "lua", "GQUERY", ...))
		end
		return assert(skynet.call(".service", "lua", "QUERY", global, ...))
	end
end
