-- clusterd: the cluster's registry (skynet's clusterd). It knows each node's address
-- (the `cluster` config file, or cluster.reload), keeps one clustersender per remote
-- node, one clusterproxy per proxied service, the names registered for remote callers,
-- and a clusteragent per incoming connection.

local skynet = require "skynet"
require "skynet.manager"
local cluster = require "skynet.cluster.core"

local config_name = skynet.getenv "cluster"
local node_address = {} -- name -> "host:port", or false (the node is off)
local node_sender = {} -- name -> clustersender
local node_sender_closed = {}
local command = {}
local config = {} -- options from `__name` keys (nowaiting)
local nodename = cluster.nodename()

local connecting = {} -- name -> coroutines waiting for the sender being set up

local function open_channel(t, key)
	local ct = connecting[key]
	if ct then
		-- another request sets it up: wait for it
		local co = coroutine.running()
		local channel
		while ct do
			ct[#ct + 1] = co
			skynet.wait(co)
			channel = ct.channel
			ct = connecting[key]
		end
		return assert(node_address[key] and channel)
	end
	ct = {}
	connecting[key] = ct
	local address = node_address[key]
	if address == nil and not config.nowaiting then
		local co = coroutine.running()
		ct.namequery = co
		skynet.error("Waiting for cluster node [" .. key .. "]")
		skynet.wait(co)
		address = node_address[key]
	end
	local succ, err, c
	if address then
		c = node_sender[key]
		if c == nil then
			c = skynet.newservice("clustersender", key, nodename, address)
			if node_sender[key] then
				skynet.kill(c) -- made meanwhile by another request
				c = node_sender[key]
			else
				node_sender[key] = c
			end
		end
		succ = pcall(skynet.call, c, "lua", "changenode", address)
		if succ then
			t[key] = c
			ct.channel = c
			node_sender_closed[key] = nil
		else
			err = string.format("changenode [%s] (%s) failed", key, address)
		end
	elseif address == false then
		c = node_sender[key]
		if c == nil or node_sender_closed[key] then
			succ = true
		else
			succ, err = pcall(skynet.call, c, "lua", "changenode", false)
			if succ then
				node_sender_closed[key] = true
			end
		end
	else
		err = string.format("cluster node [%s] is absent.", key)
	end
	connecting[key] = nil
	for _, co in ipairs(ct) do
		skynet.wakeup(co)
	end
	if node_address[key] ~= address then
		-- reloaded meanwhile: try the new address
		return open_channel(t, key)
	end
	assert(succ, err)
	return c
end

local node_channel = setmetatable({}, { __index = open_channel })

local function loadconfig(tmp)
	if tmp == nil then
		tmp = {}
		if config_name then
			local f = assert(io.open(config_name), "cluster config " .. config_name .. " cannot be read")
			local source = f:read "a"
			f:close()
			assert(load(source, "@" .. config_name, "t", tmp))()
		end
	end
	local reload = {}
	for name, address in pairs(tmp) do
		if name:sub(1, 2) == "__" then
			local opt = name:sub(3)
			config[opt] = address
			skynet.error(string.format("Config %s = %s", opt, address))
		else
			assert(address == false or type(address) == "string",
				"cluster node " .. tostring(name) .. ": address must be a string or false")
			if node_address[name] ~= address then
				if node_sender[name] then
					-- the address changed: reconnect the sender
					node_channel[name] = nil
					reload[#reload + 1] = name
				end
				node_address[name] = address
			end
			local ct = connecting[name]
			if ct and ct.namequery and not config.nowaiting then
				skynet.error(string.format("Cluster node [%s] resolved : %s", name, address))
				skynet.wakeup(ct.namequery)
			end
		end
	end
	if config.nowaiting then
		for _, ct in pairs(connecting) do
			if ct.namequery then
				skynet.wakeup(ct.namequery)
			end
		end
	end
	for _, name in ipairs(reload) do
		skynet.fork(open_channel, node_channel, name)
	end
end

function command.reload(source, cfg)
	loadconfig(cfg)
	skynet.ret(skynet.pack(nil))
end

function command.listen(source, addr, port, maxclient)
	local gate = skynet.newservice("gate")
	if port == nil then
		local address = assert(node_address[addr], addr .. " is down")
		skynet.call(gate, "lua", "open", { address = address, maxclient = maxclient })
		skynet.ret(skynet.pack(addr, port))
	else
		local realaddr, realport = skynet.call(gate, "lua", "open",
			{ address = addr, port = port, maxclient = maxclient })
		skynet.ret(skynet.pack(realaddr, realport))
	end
end

function command.sender(source, node)
	skynet.ret(skynet.pack(node_channel[node]))
end

function command.senders(source)
	skynet.retpack(node_sender)
end

local proxy = {}

function command.proxy(source, node, name)
	if name == nil then
		node, name = node:match "^([^@.]+)([@.].+)"
		if name == nil then
			error("Invalid name " .. tostring(node))
		end
	end
	local fullname = node .. "." .. name
	local p = proxy[fullname]
	if p == nil then
		p = skynet.newservice("clusterproxy", node, name)
		if proxy[fullname] then
			skynet.kill(p)
			p = proxy[fullname]
		else
			proxy[fullname] = p
		end
	end
	skynet.ret(skynet.pack(p))
end

local cluster_agent = {} -- fd -> clusteragent (false while it starts)
local register_name = {}

local function clearnamecache()
	for _, service in pairs(cluster_agent) do
		if type(service) == "number" then
			skynet.send(service, "lua", "namechange")
		end
	end
end

function command.register(source, name, addr)
	assert(register_name[name] == nil, "cluster name " .. tostring(name) .. " is already registered")
	addr = addr or source
	local old_name = register_name[addr]
	if old_name then
		register_name[old_name] = nil
		clearnamecache()
	end
	register_name[addr] = name
	register_name[name] = addr
	skynet.ret(nil)
	skynet.error(string.format("Register [%s] :%08x", name, addr))
end

function command.unregister(_, name)
	if not register_name[name] then
		return skynet.ret(nil)
	end
	local addr = register_name[name]
	register_name[addr] = nil
	register_name[name] = nil
	clearnamecache()
	skynet.ret(nil)
	skynet.error(string.format("Unregister [%s] :%08x", name, addr))
end

function command.queryname(source, name)
	skynet.ret(skynet.pack(register_name[name]))
end

-- the gate's watchdog messages
function command.socket(source, subcmd, fd, msg)
	if subcmd == "open" then
		skynet.error(string.format("socket accept from %s", msg))
		cluster_agent[fd] = false
		local agent = skynet.newservice("clusteragent", skynet.self(), source, fd)
		local closed = cluster_agent[fd]
		cluster_agent[fd] = agent
		if closed then
			-- it closed while the agent started
			skynet.send(agent, "lua", "exit")
			cluster_agent[fd] = nil
		end
	elseif subcmd == "close" or subcmd == "error" then
		local agent = cluster_agent[fd]
		if type(agent) == "boolean" then
			cluster_agent[fd] = true
		elseif agent then
			skynet.send(agent, "lua", "exit")
			cluster_agent[fd] = nil
		end
	else
		skynet.error(string.format("socket %s %d %s", subcmd, fd, msg or ""))
	end
end

skynet.start(function()
	loadconfig()
	skynet.dispatch("lua", function(_, source, cmd, ...)
		local f = assert(command[cmd], cmd)
		f(source, ...)
	end)
end)
