-- skynet.cluster: calls between skynet nodes over TCP, as skynet's cluster. The wire
-- format (skynet.cluster.core) is skynet's, so skykernel and real skynet nodes call
-- each other.
--
-- The `cluster` config key names a Lua file of `node = "host:port"` lines (reloaded by
-- cluster.reload, or given as a table). cluster.open(name or port) listens; call, send
-- and query reach a service on another node by address or by a name registered there
-- (`@name`); proxy and snax give a local handle that forwards there.

local skynet = require "skynet"

local cluster = {}

-- clusterd, found on first use: skynet finds it in a skynet.init, which runs at once
-- when the module is required after the service started, and a call inside require
-- cannot yield (a notebook cell requires it so). Found lazily, it works either way.
local clusterd_address
local function clusterd()
	local c = clusterd_address
	if c == nil then
		c = skynet.uniqueservice("clusterd")
		clusterd_address = c
	end
	return c
end
local sender = {} -- node -> its clustersender, once known
local task_queue = {} -- node -> what waits for its sender

local function repack(address, ...)
	return address, skynet.pack(...)
end

-- Ask clusterd for a node's sender, then let what queued for it go on in order.
local function request_sender(q, node)
	local ok, c = pcall(skynet.call, clusterd(), "lua", "sender", node)
	if not ok then
		skynet.error(c)
		c = nil
	end
	local confirm = coroutine.running()
	q.confirm = confirm
	q.sender = c
	for _, task in ipairs(q) do
		if type(task) == "string" then
			-- a send made before the sender was known
			if c then
				skynet.send(c, "lua", "push", repack(skynet.unpack(task)))
			end
		else
			skynet.wakeup(task)
			skynet.wait(confirm)
		end
	end
	task_queue[node] = nil
	sender[node] = c
end

setmetatable(task_queue, { __index = function(t, node)
	local q = {}
	t[node] = q
	skynet.fork(request_sender, q, node)
	return q
end })

local function get_sender(node)
	local s = sender[node]
	if s then
		return s
	end
	local q = task_queue[node]
	local task = coroutine.running()
	q[#q + 1] = task
	skynet.wait(task)
	skynet.wakeup(q.confirm)
	-- a node clusterd cannot reach: say which, rather than calling nothing
	return q.sender or error(string.format("cluster node [%s] has no sender", tostring(node)))
end

cluster.get_sender = get_sender

function cluster.call(node, address, ...)
	local s = sender[node]
	if not s then
		-- pack now: the arguments may change while the sender is looked up
		local task = skynet.packstring(address, ...)
		return skynet.call(get_sender(node), "lua", "req", repack(skynet.unpack(task)))
	end
	return skynet.call(s, "lua", "req", address, skynet.pack(...))
end

function cluster.send(node, address, ...)
	local s = sender[node]
	if not s then
		local q = task_queue[node]
		q[#q + 1] = skynet.packstring(address, ...)
	else
		skynet.send(s, "lua", "push", address, skynet.pack(...))
	end
end

-- Listen: a node name (its address from the config) or a port. skynet listens on
-- 0.0.0.0 for a bare port; skykernel on 127.0.0.1 (see docs/differences.md).
function cluster.open(port, maxclient)
	if type(port) == "string" then
		return skynet.call(clusterd(), "lua", "listen", port, nil, maxclient)
	end
	return skynet.call(clusterd(), "lua", "listen", "127.0.0.1", port, maxclient)
end

function cluster.reload(config)
	skynet.call(clusterd(), "lua", "reload", config)
end

function cluster.proxy(node, name)
	return skynet.call(clusterd(), "lua", "proxy", node, name)
end

function cluster.snax(node, name, address)
	local snax = require "snax"
	if not address then
		address = cluster.call(node, ".service", "QUERY", "snaxd", name)
	end
	local handle = skynet.call(clusterd(), "lua", "proxy", node, address)
	return snax.bind(handle, name)
end

function cluster.register(name, addr)
	assert(type(name) == "string", "cluster.register: name must be a string")
	assert(addr == nil or type(addr) == "number", "cluster.register: address must be a number")
	return skynet.call(clusterd(), "lua", "register", name, addr)
end

function cluster.unregister(name)
	assert(type(name) == "string", "cluster.unregister: name must be a string")
	return skynet.call(clusterd(), "lua", "unregister", name)
end

function cluster.query(node, name)
	return skynet.call(get_sender(node), "lua", "req", 0, skynet.pack(name))
end

return cluster
