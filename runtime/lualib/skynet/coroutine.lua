-- skynet.coroutine: coroutines that may block in skynet (call, sleep) inside them.
--
-- A plain coroutine that calls skynet.call would hand skynet's "SUSPEND" to its own
-- resumer. Here such internal yields pass through to the skynet thread that resumed it
-- (the "root"), and while they wait, status() says "blocked". Only skynetco.yield is
-- seen by the resumer. skynet.lua reads `roots` to know which thread owns a session.
local skynet = require "skynet"

local coroutine = coroutine
local coroutine_resume = coroutine.resume
local coroutine_yield = coroutine.yield
local coroutine_status = coroutine.status
local coroutine_running = coroutine.running
local select, error, setmetatable = select, error, setmetatable

local skynetco = {}
skynetco.isyieldable = coroutine.isyieldable
skynetco.running = coroutine.running
skynetco.close = coroutine.close

-- true: a skynet coroutine; false: blocked in skynet; nil: not ours or dead
local skynet_coroutines = setmetatable({}, { __mode = "kv" })
local roots = skynet.coroutine_roots

function skynetco.create(f)
	local co = coroutine.create(f)
	skynet_coroutines[co] = true
	return co
end

local function unlock(co, ...)
	skynet_coroutines[co] = true
	return ...
end

local function skynet_yielding(co, ...)
	skynet_coroutines[co] = false
	return unlock(co, coroutine_resume(co, coroutine_yield(...)))
end

local function resume(co, ok, ...)
	if not ok then
		return ok, ...
	elseif coroutine_status(co) == "dead" then
		skynet_coroutines[co] = nil
		return true, ...
	elseif (...) == "USER" then
		return true, select(2, ...)
	end
	-- blocked in skynet: raise the yield to our own resumer, then resume co again
	return resume(co, skynet_yielding(co, ...))
end

function skynetco.resume(co, ...)
	local co_status = skynet_coroutines[co]
	if not co_status then
		if co_status == false then
			return false, "cannot resume a skynet coroutine suspend by skynet framework"
		end
		if coroutine_status(co) == "dead" then
			return coroutine_resume(co, ...)
		end
		return false, "cannot resume none skynet coroutine"
	end
	local from = coroutine_running()
	roots[co] = roots[from] or from
	return resume(co, coroutine_resume(co, ...))
end

function skynetco.thread(co)
	co = co or coroutine_running()
	if skynet_coroutines[co] ~= nil then
		return roots[co], false
	end
	return co, true
end

function skynetco.status(co)
	local status = coroutine_status(co)
	if status == "suspended" and skynet_coroutines[co] == false then
		return "blocked"
	end
	return status
end

function skynetco.yield(...)
	return coroutine_yield("USER", ...)
end

local function wrap_co(ok, ...)
	if ok then
		return ...
	end
	error((...), 0)
end

function skynetco.wrap(f)
	local co = skynetco.create(f)
	return function(...)
		return wrap_co(skynetco.resume(co, ...))
	end
end

return skynetco
