-- Answering a request later or elsewhere: skynet.response, retpack, context, ignoreret.
-- Loaded by skynet.lua on first use.

local error = error

return function(skynet, internal)
	local session_coroutine_id = internal.session_coroutine_id
	local session_coroutine_address = internal.session_coroutine_address
	local unresponse = internal.unresponse
	local running_thread = internal.running_thread
	local csend = internal.send
	local default_pack = skynet.pack
	local PTYPE_RESPONSE, PTYPE_ERROR = skynet.PTYPE_RESPONSE, skynet.PTYPE_ERROR

	function skynet.retpack(...)
		return skynet.ret(default_pack(...))
	end

	function skynet.context()
		local co = running_thread()
		return session_coroutine_id[co], session_coroutine_address[co]
	end

	function skynet.ignoreret(session)
		session_coroutine_id[running_thread()] = nil
	end

	-- A one-shot answer for the current request: call it with true and results, or false.
	-- skynet.exit answers every one still pending with false.
	function skynet.response(pack)
		pack = pack or default_pack
		local co = running_thread()
		local session = session_coroutine_id[co]
		if session == nil then
			error "No session"
		end
		local address = session_coroutine_address[co]
		session_coroutine_id[co] = nil
		local done = false
		local function response(ok, ...)
			if ok == "TEST" then
				return not done
			end
			if done then
				error "Can't response more than once"
			end
			done = true
			unresponse[response] = nil
			if session == 0 then
				return false
			end
			if ok then
				return csend(address, PTYPE_RESPONSE, session, pack(...)) ~= nil
			end
			return csend(address, PTYPE_ERROR, session, "") ~= nil
		end
		unresponse[response] = address
		return response
	end
end
