-- The parts of skynet.core a service rarely needs, loaded the first time one is asked
-- for (skynet/core.lua's __index): what the node calls after a delivery raised, when it
-- refreshes the threads it holds, and before it closes the state; and what code that
-- borrowed a thread's debug hook calls to give the node's stop hook back. They reach the
-- prelude's locals by upvalue name (its chunk keeps upvalue names, not local names).

local getupvalue, setupvalue, sethook = debug.getupvalue, debug.setupvalue, debug.sethook
local collectgarbage, next, table_unpack = collectgarbage, next, table.unpack

-- (index, value) of the upvalue `name` of f
local function upvalue(f, name)
	local i = 1
	while true do
		local n, v = getupvalue(f, i)
		if n == nil then
			error("skynet.core has no local named " .. name, 3)
		elseif n == name then
			return i, v
		end
		i = i + 1
	end
end

return function(core)
	local deliver, thread_started, command = core.deliver, core.thread_started, core.command

	-- After a delivery raised (a killed service does, at every instruction): what it had
	-- sent until then, in deliver's shape.
	function core.take_outbox()
		local i, n = upvalue(deliver, "nout")
		if n == 0 then
			return 0
		end
		setupvalue(deliver, i, 0)
		local _, take = upvalue(deliver, "take")
		return n, take(n)
	end

	-- Puts STOP back as the running thread's (disarmed) hook: debug.gethook cannot hand
	-- back a disarmed hook to restore.
	function core.restore_stop()
		local _, STOP = upvalue(thread_started, "STOP")
		sethook(STOP, "")
	end

	-- The node keeps every registered thread alive (arming a freed one would be unsafe),
	-- so now and then it lets go of them all and takes back those a full collection leaves.
	function core.live_threads()
		local _, threads = upvalue(thread_started, "threads")
		collectgarbage()
		local list, n = {}, 0
		for co in next, threads do
			n = n + 1
			list[n] = co
		end
		return table_unpack(list, 1, n)
	end

	-- Before the node drops this state: finalizers that run as it closes must not call
	-- into a node that has let go of the service, so the bridge is cut once they have had
	-- a collection to run in (every function shares the one py_command local).
	function core.close()
		collectgarbage()
		local none = function() end
		setupvalue(command, (upvalue(command, "py_command")), none)
		local send = core.send
		local i = upvalue(send, "py_alive")
		setupvalue(send, i, none)
	end
end
