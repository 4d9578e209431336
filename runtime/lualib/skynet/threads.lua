-- skynet.killthread, skynet.task, skynet.uniqtask: looking at and stopping a service's
-- suspended coroutines, in skynet's shapes. Loaded by skynet.lua on first use.

local tostring, type, pairs, rawget = tostring, type, pairs, rawget
local traceback = debug.traceback
local coroutine_close = coroutine.close
local string_format = string.format
local table_move, table_concat = table.move, table.concat
local PTYPE_ERROR = 7

return function(skynet, internal)
	local session_id_coroutine = internal.session_id_coroutine
	local session_coroutine_id = internal.session_coroutine_id
	local session_coroutine_address = internal.session_coroutine_address
	local sleep_session = internal.sleep_session
	local watching_session = internal.watching_session
	local csend = internal.send

	-- A coroutine (or a string found in its name) that waits; a forked one not started
	-- yet leaves the fork queue. Returns it, or nothing if there is no such thread.
	function skynet.killthread(thread)
		local session
		if type(thread) == "string" then
			for k, v in pairs(session_id_coroutine) do
				if tostring(v):find(thread) then
					session = k
					break
				end
			end
		else
			local q = internal.fork_queue
			local t = q.t
			for i = q.h, t do
				if q[i] == thread then
					table_move(q, i + 1, t, i)
					q[t] = nil
					q.t = t - 1
					return thread
				end
			end
			for k, v in pairs(session_id_coroutine) do
				if v == thread then
					session = k
					break
				end
			end
		end
		local co = session_id_coroutine[session]
		if co == nil then
			return
		end
		local addr = session_coroutine_address[co]
		if addr then
			session_coroutine_address[co] = nil
			local s = session_coroutine_id[co]
			if s and s > 0 then
				csend(addr, PTYPE_ERROR, s, "")
			end
			session_coroutine_id[co] = nil
		end
		if watching_session[session] then
			session_id_coroutine[session] = "BREAK"
			watching_session[session] = nil
		else
			session_id_coroutine[session] = nil
		end
		for k, v in pairs(sleep_session) do
			if v == session then
				sleep_session[k] = nil
				break
			end
		end
		if type(co) == "thread" then
			coroutine_close(co)
		end
		return co
	end

	local function task_traceback(co)
		if co == "BREAK" then
			return co
		end
		local timers = rawget(internal, "timeout_traceback") -- skynet.trace_timeout's
		if timers and timers[co] then
			return timers[co]
		end
		return traceback(co)
	end

	-- nil: how many; "init": where the start function waits; a table: filled with
	-- "thread session: N" -> traceback; a session: its traceback; a thread: its session.
	function skynet.task(ret)
		if ret == nil then
			local n = 0
			for _, co in pairs(session_id_coroutine) do
				if co ~= "BREAK" then
					n = n + 1
				end
			end
			return n
		end
		if ret == "init" then
			local init_thread = internal.init_thread
			if init_thread then
				return traceback(init_thread)
			end
			return
		end
		local tt = type(ret)
		if tt == "table" then
			for session, co in pairs(session_id_coroutine) do
				ret[string_format("%s session: %d", tostring(co), session)] = task_traceback(co)
			end
			return
		elseif tt == "number" then
			local co = session_id_coroutine[ret]
			if co then
				return task_traceback(co)
			end
			return "No session"
		elseif tt == "thread" then
			for session, co in pairs(session_id_coroutine) do
				if co == ret then
					return session
				end
			end
		end
	end

	-- "count\tsessions:[s1,s2...]\n" -> traceback, one entry per distinct traceback
	function skynet.uniqtask()
		local stacks = {}
		for session, co in pairs(session_id_coroutine) do
			local stack = task_traceback(co)
			local info = stacks[stack] or { count = 0, sessions = {} }
			info.count = info.count + 1
			if info.count < 10 then
				info.sessions[#info.sessions + 1] = session
			end
			stacks[stack] = info
		end
		local ret = {}
		for stack, info in pairs(stacks) do
			local sessions = table_concat(info.sessions, ",")
			if info.count > 10 then
				sessions = sessions .. "..."
			end
			ret[string_format("%d\tsessions:[%s]\n", info.count, sessions)] = stack
		end
		return ret
	end
end
