-- The error protocol: a call this service made failed (session n), or a service it
-- depends on went down (session 0). Loaded by skynet.lua on the first error message.

local pairs, type = pairs, type
local table_remove = table.remove

return function(skynet, internal)
	local c = internal.core
	local session_id_coroutine = internal.session_id_coroutine
	local watching_session = internal.watching_session
	local error_queue = internal.error_queue
	local suspend = internal.suspend
	local coroutine_resume = internal.coroutine_resume
	local exited -- skynet.lua's own, which changes: joined below

	-- What skynet.lua runs after a message while failed sessions are queued: each
	-- waiting call returns false.
	local function dispatch_error_queue()
		while not exited do
			local session = table_remove(error_queue, 1)
			if session == nil then
				return
			end
			local co = session_id_coroutine[session]
			session_id_coroutine[session] = nil
			if type(co) == "thread" then
				suspend(co, coroutine_resume(co, false, nil, nil, session))
			end
		end
	end
	internal.set("dispatch_error_queue", internal.bind(dispatch_error_queue))

	local function error_dispatch(error_session, error_source)
		if error_session == 0 then
			local down = c.service_down -- set by skynet.response's module, once loaded
			if down then
				down(error_source)
			end
			for session, srv in pairs(watching_session) do
				if srv == error_source then
					error_queue[#error_queue + 1] = session
				end
			end
		elseif watching_session[error_session] then
			error_queue[#error_queue + 1] = error_session
		end
	end
	internal.proto.error.dispatch = error_dispatch
	return error_dispatch
end
