-- skynet.profile: the CPU time a coroutine runs, leaving out the time it is suspended.
--
--   profile.start([co]) ... profile.stop([co]) -> seconds (a float)
--
-- skynet builds this into every service and makes coroutine.resume / wrap its timing
-- versions; here the module does so when first required (skynet.lua's own resume too, so
-- the coroutines skynet resumes are timed). The clock is the worker thread's CPU time, as
-- in skynet; every interval is measured within one delivery, so on one thread.

local c = require "skynet.core"
local command = c.command
local type, error, rawget, tostring, setmetatable = type, error, rawget, tostring, setmetatable
local coroutine = coroutine
local plain_resume, coroutine_running, coroutine_close =
	coroutine.resume, coroutine.running, coroutine.close
local string_format = string.format

local profile = {}

local weak = { __mode = "kv" }
local start_time = setmetatable({}, weak) -- thread -> when it last started running
local total_time = setmetatable({}, weak) -- thread -> time it ran before that

local function now()
	return command("THREADTIME")
end

local function thread_arg(fname, co)
	if co == nil then
		return coroutine_running()
	elseif type(co) ~= "thread" then
		error(string_format("bad argument #1 to 'skynet.profile.%s' (thread expected, got %s)",
			fname, type(co)), 3)
	end
	return co
end

function profile.start(...)
	local co = thread_arg("start", (...))
	if start_time[co] ~= nil then
		error(string_format("Thread %s start profile more than once",
			tostring(co):match("0x%x+") or tostring(co)), 2)
	end
	total_time[co] = 0
	start_time[co] = now()
end

function profile.stop(...)
	local co = thread_arg("stop", (...))
	local started = start_time[co]
	if started == nil then
		error("Call profile.start() before profile.stop()", 2)
	end
	local ti = now() - started + total_time[co]
	start_time[co] = nil
	total_time[co] = nil
	return ti
end

local function account(co, ...)
	local started = start_time[co]
	if started ~= nil then
		total_time[co] = total_time[co] + (now() - started)
	end
	return ...
end

-- coroutine.resume, timed for a thread being profiled
-- (a thread may start profiling while it runs: what it ran counts once it yields)
local function resume(co, ...)
	if type(co) ~= "thread" then
		error(string_format("bad argument #1 to 'skynet.profile.resume' (thread expected, got %s)",
			co == nil and "no value" or type(co)), 2)
	end
	if start_time[co] ~= nil then
		start_time[co] = now()
	end
	return account(co, plain_resume(co, ...))
end
profile.resume = resume

-- coroutine.wrap, resuming with the timed resume
function profile.wrap(f)
	if type(f) ~= "function" then
		error(string_format("bad argument #1 to 'skynet.profile.wrap' (function expected, got %s)",
			f == nil and "no value" or type(f)), 2)
	end
	local co = coroutine.create(f)
	local failed = false
	local function result(ok, ...)
		if ok then
			return ...
		end
		coroutine_close(co)
		failed = true
		error((...), 2)
	end
	return function(...)
		if failed then
			-- what skynet's wrap says when called again after its coroutine failed
			error("attempt to call a string value", 2)
		end
		return result(resume(co, ...))
	end
end

-- As skynet's services have them: every resume is the timed one.
coroutine.resume = resume
coroutine.wrap = profile.wrap
local skynet_loaded = package.loaded.skynet
if skynet_loaded and rawget(skynet_loaded, "dispatch_message") then
	require("skynet.private").set("coroutine_resume", resume)
end

return profile
