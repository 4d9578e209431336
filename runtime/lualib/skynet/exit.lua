-- skynet.exit: the service's last act, in skynet's order. Loaded by skynet.lua on first use.
--
-- Nothing more is dispatched; callers being served get an error; every other suspended
-- coroutine is closed (its to-be-closed variables run); pending skynet.response closures
-- answer false; services this one waits on are told it is gone; the node retires it; and
-- last the coroutine that called exit yields QUIT, which its resumer closes too, so its
-- own to-be-closed variables run after the `KILL self` line, as in skynet.

local pairs, type = pairs, type
local coroutine_status = coroutine.status
local coroutine_close, coroutine_yield = coroutine.close, coroutine.yield

return function(skynet, internal)
	local session_id_coroutine = internal.session_id_coroutine
	local session_coroutine_id = internal.session_coroutine_id
	local session_coroutine_address = internal.session_coroutine_address
	local watching_session = internal.watching_session
	local unresponse = internal.unresponse
	local running_thread = internal.running_thread
	local csend = internal.send
	local c = internal.core
	local PTYPE_ERROR = skynet.PTYPE_ERROR

	function skynet.exit()
		internal.stop_dispatch()
		skynet.send(".launcher", "lua", "REMOVE", c.handle, false)
		-- the callers this service serves learn it is gone
		for co, session in pairs(session_coroutine_id) do
			local address = session_coroutine_address[co]
			if session ~= 0 and address then
				csend(address, PTYPE_ERROR, session, "")
			end
		end
		local me = running_thread()
		for _, co in pairs(session_id_coroutine) do
			if type(co) == "thread" and co ~= me and coroutine_status(co) == "suspended" then
				coroutine_close(co)
			end
		end
		for resp in pairs(unresponse) do
			resp(false)
		end
		-- and so do the services it waits on
		local tmp = {}
		for _, address in pairs(watching_session) do
			tmp[address] = true
		end
		for address in pairs(tmp) do
			csend(address, PTYPE_ERROR, 0, "")
		end
		c.command("EXIT")
		coroutine_yield "QUIT"
	end
end
