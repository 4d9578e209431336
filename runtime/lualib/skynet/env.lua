-- The node's environment (skynet.getenv / setenv) and a service's memory limit.
-- Loaded by skynet.lua on first use.

local assert, tostring, rawget = assert, tostring, rawget

return function(skynet, internal)
	local command = internal.core.command

	if rawget(skynet, "getenv") == nil then
		function skynet.getenv(key)
			return command("GETENV", key)
		end
	end

	if rawget(skynet, "setenv") == nil then
		function skynet.setenv(key, value)
			assert(command("GETENV", key) == nil, "Can't setenv exist key : " .. key)
			command("SETENV", key, tostring(value))
		end
	end

	-- As skynet: the limit is only noted here; the loader applies it when the main chunk
	-- is done (later calls are noted and never applied), and it can be set once only.
	if rawget(skynet, "memlimit") == nil and not rawget(internal, "memlimit_set") then
		function skynet.memlimit(bytes)
			debug.getregistry().memlimit = bytes
			internal.memlimit_set = true
			skynet.memlimit = nil
		end
	end
end
