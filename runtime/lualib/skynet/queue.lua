-- skynet.queue: a critical section. Functions passed to one queue run one at a time in
-- the order they asked, even when they block (call, sleep) in the middle; a coroutine
-- already inside may enter again (re-entrant), so nested use cannot deadlock.
local skynet = require "skynet"

local coroutine_running = coroutine.running
local table_remove = table.remove
local xpcall, traceback, error = xpcall, debug.traceback, error

local function queue()
	local current_thread
	local ref = 0
	local thread_queue = {}

	local function leave(ok, ...)
		ref = ref - 1
		if ref == 0 then
			current_thread = table_remove(thread_queue, 1)
			if current_thread then
				skynet.wakeup(current_thread)
			end
		end
		if not ok then
			error((...), 0)
		end
		return ...
	end

	return function(f, ...)
		local thread = coroutine_running()
		if current_thread and current_thread ~= thread then
			thread_queue[#thread_queue + 1] = thread
			skynet.wait(thread)
			assert(ref == 0)
		end
		current_thread = thread
		ref = ref + 1
		return leave(xpcall(f, traceback, ...))
	end
end

skynet.queue = queue
return queue
