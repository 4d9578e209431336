-- clusteragent: serves one incoming cluster connection (skynet's clusteragent). The
-- gate forwards the connection's packets here as `client` messages; each request is
-- passed to the local service it names and the reply written back on the socket.

local skynet = require "skynet"
local socket = require "skynet.socket"
local cluster = require "skynet.cluster.core"

local clusterd, gate, fd = ...
clusterd = tonumber(clusterd)
gate = tonumber(gate)
fd = tonumber(fd)

local large_request = {} -- session -> parts of a long request
local inquery_name = {} -- name -> coroutines waiting for clusterd's answer
local register_name

-- Names registered with cluster.register, looked up in clusterd once and kept.
local register_name_mt = { __index = function(self, name)
	local waiting = inquery_name[name]
	if waiting then
		local co = coroutine.running()
		waiting[#waiting + 1] = co
		skynet.wait(co)
		return rawget(register_name, name)
	end
	waiting = {}
	inquery_name[name] = waiting
	local addr = skynet.call(clusterd, "lua", "queryname", name:sub(2)) -- name is "@xxx"
	if addr then
		register_name[name] = addr
	end
	inquery_name[name] = nil
	for _, co in ipairs(waiting) do
		skynet.wakeup(co)
	end
	return addr
end }

local function new_register_name()
	register_name = setmetatable({}, register_name_mt)
end
new_register_name()

local tracetag

local function reply(response)
	if type(response) == "table" then
		for _, part in ipairs(response) do
			socket.lwrite(fd, part)
		end
	else
		socket.write(fd, response)
	end
end

local function dispatch_request(_, _, addr, session, msg, sz, padding, is_push)
	skynet.ignoreret() -- session is the fd: nothing to answer through skynet
	if session == nil then
		tracetag = addr -- a trace tag for the next request
		return
	end
	if padding then
		local req = large_request[session] or { addr = addr, is_push = is_push, tracetag = tracetag }
		tracetag = nil
		large_request[session] = req
		cluster.append(req, msg, sz)
		return
	end
	local req = large_request[session]
	if req then
		tracetag = req.tracetag
		large_request[session] = nil
		cluster.append(req, msg, sz)
		msg, sz = cluster.concat(req)
		addr = req.addr
		is_push = req.is_push
	end
	if not msg then
		tracetag = nil
		socket.write(fd, cluster.packresponse(session, false, "Invalid large req"))
		return
	end
	local ok
	if addr == 0 then
		-- cluster.query: a registered name's address
		local name = skynet.unpack(msg, sz)
		local found = register_name["@" .. name]
		if found then
			ok, msg = true, skynet.packstring(found)
		else
			ok, msg = false, "name not found"
		end
		sz = nil
	else
		if cluster.isname(addr) then
			addr = register_name[addr]
		end
		if addr then
			if is_push then
				skynet.rawsend(addr, "lua", msg, sz)
				return
			end
			tracetag = nil -- skykernel does not trace calls
			ok, msg, sz = pcall(skynet.rawcall, addr, "lua", msg, sz)
		else
			ok, msg = false, "Invalid name"
		end
	end
	if ok then
		reply(cluster.packresponse(session, true, msg, sz))
	else
		socket.write(fd, cluster.packresponse(session, false, tostring(msg)))
	end
end

skynet.start(function()
	skynet.register_protocol {
		name = "client",
		id = skynet.PTYPE_CLIENT,
		unpack = cluster.unpackrequest,
		dispatch = dispatch_request,
	}
	-- we write to fd; the gate reads it and forwards its packets here
	pcall(skynet.call, gate, "lua", "forward", fd)
	skynet.dispatch("lua", function(_, source, cmd)
		if cmd == "exit" then
			socket.close_fd(fd)
			skynet.exit()
		elseif cmd == "namechange" then
			new_register_name()
		else
			skynet.error(string.format("Invalid command %s from %s", cmd, skynet.address(source)))
		end
	end)
end)
