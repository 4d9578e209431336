-- Services by name: unique services through the service manager (skynet.uniqueservice,
-- queryservice) and the node's local names (skynet.localname). Loaded by skynet.lua on
-- first use.

local assert, string_byte = assert, string.byte

return function(skynet, internal)
	local c = internal.core

	-- Only `.name`s are local: a global name is the harbor's (skynet.harbor.queryname).
	function skynet.localname(name)
		if string_byte(name) == 46 then
			return c.command("QUERY", name)
		end
	end

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
