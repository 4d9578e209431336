-- skynet.snax (also `snax`): skynet's simpler service framework. A snax service is a file of `accept.X`
-- (post) and `response.X` (req) methods run by the snaxd service; callers hold an
-- object with `.post.X(...)` and `.req.X(...)`. See docs/reload.md for snax.hotfix.

local skynet = require "skynet"
local snax_interface = require "snax.interface"

local type, pairs, assert, error, setmetatable = type, pairs, assert, error, setmetatable
local string_format = string.format

local snax = {}
local typeclass = {}
local handle_cache = setmetatable({}, { __mode = "kv" })

skynet.register_protocol {
	name = "snax",
	id = skynet.PTYPE_SNAX,
	pack = skynet.pack,
	unpack = skynet.unpack,
}

-- The environment a snax file runs in when only its method names are wanted: the module
-- the config's `snax_interface_g` names, else one where require does nothing (skynet's).
local interface_g = skynet.getenv "snax_interface_g"
local G = interface_g and require(interface_g) or { require = function() end }
interface_g = nil

function snax.interface(name)
	local si = typeclass[name]
	if si then
		return si
	end
	local funcs = snax_interface(name, G)
	si = { accept = {}, response = {}, system = {} }
	for _, v in pairs(funcs) do
		local id, group, fname = v[1], v[2], v[3]
		si[group][fname] = id
	end
	typeclass[name] = si
	return si
end

local meta = {
	__tostring = function(v)
		return string_format("[%s:%x]", v.type, v.handle)
	end,
}

local function gen_post(t, handle)
	return setmetatable({}, {
		__index = function(self, k)
			local id = t.accept[k]
			if id == nil then
				error(string_format("post %s:%s no exist", t.name, k), 2)
			end
			local f = function(...)
				skynet.send(handle, "snax", id, ...)
			end
			self[k] = f
			return f
		end,
	})
end

local function gen_req(t, handle)
	return setmetatable({}, {
		__index = function(self, k)
			local id = t.response[k]
			if id == nil then
				error(string_format("request %s:%s no exist", t.name, k), 2)
			end
			local f = function(...)
				return skynet.call(handle, "snax", id, ...)
			end
			self[k] = f
			return f
		end,
	})
end

local function wrapper(handle, name, t)
	t.name = name
	return setmetatable({
		post = gen_post(t, handle),
		req = gen_req(t, handle),
		type = name,
		handle = handle,
	}, meta)
end

function snax.bind(handle, name)
	local ret = handle_cache[handle]
	if ret then
		assert(ret.type == name)
		return ret
	end
	ret = wrapper(handle, name, snax.interface(name))
	handle_cache[handle] = ret
	return ret
end

function snax.rawnewservice(name, ...)
	local t = snax.interface(name)
	local handle = skynet.newservice("snaxd", name)
	assert(handle_cache[handle] == nil)
	if t.system.init then
		skynet.call(handle, "snax", t.system.init, ...)
	end
	return handle
end

function snax.newservice(name, ...)
	return snax.bind(snax.rawnewservice(name, ...), name)
end

function snax.uniqueservice(name, ...)
	local handle = assert(skynet.call(".service", "lua", "LAUNCH", "snaxd", name, ...))
	return snax.bind(handle, name)
end

function snax.globalservice(name, ...)
	local handle = assert(skynet.call(".service", "lua", "GLAUNCH", "snaxd", name, ...))
	return snax.bind(handle, name)
end

function snax.queryservice(name)
	local handle = assert(skynet.call(".service", "lua", "QUERY", "snaxd", name))
	return snax.bind(handle, name)
end

function snax.queryglobal(name)
	local handle = assert(skynet.call(".service", "lua", "GQUERY", "snaxd", name))
	return snax.bind(handle, name)
end

function snax.kill(obj, ...)
	local t = snax.interface(obj.type)
	skynet.call(obj.handle, "snax", t.system.exit, ...)
end

function snax.self()
	return snax.bind(skynet.self(), SERVICE_NAME)
end

function snax.exit(...)
	snax.kill(snax.self(), ...)
end

local function test_result(ok, ...)
	if ok then
		return ...
	end
	error(..., 0)
end

function snax.hotfix(obj, source, ...)
	local t = snax.interface(obj.type)
	return test_result(skynet.call(obj.handle, "snax", t.system.hotfix, source, ...))
end

function snax.printf(fmt, ...)
	skynet.error(string_format(fmt, ...))
end

function snax.profile_info(obj)
	local t = snax.interface(obj.type)
	return skynet.call(obj.handle, "snax", t.system.profile)
end

return snax
