-- skynet.killthread, skynet.task, skynet.uniqtask: looking at and stopping a service's
-- suspended coroutines. Loaded by skynet.lua on first use.

local tostring, type, pairs = tostring, type, pairs
local traceback = debug.traceback
local coroutine_create, coroutine_close = coroutine.create, coroutine.close
local PTYPE_ERROR = 7

return function(skynet, internal)
	local session_id_coroutine = internal.session_id_coroutine
	local session_coroutine_id = internal.session_coroutine_id
	local session_coroutine_address = internal.session_coroutine_address
	local sleep_session = internal.sleep_session
	local watching_session = internal.watching_session
	local csend = internal.send

	function skynet.killthread(co)
		local session
		for k, v in pairs(session_id_coroutine) do
			if v == co then
				session = k
				break
			end
		end
		if type(co) == "string" then
			for k, v in pairs(session_id_coroutine) do
				if type(v) == "thread" and tostring(v) == co then
					session, co = k, v
					break
				end
			end
		end
		local q = internal.fork_queue
		for i = q.h, q.t do
			if q[i] == co then
				q[i] = coroutine_create(function() end)
			end
		end
		if type(co) ~= "thread" or (session == nil and coroutine.status(co) ~= "suspended") then
			return
		end
		if session then
			session_id_coroutine[session] = "BREAK"
			watching_session[session] = nil
		end
		for token, s in pairs(sleep_session) do
			if s == session then
				sleep_session[token] = nil
			end
		end
		local addr = session_coroutine_address[co]
		if addr then
			local s = session_coroutine_id[co]
			if s and s ~= 0 then
				csend(addr, PTYPE_ERROR, s, "")
			end
			session_coroutine_id[co] = nil
			session_coroutine_address[co] = nil
		end
		coroutine_close(co)
		return co
	end

	-- Every suspended coroutine with what it waits for: the debug TASK command's view.
	function skynet.task(ret)
		if ret == nil then
			local n = 0
			for _, co in pairs(session_id_coroutine) do
				if type(co) == "thread" then
					n = n + 1
				end
			end
			return n
		end
		if type(ret) == "table" then
			for session, co in pairs(session_id_coroutine) do
				if type(co) == "thread" then
					ret[session] = traceback(co)
				end
			end
			return
		end
		if type(ret) == "number" then
			local co = session_id_coroutine[ret]
			if type(co) == "thread" then
				return traceback(co)
			end
			return "No session"
		end
		if type(ret) == "thread" then
			for session, co in pairs(session_id_coroutine) do
				if co == ret then
					return session
				end
			end
		end
	end

	function skynet.uniqtask()
		local stacks = {}
		for session, co in pairs(session_id_coroutine) do
			if type(co) == "thread" then
				local key = traceback(co)
				key = key:gsub("(stack traceback:\n)", "%1")
				local s = stacks[key]
				if s == nil then
					s = { n = 0, sessions = {} }
					stacks[key] = s
				end
				s.n = s.n + 1
				s.sessions[#s.sessions + 1] = session
			end
		end
		return stacks
	end
end
