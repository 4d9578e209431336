-- clustersender: one per remote node; sends requests and pushes over a socketchannel in
-- session mode (skynet's clustersender). Arguments: node name, this node's name, and
-- the remote address ("host:port", or host and port).

local skynet = require "skynet"
local sc = require "skynet.socketchannel"
local socket = require "skynet.socket"
local cluster = require "skynet.cluster.core"

local channel
local session = 1
local node, nodename, init_host, init_port = ...

local command = {}

local function send_request(addr, msg, sz)
	local current = session
	local request, new_session, padding = cluster.packrequest(addr, session, msg, sz)
	session = new_session
	local tag = skynet.tracetag()
	if tag then
		if tag:sub(1, 1) ~= "(" then
			tag = string.format("(%s-%s-%d)%s", nodename, node, session, tag)
		end
		channel:request(cluster.packtrace(tag))
	end
	return channel:request(request, current, padding)
end

function command.req(...)
	local ok, msg = pcall(send_request, ...)
	if ok then
		if type(msg) == "table" then
			-- a long reply, gathered in parts
			skynet.ret(cluster.concat(msg))
		else
			skynet.ret(msg)
		end
	else
		skynet.error(msg)
		skynet.response()(false)
	end
end

function command.push(addr, msg, sz)
	local request, new_session, padding = cluster.packpush(addr, session, msg, sz)
	if padding then -- a long push uses a session for its parts
		session = new_session
	end
	channel:request(request, nil, padding)
end

local function read_response(sock)
	local sz = socket.header(sock:read(2))
	local msg = sock:read(sz)
	return cluster.unpackresponse(msg) -- session, ok, data, padding
end

function command.changenode(host, port)
	if not host then
		skynet.error("Close cluster sender", channel.__host, channel.__port)
		channel:close()
	else
		channel:changehost(host, port and tonumber(port))
		channel:connect(true)
	end
	skynet.ret(skynet.pack(nil))
end

skynet.start(function()
	channel = sc.channel {
		host = init_host,
		port = tonumber(init_port),
		response = read_response,
		nodelay = true,
	}
	skynet.dispatch("lua", function(_, _, cmd, ...)
		local f = assert(command[cmd], cmd)
		f(...)
	end)
end)
