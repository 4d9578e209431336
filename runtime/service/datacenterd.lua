-- datacenterd (DATACENTER): a node-wide tree of values addressed by key paths.
--
-- QUERY path... reads, UPDATE path... value writes (and answers the old value), WAIT path...
-- answers when a value is set at that exact path. Waiters hang in a second tree of the
-- same shape; a write that lands above waiting leaves (replacing a whole branch) fails them.
local skynet = require "skynet"

local data = {}
local waiters = {} -- same shape as data; a leaf is { waiting = true, [i] = response }

local function get(node, ...)
	for i = 1, select("#", ...) do
		if type(node) ~= "table" then
			return nil
		end
		node = node[(select(i, ...))]
	end
	return node
end

local function set(node, ...)
	local n = select("#", ...)
	local value = select(n, ...)
	for i = 1, n - 2 do
		local key = select(i, ...)
		if type(node[key]) ~= "table" then
			node[key] = {}
		end
		node = node[key]
	end
	local key = select(n - 1, ...)
	local old = node[key]
	node[key] = value
	return old
end

-- Detach the waiters at exactly this path (or every waiter under it, to be failed).
local function take_waiters(...)
	local n = select("#", ...)
	local node = waiters
	for i = 1, n - 2 do
		node = node[(select(i, ...))]
		if node == nil then
			return nil
		end
	end
	local key = select(n - 1, ...)
	local found = node[key]
	node[key] = nil
	return found
end

local function fail_all(w)
	if w.waiting then
		for i = 1, #w do
			w[i](false)
		end
		return
	end
	for _, deeper in pairs(w) do
		fail_all(deeper)
	end
end

local function answer_all(found, value)
	if found == nil then
		return
	end
	if not found.waiting then
		-- a whole branch was overwritten: what waited below it can never be answered
		fail_all(found)
		return
	end
	for i = 1, #found do
		found[i](true, value)
	end
end

local function add_waiter(...)
	local n = select("#", ...)
	local node = waiters
	for i = 1, n - 1 do
		local key = select(i, ...)
		local next_node = node[key]
		if next_node == nil then
			next_node = {}
			node[key] = next_node
		end
		node = next_node
	end
	local key = select(n, ...)
	local leaf = node[key]
	if leaf == nil then
		leaf = { waiting = true }
		node[key] = leaf
	end
	leaf[#leaf + 1] = skynet.response()
end

local command = {}

function command.QUERY(...)
	return get(data, ...)
end

function command.UPDATE(...)
	local old = set(data, ...)
	local n = select("#", ...)
	if select(n, ...) ~= nil then
		answer_all(take_waiters(...), (select(n, ...)))
	end
	return old
end

skynet.start(function()
	skynet.dispatch("lua", function(_, _, cmd, ...)
		if cmd == "WAIT" then
			local value = get(data, ...)
			if value ~= nil then
				skynet.ret(skynet.pack(value))
			else
				add_waiter(...)
			end
			return
		end
		local f = assert(command[cmd], cmd)
		skynet.ret(skynet.pack(f(...)))
	end)
end)
