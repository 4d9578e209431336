-- sharedatad: the owner of every sharedata object. Data is kept packed (skynet.pack):
-- readers unpack their own copy and wait here (MONITOR) for the next version.
local skynet = require "skynet"

local pool = {} -- name -> { version = n, data = packed string, waiting = { co... } }
local CMD = {}

local env_mt = { __index = _ENV }

local function build(name, value, ...)
	local t = type(value)
	if t == "table" then
		return value
	elseif t == "string" then
		local env = setmetatable({}, env_mt)
		local f
		if value:sub(1, 1) == "@" then
			f = assert(loadfile(value:sub(2), "bt", env))
		else
			f = assert(load(value, "=" .. name, "bt", env))
		end
		local ret = f(...)
		setmetatable(env, nil)
		if type(ret) == "table" then
			return ret
		end
		return env
	elseif t == "nil" then
		return {}
	end
	error("Unknown data type " .. t)
end

local function wake(obj)
	local waiting = obj.waiting
	obj.waiting = {}
	for _, resp in ipairs(waiting) do
		resp(true, obj.version, obj.data)
	end
end

function CMD.new(name, value, ...)
	assert(pool[name] == nil, "sharedata " .. tostring(name) .. " already exists")
	pool[name] = { version = 1, data = skynet.pack(build(name, value, ...)), waiting = {} }
end

function CMD.update(name, value, ...)
	local obj = assert(pool[name], "sharedata " .. tostring(name) .. " does not exist")
	obj.version = obj.version + 1
	obj.data = skynet.pack(build(name, value, ...))
	wake(obj)
	return obj.version
end

function CMD.delete(name)
	local obj = pool[name]
	if obj then
		pool[name] = nil
		obj.version, obj.data = nil, nil
		wake(obj)
	end
end

function CMD.query(name)
	local obj = assert(pool[name], "sharedata " .. tostring(name) .. " does not exist")
	return obj.version, obj.data
end

-- Answered when the object's version is newer than `version` (nil: it was deleted).
function CMD.monitor(name, version)
	local obj = pool[name]
	if obj == nil then
		return nil
	end
	return obj.version, obj.data -- (an equal version waits: see the dispatch below)
end

function CMD.list()
	local t = {}
	for name, obj in pairs(pool) do
		t[name] = obj.version
	end
	return t
end

skynet.start(function()
	skynet.dispatch("lua", function(session, source, cmd, ...)
		local f = assert(CMD[cmd], cmd)
		if cmd == "monitor" then
			local obj = pool[(...)]
			if obj and obj.version == select(2, ...) then
				obj.waiting[#obj.waiting + 1] = skynet.response()
				return
			end
		end
		skynet.retpack(f(...))
	end)
end)
