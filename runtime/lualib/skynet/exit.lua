-- skynet.exit: the service's last act. Loaded by skynet.lua on first use.

local pairs, type = pairs, type
local coroutine_running, coroutine_status = coroutine.running, coroutine.status
local coroutine_close, coroutine_yield = coroutine.close, coroutine.yield

return function(skynet, internal)
	local session_id_coroutine = internal.session_id_coroutine
	local session_coroutine_id = internal.session_coroutine_id
	local session_coroutine_address = internal.session_coroutine_address
	local watching_session = internal.watching_session
	local unresponse = internal.unresponse
	local csend = internal.send
	local c = internal.core
	local PTYPE_ERROR = skynet.PTYPE_ERROR

	function skynet.exit()
		internal.stop_dispatch()
		skynet.send(".launcher", "lua", "REMOVE", c.handle, false)
		-- whoever waits on this service learns it is gone
		for co, session in pairs(session_coroutine_id) do
			local address = session_coroutine_address[co]
			if session ~= 0 and address then
				csend(address, PTYPE_ERROR, session, "")
			end
		end
		for resp in pairs(unresponse) do
			resp(false)
		end
		local tmp = {}
		for _, address in pairs(watching_session) do
			tmp[address] = true
		end
		for address in pairs(tmp) do
			csend(address, PTYPE_ERROR, 0, "")
		end
		-- Close every other coroutine so their to-be-closed variables run.
		local me = coroutine_running()
		local closing = {}
		for _, co in pairs(session_id_coroutine) do
			if type(co) == "thread" and co ~= me then
				closing[co] = true
			end
		end
		for co in pairs(session_coroutine_id) do
			if co ~= me then
				closing[co] = true
			end
		end
		for co in pairs(closing) do
			if coroutine_status(co) == "suspended" then
				coroutine_close(co)
			end
		end
		c.command("EXIT")
		coroutine_yield "QUIT"
	end
end
