-- Waiting in a coroutine: skynet.sleep and skynet.wait, and resuming what skynet.wakeup
-- woke. Loaded by skynet.lua on first use (skynet.wakeup stays there: it only queues a
-- token, and nothing is queued unless something sleeps or waits here).

local error = error
local coroutine_running, coroutine_yield = coroutine.running, coroutine.yield
local table_remove = table.remove

return function(skynet, internal)
	local c = internal.core
	local session_id_coroutine = internal.session_id_coroutine
	local sleep_session = internal.sleep_session
	local wakeup_queue = internal.wakeup_queue
	local running_thread = internal.running_thread
	local suspend = internal.suspend
	local coroutine_resume = internal.coroutine_resume
	-- skynet.lua's own `exited` and `tracing`, which change: bind joins them below
	local exited, tracing

	local function suspend_sleep(session, token)
		local co = running_thread()
		if tracing then
			tracing("sleep", co)
		end
		session_id_coroutine[session] = co
		sleep_session[token] = session
		return coroutine_yield "SUSPEND"
	end

	-- What skynet.lua runs after a message while tokens are queued (sleeping is its
	-- sleep_session).
	local function dispatch_wakeup(sleeping)
		while not exited do
			local token = table_remove(wakeup_queue, 1)
			if token == nil then
				return
			end
			local session = sleeping[token]
			if session then
				local co = session_id_coroutine[session]
				if tracing then
					tracing("resume", co)
				end
				session_id_coroutine[session] = "BREAK"
				suspend(co, coroutine_resume(co, false, "BREAK", nil, session))
			end
		end
	end

	internal.bind(suspend_sleep)
	internal.bind(dispatch_wakeup)
	internal.set("dispatch_wakeup", dispatch_wakeup)

	function skynet.sleep(ti, token)
		local session = c.timeout(ti)
		token = token or coroutine_running()
		local succ, ret = suspend_sleep(session, token)
		sleep_session[token] = nil
		if succ then
			return
		end
		if ret == "BREAK" then
			return "BREAK"
		end
		error(ret)
	end

	function skynet.wait(token)
		local session = c.genid()
		token = token or coroutine_running()
		suspend_sleep(session, token)
		sleep_session[token] = nil
		session_id_coroutine[session] = nil
	end
end
