-- What a service tells about itself: queue length, counters, the CPU time of the current
-- message, and the per-handler counts the dispatch-chain view reads. Loaded by skynet.lua
-- on first use.

return function(skynet, internal)
	local c = internal.core
	local command = c.command
	local handler_count = internal.handler_count
	local command_count = internal.command_count

	-- skynet.stat "time": the CPU time (seconds, a float) the current message has used so
	-- far, as skynet measures it (its worker thread's CPU clock since the message began).
	-- Knowing when each message begins costs a crossing to the node per message, so a
	-- service pays for it only from the first time it asks: that first message counts
	-- from the moment it asked.
	local message_start
	local function watch_messages()
		local dispatch = internal.raw_dispatch
		internal.set("raw_dispatch_message", function(...)
			message_start = command("THREADTIME")
			return dispatch(...)
		end)
		message_start = command("THREADTIME")
	end

	function skynet.stat(what)
		if what == "time" then
			if message_start == nil then
				watch_messages()
			end
			return command("THREADTIME") - message_start
		end
		return command("STAT", what)
	end

	function skynet.mqlen()
		return command("STAT", "mqlen")
	end

	function skynet.endless()
		return command("STAT", "endless") == 1
	end

	function skynet.info_func(func)
		skynet._info_func = func
	end

	-- How many messages each dispatch function served.
	function skynet.handler_count(f)
		return handler_count[f] or 0
	end

	-- {command name = messages} that dispatch function f served, or nil.
	function skynet.command_count(f)
		return command_count[f]
	end
end
