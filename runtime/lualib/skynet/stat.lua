-- What a service tells about itself: queue length, counters, traces, and the per-handler
-- counts the dispatch-chain view reads. Loaded by skynet.lua on first use.

local tostring = tostring

return function(skynet, internal)
	local c = internal.core
	local handler_count = internal.handler_count
	local command_count = internal.command_count

	function skynet.mqlen()
		return c.command("STAT", "mqlen")
	end

	function skynet.stat(what)
		return c.command("STAT", what)
	end

	function skynet.endless()
		return c.command("STAT", "endless") == 1
	end

	function skynet.info_func(func)
		skynet._info_func = func
	end

	function skynet.trace(info)
		c.error("TRACE " .. tostring(info or ""))
	end

	function skynet.tracetag() end

	-- How many messages each dispatch function served.
	function skynet.handler_count(f)
		return handler_count[f] or 0
	end

	-- {command name = messages} that dispatch function f served, or nil.
	function skynet.command_count(f)
		return command_count[f]
	end
end
