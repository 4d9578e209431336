-- The node's clocks (skynet.now, hpc, starttime, time) and skynet.yield.
-- Loaded by skynet.lua on first use.

return function(skynet, internal)
	local command = internal.core.command
	local starttime

	function skynet.now()
		return command("NOW")
	end

	function skynet.hpc()
		return command("HPC")
	end

	function skynet.starttime()
		if not starttime then
			starttime = command("STARTTIME")
		end
		return starttime
	end

	function skynet.time()
		return skynet.now() / 100 + (starttime or skynet.starttime())
	end

	function skynet.yield()
		return skynet.sleep(0)
	end
end
