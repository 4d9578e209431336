-- skynet.mqueue: a service that serves the `queue` protocol (PTYPE_QUEUE) one message at
-- a time, in arrival order, in one coroutine. skynet keeps it for old code and points new
-- code to skynet.queue; so does this one.
--
--   mqueue.register(function(...) ... return results end)   -- in the service
--   mqueue.call(addr, ...) / mqueue.send(addr, ...)          -- from others

local skynet = require "skynet"
local c = require "skynet.core"

local table_remove, table_unpack = table.remove, table.unpack
local pcall, error, assert = pcall, error, assert
local string_format = string.format

local mqueue = {}
local registered = false
local waiting -- the dispatch coroutine, while the queue is empty
local message_queue = {}

skynet.register_protocol {
	name = "queue",
	id = skynet.PTYPE_QUEUE,
	pack = skynet.pack,
	unpack = skynet.unpack,
	dispatch = function(session, from, ...)
		-- answered later by the dispatch coroutine; like skynet's, this handler does not
		-- say so (skynet.ignoreret), hence "Maybe forgot response" for every call
		message_queue[#message_queue + 1] = { session = session, addr = from, ... }
		if waiting then
			skynet.wakeup(waiting)
			waiting = nil
		end
	end,
}

local function serve(f, msg)
	return pcall(f, table_unpack(msg))
end

local function message_dispatch(f)
	while true do
		if #message_queue == 0 then
			waiting = coroutine.running()
			skynet.wait()
		else
			local msg = table_remove(message_queue, 1)
			if msg.session == 0 then
				local ok, ret = serve(f, msg)
				if ok then
					if ret then
						skynet.fork(message_dispatch, f)
						error(string_format("[:%x] send a message to [:%x] return something",
							msg.addr, skynet.self()))
					end
				else
					skynet.fork(message_dispatch, f)
					error(string_format("[:%x] send a message to [:%x] throw an error : %s",
						msg.addr, skynet.self(), ret))
				end
			else
				-- pcall's results, packed: mqueue.call raises the error on the caller's side
				c.send(msg.addr, skynet.PTYPE_RESPONSE, msg.session, skynet.packstring(serve(f, msg)))
			end
		end
	end
end

function mqueue.register(f)
	assert(not registered)
	registered = true
	skynet.fork(message_dispatch, f)
end

local function catch(ok, ...)
	if ok then
		return ...
	end
	error(...)
end

function mqueue.call(addr, ...)
	return catch(skynet.call(addr, "queue", ...))
end

function mqueue.send(addr, ...)
	return skynet.send(addr, "queue", ...)
end

function mqueue.size()
	return #message_queue
end

return mqueue
