-- multicastd: the channels of skynet.multicast. A channel id's low 8 bits are the harbor
-- that made it (always 0 here); a publish is redirected to every subscriber with the
-- channel id as session and the publisher as source. Channels of another harbor are
-- looked up in datacenter, as skynet's do, which on a standalone node fails.
local skynet = require "skynet"
local datacenter = require "skynet.datacenter"

local harbor_id = skynet.harbor(skynet.self())

local command = {}
local channel = {} -- id -> { subscriber = true }
local channel_n = {} -- id -> number of subscribers
local channel_remote = {} -- id -> { harbor = true } (other harbors subscribed)
local channel_id = harbor_id
local NORET = {}

local node_address = setmetatable({}, { __index = function(t, id)
	local v = assert(datacenter.get("multicast", id))
	t[id] = v
	return v
end })

local function nextid(id)
	return (id + 256) & 0xffffffff
end

function command.NEW()
	while channel[channel_id] do
		channel_id = nextid(channel_id)
	end
	channel[channel_id] = {}
	channel_n[channel_id] = 0
	local ret = channel_id
	channel_id = nextid(channel_id)
	return ret
end

-- from the harbor that owns the channel: it is gone
function command.DELR(source, c)
	channel[c] = nil
	channel_n[c] = nil
	return NORET
end

function command.DEL(source, c)
	local node = c % 256
	if node ~= harbor_id then
		skynet.send(node_address[node], "lua", "DEL", c)
		return NORET
	end
	local remote = channel_remote[c]
	channel[c] = nil
	channel_n[c] = nil
	channel_remote[c] = nil
	if remote then
		for n in pairs(remote) do
			skynet.send(node_address[n], "lua", "DELR", c)
		end
	end
	return NORET
end

local function remote_publish(node, c, source, msg)
	skynet.redirect(node_address[node], source, "multicast", c, msg)
end

local function publish(c, source, msg)
	local remote = channel_remote[c]
	if remote then
		for node in pairs(remote) do
			remote_publish(node, c, source, msg)
		end
	end
	local group = channel[c]
	if group == nil then
		return
	end
	for subscriber in pairs(group) do
		skynet.redirect(subscriber, source, "multicast", c, msg)
	end
end

-- a publish forwarded from another harbor
skynet.register_protocol {
	name = "multicast",
	id = skynet.PTYPE_MULTICAST,
	unpack = function(msg, sz) return msg end,
	dispatch = function(c, source, msg)
		skynet.ignoreret()
		publish(c, source, msg)
	end,
}

function command.PUB(source, c, msg)
	assert(skynet.harbor(source) == harbor_id)
	local node = c % 256
	if node ~= harbor_id then
		remote_publish(node, c, source, msg)
	else
		publish(c, source, msg)
	end
end

-- from another harbor subscribing to a channel of this one; true: no such channel
function command.SUBR(source, c)
	local node = skynet.harbor(source)
	if not channel[c] then
		return true
	end
	assert(node ~= harbor_id and c % 256 == harbor_id)
	local group = channel_remote[c]
	if group == nil then
		group = {}
		channel_remote[c] = group
	end
	group[node] = true
end

function command.SUB(source, c)
	local node = c % 256
	if node ~= harbor_id and channel[c] == nil then
		if skynet.call(node_address[node], "lua", "SUBR", c) then
			return
		end
		if channel[c] == nil then
			channel[c] = {}
			channel_n[c] = 0
		end
	end
	local group = channel[c]
	if group and not group[source] then
		channel_n[c] = channel_n[c] + 1
		group[source] = true
	end
end

function command.USUBR(source, c)
	local node = skynet.harbor(source)
	assert(node ~= harbor_id)
	local group = assert(channel_remote[c])
	group[node] = nil
	return NORET
end

function command.USUB(source, c)
	local group = assert(channel[c])
	if group[source] then
		group[source] = nil
		channel_n[c] = channel_n[c] - 1
		if channel_n[c] == 0 then
			local node = c % 256
			if node ~= harbor_id then
				channel[c] = nil
				channel_n[c] = nil
				skynet.send(node_address[node], "lua", "USUBR", c)
			end
		end
	end
	return NORET
end

skynet.start(function()
	skynet.dispatch("lua", function(_, source, cmd, ...)
		local f = assert(command[cmd])
		local result = f(source, ...)
		if result ~= NORET then
			skynet.ret(skynet.pack(result))
		end
	end)
	assert(datacenter.set("multicast", harbor_id, skynet.self()) == nil)
end)
