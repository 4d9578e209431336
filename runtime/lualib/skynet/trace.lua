-- skynet.trace: following one request through every service it touches, in skynet's log
-- format. Loaded by skynet.lua on first use of the trace API, or when a PTYPE_TRACE
-- message arrives (another service is tracing a call to this one).
--
-- skynet.trace() tags the running coroutine (`:%08x-N`, this service and a counter). While
-- tagged, skynet.lua reports what the coroutine does to `tracing` below, which logs
--   <TRACE tag> <monotonic ns> <event>[ : @file:line @file:line @file:line]
-- for trace, call, request, sleep, resume, response, error and end. A call from a tagged
-- coroutine first sends the tag as a PTYPE_TRACE message, so the callee tags the
-- coroutine that serves the request and logs under the same tag.

local type, tostring, assert = type, tostring, assert
local getinfo, traceback = debug.getinfo, debug.traceback
local string_format = string.format
local table_concat = table.concat

local PTYPE_TRACE = 12
local FRAMES = 3 -- call sites a trace line shows, as skynet's

return function(skynet, internal)
	local c = internal.core
	local csend = internal.send
	local proto = internal.proto
	local running_thread = internal.running_thread
	local command = c.command

	-- coroutine -> its tag, or false when its protocol forces tracing off
	local session_coroutine_tracetag = setmetatable({}, { __mode = "k" })
	local tags = session_coroutine_tracetag
	-- source -> the tag its next request carries
	local trace_source = {}
	local traceid = 0

	-- skynet.tracelog(tag, text [, level]): one trace line; with a level, the call sites
	-- from that stack level up (1: the function calling tracelog).
	local function tracelog(tag, user, level)
		tag, user = tostring(tag), tostring(user)
		local now = command("HPC")
		if level == nil then
			c.error(string_format("<TRACE %s> %d %s", tag, now, user))
			return
		end
		local sites = {}
		level = level + 1 -- this function's own frame
		while #sites < FRAMES do
			local info = getinfo(level, "Sl")
			if info == nil then
				break
			end
			if info.currentline >= 0 then
				sites[#sites + 1] = info.source .. ":" .. info.currentline
			end
			level = level + 1
		end
		c.error(string_format("<TRACE %s> %d %s : %s", tag, now, user, table_concat(sites, " ")))
	end
	skynet.tracelog = tracelog

	function skynet.trace(info)
		local co = running_thread()
		skynet.error("TRACE", tags[co])
		if tags[co] == false then
			return -- its protocol forces tracing off
		end
		traceid = traceid + 1
		local tag = string_format(":%08x-%d", c.handle, traceid)
		tags[co] = tag
		tracelog(tag, info and ("trace " .. tostring(info)) or "trace")
	end

	function skynet.tracetag()
		return tags[running_thread()]
	end

	-- true: trace every request of this protocol; false: never; nil: as asked (skynet.trace)
	function skynet.traceproto(prototype, flag)
		local p = assert(proto[prototype])
		p.trace = flag
	end

	-- A raw call that carries a tag the caller chose.
	function skynet.tracecall(tag, addr, typename, msg, sz)
		tracelog(tag, "tracecall begin")
		csend(addr, PTYPE_TRACE, 0, tag)
		local p = proto[typename]
		local session = assert(csend(addr, p.id, nil, msg), "call to invalid address")
		local rmsg, rsz = internal.yield_call(addr, session)
		tracelog(tag, "tracecall end")
		return rmsg, rsz
	end

	-- What skynet.lua reports at its trace points (levels count from this function).
	local EVENTS = {}

	function EVENTS.call(addr, level)
		local tag = tags[running_thread()]
		if tag then
			tracelog(tag, "call", level or 3)
			csend(addr, PTYPE_TRACE, 0, tag)
		end
	end

	function EVENTS.sleep(co)
		local tag = tags[co]
		if tag then
			tracelog(tag, "sleep", 3)
		end
	end

	function EVENTS.resume(co)
		local tag = tags[co]
		if tag then
			tracelog(tag, "resume")
		end
	end

	function EVENTS.response(co)
		local tag = tags[co]
		if tag then
			tracelog(tag, "response")
		end
	end

	function EVENTS.fail(co, session)
		local tag = tags[co]
		if tag and session and session ~= 0 then
			tracelog(tag, "error")
		end
		tags[co] = nil
	end

	-- "end": the coroutine finished; a dispatch coroutine goes on to other requests, so
	-- its tag goes with the request.
	function EVENTS.finish(co)
		local tag = tags[co]
		if tag ~= nil then
			if tag then
				tracelog(tag, "end")
			end
			tags[co] = nil
		end
	end
	EVENTS["end"] = EVENTS.finish

	function EVENTS.request(co, source, p)
		local flag = p.trace
		if flag == false then
			trace_source[source] = nil
			tags[co] = false
			return
		end
		local tag = trace_source[source]
		if tag then
			trace_source[source] = nil
			tracelog(tag, "request")
			tags[co] = tag
		elseif flag then
			skynet.trace()
		end
	end

	-- A PTYPE_TRACE message: the next request from source carries this tag.
	function EVENTS.source(source, msg)
		trace_source[source] = msg
	end

	internal.set("tracing", function(event, ...)
		return EVENTS[event](...)
	end)

	-- skynet.trace_timeout(true): every skynet.timeout remembers where it was set, and
	-- skynet.task shows that instead of the timer's stack, until the timer fires.
	local timeout_traceback
	local plain_timeout = skynet.timeout
	function skynet.trace_timeout(on)
		if on then
			timeout_traceback = timeout_traceback or setmetatable({}, { __mode = "k" })
			internal.timeout_traceback = timeout_traceback
			skynet.timeout = function(ti, func)
				local co
				co = plain_timeout(ti, function()
					timeout_traceback[co] = nil
					func()
				end)
				timeout_traceback[co] = traceback(string_format("TIMER %d+%d : ", skynet.now(), ti), 2)
				return co
			end
		else
			timeout_traceback = nil
			internal.timeout_traceback = nil
			skynet.timeout = plain_timeout
		end
	end
end
