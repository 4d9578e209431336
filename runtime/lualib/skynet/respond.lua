-- Answering a request later or elsewhere: skynet.response, retpack, context, ignoreret.
-- Loaded by skynet.lua on first use.

local assert, error, pairs = assert, error, pairs

return function(skynet, internal)
	local session_coroutine_id = internal.session_coroutine_id
	local session_coroutine_address = internal.session_coroutine_address
	local unresponse = internal.unresponse
	local running_thread = internal.running_thread
	local csend = internal.send
	local c = internal.core
	local PTYPE_RESPONSE, PTYPE_ERROR = skynet.PTYPE_RESPONSE, skynet.PTYPE_ERROR

	function skynet.retpack(...)
		return skynet.ret(skynet.pack(...))
	end

	function skynet.context()
		local co = running_thread()
		return session_coroutine_id[co], session_coroutine_address[co]
	end

	function skynet.ignoreret()
		session_coroutine_id[running_thread()] = nil
	end

	local function noop() end

	-- A one-shot answer for the current request: call it with true and results, or false.
	-- `resp("TEST")` says whether it is still owed. It is owed until it is called, the
	-- service exits (false is sent) or the requester goes down (nothing is sent).
	function skynet.response(pack)
		pack = pack or skynet.pack
		local co = running_thread()
		local session = assert(session_coroutine_id[co], "no session")
		session_coroutine_id[co] = nil
		local address = session_coroutine_address[co]
		if session == 0 then
			return noop -- a send wants no answer
		end
		local function response(ok, ...)
			if ok == "TEST" then
				return unresponse[response] ~= nil
			end
			if not pack then
				error "Can't response more than once"
			end
			local ret = false
			if unresponse[response] then
				if ok then
					ret = csend(address, PTYPE_RESPONSE, session, pack(...)) ~= nil
				else
					ret = csend(address, PTYPE_ERROR, session, "") ~= nil
				end
				unresponse[response] = nil
			end
			pack = nil
			return ret
		end
		unresponse[response] = address
		return response
	end

	-- skynet.lua's error dispatch tells this when a service is down: what is owed to it
	-- will never be sent.
	function c.service_down(address)
		for resp, owed in pairs(unresponse) do
			if owed == address then
				unresponse[resp] = nil
			end
		end
	end
end
