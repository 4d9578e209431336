-- skynet.lua's private state, for the parts of the API that load on first use.
--
-- Rather than every service carrying an accessor for each of skynet.lua's locals, this
-- finds them by name the way inject's _U does: walking the upvalues of skynet.lua's
-- functions. Reads are live (a local skynet.lua reassigns, like fork_queue, reads as its
-- current value) and writes go to the local itself, seen by every function sharing it.

local skynet = require "skynet"
local type, next, pairs, error, setmetatable = type, next, pairs, error, setmetatable
local getinfo, getupvalue, setupvalue = debug.getinfo, debug.getupvalue, debug.setupvalue

local SOURCE = getinfo(1, "S").source:gsub("skynet/private%.lua$", "skynet.lua")

-- upvalue name -> a skynet.lua function holding it, and its index there; only the names
-- asked for are kept
local holder, index = {}, {}

local function search(name)
	local seen = {}
	local function walk(f)
		if seen[f] then
			return
		end
		seen[f] = true
		local own = getinfo(f, "S").source == SOURCE
		local i = 1
		while true do
			local upname, value = getupvalue(f, i)
			if upname == nil then
				return
			end
			if own and upname == name then
				return f, i
			end
			if type(value) == "function" then
				local g, j = walk(value)
				if g then
					return g, j
				end
			end
			i = i + 1
		end
	end
	for _, v in next, skynet do
		if type(v) == "function" then
			local f, i = walk(v)
			if f then
				return f, i
			end
		end
	end
end

local function locate(name)
	local f = holder[name]
	if f == nil then
		local i
		f, i = search(name)
		if f == nil then
			error("skynet.private: skynet.lua has no local named " .. name, 2)
		end
		holder[name], index[name] = f, i
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

-- skynet.exit's first step: nothing more is dispatched.
function internal.stop_dispatch()
	internal.set("exited", true)
	internal.core.fail_rest_of_batch()
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
