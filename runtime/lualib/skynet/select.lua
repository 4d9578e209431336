-- skynet.request / select: several calls in parallel, answers taken as they arrive.
-- Loaded by skynet.lua on first use.
--
--   local r = skynet.request { addr, "lua", ... } { addr2, "lua", ... }   -- or r:add{...}
--   for req, resp in r:select(timeout) do ... end
--
-- As skynet's: resp is the unpacked answer (a table.pack), false when the request failed;
-- a request to an address that does not exist comes first, with no resp. A timeout
-- (centiseconds) ends the loop early and sets r.timeout. The request object is the
-- token the loop waits on, and a to-be-closed value: closing it (or r:close()) drops the
-- answers not taken yet.

local type, assert, next, pairs, setmetatable = type, assert, next, pairs, setmetatable
local table_pack, table_unpack, table_remove = table.pack, table.unpack, table.remove
local coroutine_create, coroutine_resume, coroutine_yield =
	coroutine.create, coroutine.resume, coroutine.yield

return function(skynet, internal)
	local proto = internal.proto
	local session_id_coroutine = internal.session_id_coroutine
	local watching_session = internal.watching_session
	local csend = internal.send
	local c = internal.core

	local function send_requests(self)
		local sessions = {}
		self._sessions = sessions
		local request_n = 0
		local err
		local tracing = internal.tracing
		for i = 1, #self do
			local req = self[i]
			local addr = req[1]
			local p = proto[req[2]]
			assert(p.unpack)
			if tracing then
				tracing("call", addr, 5)
			end
			local session = csend(addr, p.id, nil, p.pack(table_unpack(req, 3, req.n)))
			if session == nil then
				err = err or {}
				err[#err + 1] = req
			else
				sessions[session] = req
				watching_session[session] = addr
				session_id_coroutine[session] = self._thread
				request_n = request_n + 1
			end
		end
		self._request = request_n
		return err
	end

	-- The coroutine every answer (and the timeout) resumes: it files the answer and wakes
	-- the loop.
	local function request_thread(self)
		while true do
			local succ, msg, _, session = coroutine_yield "SUSPEND"
			if session == self._timeout then
				self._timeout = nil
				self.timeout = true
			else
				watching_session[session] = nil
				local req = self._sessions[session]
				local p = proto[req[2]]
				if succ then
					self._resp[session] = table_pack(p.unpack(msg, #msg))
				else
					self._resp[session] = false
				end
			end
			skynet.wakeup(self)
		end
	end

	local function request_iter(self)
		return function()
			if self._error then
				local e = table_remove(self._error)
				if e then
					return e
				end
				self._error = nil
			end
			local session, resp = next(self._resp)
			if session == nil then
				if self._request == 0 or self.timeout then
					return
				end
				skynet.wait(self)
				if self.timeout then
					return
				end
				session, resp = next(self._resp)
			end
			self._request = self._request - 1
			local req = self._sessions[session]
			self._resp[session] = nil
			self._sessions[session] = nil
			return req, resp
		end
	end

	local request_meta = {}
	request_meta.__index = request_meta

	function request_meta:add(obj)
		assert(type(obj) == "table" and not self._thread)
		self[#self + 1] = obj
		return self
	end

	request_meta.__call = request_meta.add

	function request_meta:close()
		if self._request > 0 then
			local resp = self._resp
			for session in pairs(self._sessions) do
				if not resp[session] then
					session_id_coroutine[session] = "BREAK"
					watching_session[session] = nil
				end
			end
			self._request = 0
		end
		if self._timeout then
			session_id_coroutine[self._timeout] = "BREAK"
			self._timeout = nil
		end
	end

	request_meta.__close = request_meta.close

	function request_meta:select(timeout)
		assert(self._thread == nil)
		local thread = coroutine_create(request_thread)
		self._thread = thread
		self._error = send_requests(self)
		self._resp = {}
		if timeout then
			self._timeout = c.timeout(timeout)
			session_id_coroutine[self._timeout] = thread
		end
		coroutine_resume(thread, self)
		return request_iter(self), nil, nil, self
	end

	function skynet.request(obj)
		local ret = setmetatable({}, request_meta)
		if obj then
			return ret(obj)
		end
		return ret
	end
end
