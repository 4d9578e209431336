-- Messages below the protocol layer: raw send and call, redirect, session ids, address
-- parts, and the hooks for messages nobody expects. Loaded by skynet.lua on first use.

local assert, error, tostring = assert, error, tostring
local string_format = string.format

return function(skynet, internal)
	local proto = internal.proto
	local c = internal.core
	local csend = internal.send
	local yield_call = internal.yield_call
	local set_unknown = internal.set_unknown

	function skynet.rawsend(addr, typename, msg, sz)
		local p = proto[typename]
		return csend(addr, p.id, 0, msg)
	end

	function skynet.rawcall(addr, typename, msg, sz)
		local tracing = internal.tracing
		if tracing then
			tracing("call", addr)
		end
		local p = proto[typename]
		local session = assert(csend(addr, p.id, nil, msg), "call to invalid address")
		return yield_call(addr, session)
	end

	-- A frame of the outbox, like a send (a gate redirects every packet it forwards).
	function skynet.redirect(dest, source, typename, session, msg, sz)
		dest = c.resolve(dest)
		if dest == nil then
			return nil
		end
		c.redirect(dest, source, proto[typename].id, session, msg or "")
		return session
	end

	function skynet.tostring(msg, sz)
		return msg
	end

	function skynet.trash(msg, sz) end

	function skynet.genid()
		return c.genid()
	end

	-- The harbor id of an address, and whether it is on another node (never, standalone).
	function skynet.harbor(addr)
		local harbor = addr >> 24
		return harbor, harbor ~= 0 and harbor ~= c.handle >> 24
	end

	-- As if `service` had gone down: what skynet does when told a service is gone.
	function skynet.term(service)
		return internal.raw_dispatch(service, skynet.PTYPE_ERROR, 0, "")
	end

	-- skynet's answers to a message nobody expects, unless the service set its own
	if internal.unknown_request == nil then
		internal.set("unknown_request", function(session, address, msg, sz, prototype)
			c.error(string_format("Unknown request (%s): %s", prototype, tostring(msg)))
			error(string_format("Unknown session : %d from %x", session, address))
		end)
	end
	if internal.unknown_response == nil then
		internal.set("unknown_response", function(session, address, msg, sz)
			c.error(string_format("Response message : %s", tostring(msg)))
			error(string_format("Unknown session : %d from %x", session, address))
		end)
	end

	function skynet.dispatch_unknown_request(unknown)
		return set_unknown("request", unknown)
	end

	function skynet.dispatch_unknown_response(unknown)
		return set_unknown("response", unknown)
	end
end
