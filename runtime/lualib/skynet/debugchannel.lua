-- skynet.debugchannel: what skynet's remote debugger is built on.
--
-- A channel carries the lines typed at a debug console to the service being debugged,
-- which reads them without blocking; here the node holds it (DEBUGCHANNEL, node/shared.py)
-- and it carries the service's printed output back too. sethook is debug.sethook with one
-- difference: a hook that returns true on a line event pauses (yields) the coroutine
-- there, which only a hook written in C may do: the node installs one (node/debughook.py).

local c = require "skynet.core"
local command = c.command
local setmetatable, type, assert = setmetatable, type, assert
local coroutine_running = coroutine.running
local debug_sethook = debug.sethook

local debugchannel = {}

local channel = {}
channel.__index = channel

-- The next line typed, or nil (it never waits).
function channel:read()
	return command("DEBUGCHANNEL", "read", self.handle)
end

function channel:write(line)
	return command("DEBUGCHANNEL", "write", self.handle, line)
end

-- The service being debugged prints here; the console takes it with :take().
function channel:output(text)
	return command("DEBUGCHANNEL", "output", self.handle, text)
end

function channel:take()
	return command("DEBUGCHANNEL", "take", self.handle)
end

-- A new channel and the handle another service connects with.
function debugchannel.create()
	local handle = command("DEBUGCHANNEL", "create")
	return setmetatable({ handle = handle }, channel), handle
end

function debugchannel.connect(handle)
	assert(command("DEBUGCHANNEL", "exists", handle), "Invalid debug channel")
	return setmetatable({ handle = handle }, channel)
end

function debugchannel.release(handle)
	command("DEBUGCHANNEL", "release", handle)
end

----- the pausing hook

local hooks = setmetatable({}, { __mode = "k" }) -- thread -> its hook function
local NAMES = { [0] = "call", "return", "line", "count", "tail call" }

-- What the node's C hook calls: the thread's hook, by tail call, so that inside it level 2
-- is the function that raised the event, as with debug.sethook.
local function dispatcher(event, line)
	local f = hooks[coroutine_running()]
	if f then
		return f(NAMES[event] or event, line >= 0 and line or nil)
	end
end
debug.getregistry()["skynet.debugchannel"] = dispatcher

-- sethook([co,] f, mask) / sethook([co]) to remove it. The hook sees its first event when
-- this returns, as with skynet's C sethook: it is set last.
function debugchannel.sethook(...)
	local co, f, mask
	if type((...)) == "thread" then
		co, f, mask = ...
	else
		co = coroutine_running()
		f, mask = ...
	end
	hooks[co] = nil
	if f == nil then
		debug_sethook(co)
		c.thread_started(co) -- back to the interrupt hook every thread carries
		return
	end
	debug_sethook(co, dispatcher, mask) -- the thread's entry in Lua's hook table
	command("DEBUGHOOK", co, mask)
	hooks[co] = f
end

return debugchannel
