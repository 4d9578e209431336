-- datacenterd (DATACENTER): a node-wide tree of values addressed by key paths, with
-- skynet's semantics, corner cases included.
--
-- QUERY path... reads (through a value that is not a table: an error). UPDATE path...
-- value writes, making tables along the path, and answers the old value. WAIT path...
-- answers at once if there is a value, else when one is first set at exactly that path.
-- Waiters hang in a second tree; a write that lands below a waited-for path fails its
-- waiters (`call failed`), and one above it leaves them waiting, as in skynet.
local skynet = require "skynet"

local select, assert = select, assert

local data = {}
local waiting = {} -- path -> { [QUEUE] = true, response... } or a branch of such
local QUEUE, BRANCH = {}, {} -- what a node of `waiting` is

local function get(node, key, ...)
	if node == nil or key == nil then
		return node
	end
	return get(node[key], ...)
end

-- Returns the old value and the new one.
local function set(node, key, value, ...)
	if select("#", ...) == 0 then
		local old = node[key]
		node[key] = value
		return old, value
	end
	if node[key] == nil then
		node[key] = {}
	end
	return set(node[key], value, ...)
end

-- The waiters of the path a write landed on, detached; `...` is the rest of the path and
-- the value. Waiters above a longer write can never be answered: they fail now.
local function take(node, key, ...)
	if key == nil then
		return nil
	end
	local q = node[key]
	if q == nil then
		return nil
	end
	if q[QUEUE] then
		node[key] = nil
		if select("#", ...) ~= 1 then
			for i = 1, #q do
				q[i](false)
			end
			return nil
		end
		return q
	end
	return take(q, ...)
end

local function wait(node, key, key2, ...)
	local q = node[key]
	if key2 == nil then
		if q == nil then
			q = { [QUEUE] = true }
			node[key] = q
		else
			assert(q[QUEUE])
		end
		q[#q + 1] = skynet.response()
		return
	end
	if q == nil then
		q = { [BRANCH] = true }
		node[key] = q
	else
		assert(q[BRANCH])
	end
	return wait(q, key2, ...)
end

local command = {}

function command.QUERY(key, ...)
	local d = data[key]
	if d ~= nil then
		return get(d, ...)
	end
end

function command.UPDATE(...)
	local old, value = set(data, ...)
	if old ~= nil or value == nil then
		return old
	end
	local q = take(waiting, ...)
	if q then
		for i = 1, #q do
			q[i](true, value)
		end
	end
end

skynet.start(function()
	skynet.dispatch("lua", function(_, _, cmd, ...)
		if cmd == "WAIT" then
			local value = command.QUERY(...)
			if value ~= nil then
				skynet.ret(skynet.pack(value))
			else
				wait(waiting, ...)
			end
			return
		end
		local f = assert(command[cmd])
		skynet.ret(skynet.pack(f(...)))
	end)
end)
