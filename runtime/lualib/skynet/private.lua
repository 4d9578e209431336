-- skynet.lua's private state, for the parts of the API that load on first use.
--
-- Rather than every service carrying an accessor for each of skynet.lua's locals, this
-- finds them by name the way inject's _U does: walking the upvalues of skynet.lua's
-- functions. Reads are live (a local skynet.lua reassigns, like fork_queue, reads as its
-- current value) and writes go to the local itself, seen by every function sharing it.

local skynet = require "skynet"
local type, next, pairs, error, setmetatable = type, next, pairs, error, setmetatable
local getinfo, getupvalue, setupvalue = debug.getinfo, debug.getupvalue, debug.setupvalue
local upvaluejoin = debug.upvaluejoin

local SOURCE = getinfo(1, "S").source:gsub("skynet/private%.lua$", "skynet.lua")

-- The locals the lazily loaded modules use (by skynet.lua's names), found in one walk.
local WANTED = {}
for name in ([[c csend proto session_id_coroutine session_coroutine_id
	session_coroutine_address sleep_session watching_session handler_count command_count
	fork_queue exited co_create running_thread yield_call raw_dispatch_message
	unknown_request unknown_response init_all tracing coroutine_resume init_thread
	wakeup_queue suspend dispatch_wakeup batch batch_pos batch_n init_func
	error_queue dispatch_error_queue]]):gmatch("%S+") do
	WANTED[name] = true
end

-- upvalue name -> a skynet.lua function holding it, and its index there
local holder, index = {}, {}
do
	local seen = {}
	local function walk(f)
		if seen[f] then
			return
		end
		seen[f] = true
		local own = getinfo(f, "S").source == SOURCE
		local i = 1
		while true do
			local name, value = getupvalue(f, i)
			if name == nil then
				return
			end
			if own and WANTED[name] and holder[name] == nil then
				holder[name], index[name] = f, i
			end
			if type(value) == "function" then
				walk(value)
			end
			i = i + 1
		end
	end
	for _, v in next, skynet do
		if type(v) == "function" then
			walk(v)
		end
	end
end

local function locate(name)
	local f = holder[name]
	if f == nil then
		error("skynet.private: no local named " .. name .. " found in skynet.lua", 2)
	end
	return f, index[name]
end

-- what the lazily loaded modules call things -> skynet.lua's local names
local ALIAS = { core = "c", send = "csend", raw_dispatch = "raw_dispatch_message" }

local internal = {
	-- answers still owed by skynet.response closures (only respond and exit use it)
	unresponse = {},
}

function internal.set(name, value)
	local f, i = locate(name)
	setupvalue(f, i, value)
end

-- Join f's upvalues that have the name of a skynet.lua local (and are wanted above) to
-- that local, so f reads it live where a copy taken at load would go stale (`exited`).
function internal.bind(f)
	local i = 1
	while true do
		local name = getupvalue(f, i)
		if name == nil then
			return f
		end
		local g = holder[name]
		if g ~= nil then
			upvaluejoin(f, i, g, index[name])
		end
		i = i + 1
	end
end

-- Requests later in the batch than an exit (or a kill of itself) will never be
-- dispatched: fail them, as the node fails the messages still queued for a dead service.
do
	local batch, batch_pos, batch_n, csend -- skynet.lua's, joined below
	local PTYPE_RESPONSE, PTYPE_ERROR = skynet.PTYPE_RESPONSE, skynet.PTYPE_ERROR
	function internal.fail_rest_of_batch()
		local b = batch
		if b == nil then
			return
		end
		for i = batch_pos, batch_n, 4 do
			local ptype, session = b[i + 1], b[i + 2]
			if session ~= 0 and ptype ~= PTYPE_RESPONSE and ptype ~= PTYPE_ERROR then
				csend(b[i], PTYPE_ERROR, session, "")
			end
		end
		batch_pos = batch_n + 1
	end
	internal.bind(internal.fail_rest_of_batch)
end

-- skynet.exit's first step: nothing more is dispatched.
function internal.stop_dispatch()
	internal.set("exited", true)
	internal.fail_rest_of_batch()
	internal.set("fork_queue", { h = 1, t = 0 })
end

-- What this service is serving, as flat (address, session) pairs, so that a kill can fail
-- its callers instead of leaving them waiting forever (skynet's behaviour without a
-- monitor). skynet.core hands this out as core.inflight.
function internal.inflight()
	local t = {}
	local session_coroutine_address = internal.session_coroutine_address
	for co, session in pairs(internal.session_coroutine_id) do
		local address = session_coroutine_address[co]
		if session ~= 0 and address then
			t[#t + 1] = address
			t[#t + 1] = session
		end
	end
	return t
end

-- skynet.dispatch_unknown_request / response: install f, return the previous one.
function internal.set_unknown(kind, f)
	local name = "unknown_" .. kind
	local prev = internal[name]
	internal.set(name, f)
	return prev
end

return setmetatable(internal, {
	__index = function(_, key)
		local f, i = locate(ALIAS[key] or key)
		local _, value = getupvalue(f, i)
		return value
	end,
})
