-- skynet.stm: one service writes a value, others read its latest version.
--
--   local obj = stm.new(skynet.pack(...))     -- the writer; obj(skynet.pack(...)) updates
--   local ref = stm.copy(obj)                 -- hand `ref` to a reader (in a message)
--   local reader = stm.newcopy(ref)
--   local changed, ... = reader(f, ud)        -- f(msg, sz, ud) runs on a new version only
--
-- skynet shares the bytes in C and hands out pointers; here the node holds them (the STM
-- bridge command, skykernel/node/shared.py), `copy` is a number, and a reader gets its
-- own string of the bytes. Versions, and what a reader sees once the writer is gone
-- (nothing), are skynet's.

local c = require "skynet.core"
local command = c.command
local type, tostring, error, setmetatable, getmetatable =
	type, tostring, error, setmetatable, getmetatable
local string_format = string.format

local stm = {}

local CALL_ARG = _VERSION == "Lua 5.4" and 2 or 1

-- What finalizers let go of, told to the node from a fork: a finalizer may run in the
-- middle of anything, even another bridge command, so it never calls the node itself.
local released = {}

local function send_releases()
	local list = released
	released = {}
	for i = 1, #list, 2 do
		command("STM", list[i], list[i + 1])
	end
end

local function release_later(op, key)
	local n = #released
	released[n + 1] = op
	released[n + 2] = key
	if n == 0 then
		local skynet = package.loaded.skynet
		if skynet then
			skynet.fork(send_releases)
		end
	end
end

local function message(fname, msg)
	local t = type(msg)
	if t == "string" then
		return msg
	elseif t == "number" then
		return tostring(msg)
	end
	error(string_format("bad argument #1 to '%s' (string expected, got %s)", fname,
		msg == nil and "no value" or t), 3)
end

local writer_meta = {
	__name = "skynet.stm.writer",
	__call = function(self, msg, sz)
		command("STM", "update", self[1], message("?", msg))
	end,
	__gc = function(self)
		release_later("release", self[1])
	end,
}

function stm.new(msg, sz)
	return setmetatable({ command("STM", "new", message("skynet.stm.new", msg)) }, writer_meta)
end

function stm.copy(obj)
	if getmetatable(obj) ~= writer_meta then
		error("bad argument #1 to 'skynet.stm.copy' (stm object expected)", 2)
	end
	return command("STM", "copy", obj[1])
end

-- A reader: { key, last version read }
local reader_meta = {
	__name = "skynet.stm.reader",
	__call = function(self, f, ud)
		if type(f) ~= "function" then
			-- numbered as each Lua numbers a __call's arguments (5.4 counts the object)
			error(string_format("bad argument #%d to '?' (function expected, got %s)",
				CALL_ARG, f == nil and "no value" or type(f)), 2)
		end
		local version, data = command("STM", "read", self[1], self[2])
		if version == nil then
			return false
		end
		self[2] = version
		return true, f(data, #data, ud)
	end,
	__gc = function(self)
		release_later("unref", self[1])
	end,
}

function stm.newcopy(ref)
	if math.type(ref) ~= "integer" or not command("STM", "newcopy", ref) then
		error("bad argument #1 to 'skynet.stm.newcopy' (stm copy expected)", 2)
	end
	return setmetatable({ ref, 0 }, reader_meta)
end

return stm
