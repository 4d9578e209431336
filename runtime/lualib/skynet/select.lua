-- skynet.request / select: several calls in parallel, answers taken as they arrive.
-- Loaded by skynet.lua on first use.

local type, pairs, error, assert, setmetatable = type, pairs, error, assert, setmetatable
local string_format = string.format
local table_pack, table_unpack = table.pack, table.unpack
local coroutine_running = coroutine.running

return function(skynet, internal)
	local proto = internal.proto
	local session_id_coroutine = internal.session_id_coroutine
	local watching_session = internal.watching_session
	local co_create = internal.co_create
	local csend = internal.send

	local request_meta = {}
	request_meta.__index = request_meta

	function skynet.request(obj)
		local r = setmetatable({}, request_meta)
		if obj then
			for i = 1, #obj do
				r:add(obj[i])
			end
		end
		return r
	end

	function request_meta:add(req)
		assert(type(req) == "table" and req[1] and req[2], "request is { address, typename, ... }")
		self[#self + 1] = req
		return self
	end
	request_meta.__call = request_meta.add

	function request_meta:close()
		for session in pairs(self._sessions or {}) do
			session_id_coroutine[session] = "BREAK"
			watching_session[session] = nil
		end
		self._sessions = {}
	end

	-- Iterates (req, resp) as answers arrive; resp is the packed results. Requests that fail
	-- are collected and raised as one error when the iteration ends; a timeout (centiseconds)
	-- ends it early with self.timeout = true.
	function request_meta:select(timeout)
		local me = coroutine_running()
		local sessions, answers, failed = {}, {}, {}
		self._sessions = sessions
		for i = 1, #self do
			local req = self[i]
			local p = proto[req[2]]
			local session = csend(req[1], p.id, nil, p.pack(table_unpack(req, 3, req.n or #req)))
			if session == nil then
				failed[#failed + 1] = req
			else
				sessions[session] = req
			end
		end
		local waiting = 0
		for session, req in pairs(sessions) do
			waiting = waiting + 1
			watching_session[session] = req[1]
			session_id_coroutine[session] = co_create(function(succ, msg)
				watching_session[session] = nil
				sessions[session] = nil
				local p = proto[req[2]]
				if succ then
					answers[#answers + 1] = { req, table_pack(p.unpack(msg, #msg)) }
				else
					failed[#failed + 1] = req
				end
				waiting = waiting - 1
				skynet.wakeup(me)
			end)
		end
		local timer
		if timeout then
			timer = skynet.timeout(timeout, function()
				self.timeout = true
				skynet.wakeup(me)
			end)
		end
		local next_answer = 1
		return function()
			while true do
				local a = answers[next_answer]
				if a then
					next_answer = next_answer + 1
					return a[1], a[2]
				end
				if waiting == 0 or self.timeout then
					if timer and not self.timeout then
						skynet.killthread(timer)
					end
					self:close()
					if failed[1] then
						error(setmetatable({ requests = failed }, {
							__tostring = function(e)
								return string_format("request failed: %d of %d", #e.requests, #self)
							end,
						}))
					end
					return nil
				end
				skynet.wait(me)
			end
		end
	end
end
