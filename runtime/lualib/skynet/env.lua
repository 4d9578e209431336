-- The node's environment (skynet.getenv / setenv) and a service's memory limit.
-- Loaded by skynet.lua on first use.

local assert, tostring = assert, tostring

return function(skynet, internal)
	local command = internal.core.command

	function skynet.getenv(key)
		return command("GETENV", key)
	end

	function skynet.setenv(key, value)
		assert(command("GETENV", key) == nil, "Can't setenv exist key : " .. key)
		command("SETENV", key, tostring(value))
	end

	function skynet.memlimit(bytes)
		command("MEMLIMIT", bytes)
	end
end
