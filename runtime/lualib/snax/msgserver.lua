-- snax.msgserver: skynet's message server, a gate whose clients log in with what the
-- login server handed out, then send requests answered in order, with a cache so that
-- a client that reconnects gets the answers it missed.
--
-- Handshake (the first packet): base64(uid)@base64(server)#base64(subid):index:base64(hmac)
--   answered "200 OK", or 404 User Not Found, 403 Index Expired, 401 Unauthorized,
--   400 Bad Request (then the connection closes).
-- Request: content .. dword session (big-endian); response: content .. byte ok ..
--   dword session. Packets are netpack-framed.
--
-- server.start(conf): login_handler, logout_handler, kick_handler, request_handler,
-- register_handler, disconnect_handler, expired_number. Commands: login, logout, kick.

local skynet = require "skynet"
local gateserver = require "snax.gateserver"
local netpack = require "skynet.netpack"
local crypt = require "skynet.crypt"
local socketdriver = require "skynet.socketdriver"

local assert, pcall, tonumber, tostring, pairs = assert, pcall, tonumber, tostring, pairs
local string_format, string_pack, string_unpack = string.format, string.pack, string.unpack
local b64encode, b64decode = crypt.base64encode, crypt.base64decode

local server = {}

skynet.register_protocol {
	name = "client",
	id = skynet.PTYPE_CLIENT,
}

local user_online = {} -- username -> { secret, version, index, username, response, fd, ip }
local handshake = {} -- fd -> addr, until its first packet
local connection = {} -- fd -> user

function server.userid(username)
	local uid, servername, subid = username:match "([^@]*)@([^#]*)#(.*)"
	return b64decode(uid), b64decode(subid), b64decode(servername)
end

function server.username(uid, subid, servername)
	return string_format("%s@%s#%s", b64encode(uid), b64encode(servername), b64encode(tostring(subid)))
end

function server.logout(username)
	local u = user_online[username]
	user_online[username] = nil
	if u.fd and connection[u.fd] then
		gateserver.closeclient(u.fd)
		connection[u.fd] = nil
	end
end

function server.login(username, secret)
	assert(user_online[username] == nil, "user is online already")
	user_online[username] = {
		secret = secret,
		version = 0,
		index = 0,
		username = username,
		response = {}, -- session -> { return fd, packed response, version, index }
	}
end

function server.ip(username)
	local u = user_online[username]
	if u and u.fd then
		return u.ip
	end
end

function server.start(conf)
	local expired_number = conf.expired_number or 128
	local handler = {}
	local CMD = {
		login = assert(conf.login_handler, "msgserver: conf.login_handler is required"),
		logout = assert(conf.logout_handler, "msgserver: conf.logout_handler is required"),
		kick = assert(conf.kick_handler, "msgserver: conf.kick_handler is required"),
	}

	function handler.command(cmd, source, ...)
		local f = assert(CMD[cmd], cmd)
		return f(...)
	end

	function handler.open(source, gateconf)
		return conf.register_handler(assert(gateconf.servername, "msgserver: servername is required"))
	end

	function handler.connect(fd, addr)
		handshake[fd] = addr
		gateserver.openclient(fd)
	end

	function handler.disconnect(fd)
		handshake[fd] = nil
		local c = connection[fd]
		if c then
			if conf.disconnect_handler then
				conf.disconnect_handler(c.username)
			end
			if connection[fd] then -- the handler may have closed it already
				c.fd = nil
				connection[fd] = nil
				gateserver.closeclient(fd)
			end
		end
	end

	handler.error = handler.disconnect

	-- no yield in here: the check and the update are one step
	local function do_auth(fd, message, addr)
		local username, index, hmac = message:match "([^:]*):([^:]*):([^:]*)"
		local u = user_online[username]
		if u == nil then
			return "404 User Not Found"
		end
		local idx = assert(tonumber(index))
		hmac = b64decode(hmac)
		if idx <= u.version then
			return "403 Index Expired"
		end
		local text = string_format("%s:%s", username, index)
		if crypt.hmac_hash(u.secret, text) ~= hmac then
			return "401 Unauthorized"
		end
		u.version = idx
		u.fd = fd
		u.ip = addr
		connection[fd] = u
	end

	local function auth(fd, addr, msg, sz)
		local message = netpack.tostring(msg, sz)
		local ok, result = pcall(do_auth, fd, message, addr)
		if not ok then
			skynet.error(result)
			result = "400 Bad Request"
		end
		local close = result ~= nil
		socketdriver.send(fd, netpack.pack(result or "200 OK"))
		if close then
			gateserver.closeclient(fd)
		end
	end

	local request_handler = assert(conf.request_handler, "msgserver: conf.request_handler is required")

	-- drop cached answers older than expired_number requests
	local function retire_response(u)
		if u.index >= expired_number * 2 then
			local max = 0
			local response = u.response
			for k, p in pairs(response) do
				if p[1] == nil then
					if p[4] < expired_number then
						response[k] = nil
					else
						p[4] = p[4] - expired_number
						if p[4] > max then
							max = p[4]
						end
					end
				end
			end
			u.index = max + 1
		end
	end

	local function do_request(fd, message)
		local u = assert(connection[fd], "invalid fd")
		local session = string_unpack(">I4", message, -4)
		message = message:sub(1, -5)
		local p = u.response[session]
		if p and p[3] == u.version then
			-- the same session again on the same login: a new request
			u.response[session] = nil
			if p[2] == nil then
				local text = string_format("Conflict session %s", crypt.hexencode(session))
				skynet.error(text)
				error(text)
			end
			p = nil
		end
		if p == nil then
			p = { fd }
			u.response[session] = p
			local ok, result = pcall(request_handler, u.username, message)
			result = result or "" -- the handler may yield: the socket may have closed
			if not ok then
				skynet.error(result)
				result = string_pack(">BI4", 0, session)
			else
				result = result .. string_pack(">BI4", 1, session)
			end
			p[2] = string_pack(">s2", result)
			p[3] = u.version
			p[4] = u.index
		else
			-- a reconnected client asks again: answer on the new connection
			p[1] = fd
			p[3] = u.version
			p[4] = u.index
			if p[2] == nil then
				return -- still being answered
			end
		end
		u.index = u.index + 1
		fd = p[1]
		if connection[fd] then
			socketdriver.send(fd, p[2])
		end
		p[1] = nil
		retire_response(u)
	end

	local function request(fd, msg, sz)
		local message = netpack.tostring(msg, sz)
		local ok, err = pcall(do_request, fd, message)
		if not ok then
			skynet.error(string_format("Invalid package %s : %s", err, message))
			if connection[fd] then
				gateserver.closeclient(fd)
			end
		end
	end

	function handler.message(fd, msg, sz)
		local addr = handshake[fd]
		if addr then
			auth(fd, addr, msg, sz)
			handshake[fd] = nil
		else
			request(fd, msg, sz)
		end
	end

	return gateserver.start(handler)
end

return server
