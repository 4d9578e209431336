-- sharedatad: the owner of every sharedata object. Each version is kept packed
-- (skynet.pack): readers unpack their own copy, and wait here (monitor) for the next.
-- Commands and their errors are skynet's: new refuses an existing name, update makes a
-- missing one, query and delete refuse a missing one.
local skynet = require "skynet"
require("skynet.codecache").mode "OFF" -- data files are read afresh each time, as in skynet

local NORET = {}
local pool = {} -- name -> { version = n, data = packed string, watch = { response... } }

local CMD = {}

local env_mt = { __index = _ENV }

local function build(name, t, ...)
	local dt = type(t)
	if dt == "table" then
		return t
	elseif dt == "string" then
		local value = setmetatable({}, env_mt)
		local f
		if t:sub(1, 1) == "@" then
			f = assert(loadfile(t:sub(2), "bt", value))
		else
			f = assert(load(t, "=" .. name, "bt", value))
		end
		local _, ret = assert(pcall(f, ...))
		setmetatable(value, nil)
		if type(ret) == "table" then
			return ret
		end
		return value
	elseif dt == "nil" then
		return {}
	end
	error("Unknown data type " .. dt)
end

local function newobj(name, value, version)
	assert(pool[name] == nil)
	pool[name] = { version = version or 1, data = skynet.packstring(value), watch = {} }
end

function CMD.new(name, t, ...)
	newobj(name, build(name, t, ...))
end

function CMD.delete(name)
	local v = assert(pool[name])
	pool[name] = nil
	for _, response in pairs(v.watch) do
		response(true) -- no version: the watchers stop watching
	end
end

function CMD.query(name)
	local v = assert(pool[name], name)
	return v.version, v.data
end

function CMD.confirm()
	return NORET -- skynet's readers release C references with it; there are none here
end

function CMD.update(name, t, ...)
	local value = build(name, t, ...)
	local old = pool[name]
	pool[name] = nil
	newobj(name, value, old and old.version + 1)
	local v = pool[name]
	if old then
		for _, response in pairs(old.watch) do
			response(true, v.version, v.data)
		end
	end
	return v.version -- skykernel's: the notebook's data update reports it
end

-- Answered with the next version once there is one newer than `version`.
function CMD.monitor(name, version)
	local v = assert(pool[name])
	if version ~= v.version then
		return v.version, v.data
	end
	v.watch[#v.watch + 1] = skynet.response()
	return NORET
end

function CMD.list()
	local t = {}
	for name, v in pairs(pool) do
		t[name] = v.version
	end
	return t
end

skynet.start(function()
	skynet.dispatch("lua", function(session, source, cmd, ...)
		local f = assert(CMD[cmd])
		local r = table.pack(f(...))
		if r[1] ~= NORET then
			skynet.ret(skynet.pack(table.unpack(r, 1, r.n)))
		end
	end)
end)
