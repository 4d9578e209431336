-- snax.loginserver: skynet's login server. A master listens and balances connections
-- over `instance` slaves (the same service file); a slave runs the handshake:
--
--   1. S->C  base64(8-byte random challenge)
--   2. C->S  base64(8-byte client key)
--   3. S->C  base64(DH-exchange(server key))            secret = DH-secret(keys)
--   4. C->S  base64(HMAC64(challenge, secret))
--   5. C->S  base64(DES(secret, token))
--   6. auth_handler(token) -> server, uid; then (master) login_handler(server, uid,
--      secret) -> subid
--   7. S->C  "200 base64(subid)", or 401 Unauthorized, 403 Forbidden (login_handler
--      failed), 406 Not Acceptable (already logging in)
--
-- Each message is a line ending with "\n". The service file returns login(conf) with
-- conf: host, port, instance, name, multilogin, auth_handler, login_handler,
-- command_handler.

local skynet = require "skynet"
require "skynet.manager"
local socket = require "skynet.socket"
local crypt = require "skynet.crypt"

local assert, error, pcall = assert, error, pcall
local string_format = string.format

-- Raised when the client went away: not an error worth a log line of its own.
local socket_error = {}

local function assert_socket(service, v, fd)
	if v then
		return v
	end
	skynet.error(string_format("%s failed: socket (fd = %d) closed", service, fd))
	error(socket_error)
end

local function write(service, fd, text)
	assert_socket(service, socket.write(fd, text), fd)
end

local function launch_slave(auth_handler)
	local function auth(fd, addr)
		-- a client that sends more than 8 KB without a line is closed
		socket.limit(fd, 8192)
		local challenge = crypt.randomkey()
		write("auth", fd, crypt.base64encode(challenge) .. "\n")
		local handshake = assert_socket("auth", socket.readline(fd), fd)
		local clientkey = crypt.base64decode(handshake)
		if #clientkey ~= 8 then
			error "Invalid client key"
		end
		local serverkey = crypt.randomkey()
		write("auth", fd, crypt.base64encode(crypt.dhexchange(serverkey)) .. "\n")
		local secret = crypt.dhsecret(clientkey, serverkey)
		local response = assert_socket("auth", socket.readline(fd), fd)
		if crypt.hmac64(challenge, secret) ~= crypt.base64decode(response) then
			error "challenge failed"
		end
		local etoken = assert_socket("auth", socket.readline(fd), fd)
		local token = crypt.desdecode(secret, crypt.base64decode(etoken))
		local ok, server, uid = pcall(auth_handler, token)
		return ok, server, uid, secret
	end

	local function ret_pack(ok, err, ...)
		if ok then
			return skynet.pack(err, ...)
		elseif err == socket_error then
			return skynet.pack(nil, "socket error")
		end
		return skynet.pack(false, err)
	end

	local function auth_fd(fd, addr)
		skynet.error(string_format("connect from %s (fd = %d)", addr, fd))
		socket.start(fd)
		local msg, len = ret_pack(pcall(auth, fd, addr))
		socket.abandon(fd) -- the master writes the answer
		return msg, len
	end

	skynet.dispatch("lua", function(_, _, ...)
		local ok, msg, len = pcall(auth_fd, ...)
		if ok then
			skynet.ret(msg, len)
		else
			skynet.ret(skynet.pack(false, msg))
		end
	end)
end

local user_login = {} -- uid -> true while its login runs (no multilogin)

local function accept(conf, slave, fd, addr)
	local ok, server, uid, secret = skynet.call(slave, "lua", fd, addr)
	if not ok then
		if ok ~= nil then -- false: auth_handler refused; nil: the socket went away
			write("response 401", fd, "401 Unauthorized\n")
		end
		error(server)
	end
	if not conf.multilogin then
		if user_login[uid] then
			write("response 406", fd, "406 Not Acceptable\n")
			error(string_format("User %s is already login", uid))
		end
		user_login[uid] = true
	end
	local done, result = pcall(conf.login_handler, server, uid, secret)
	user_login[uid] = nil
	if done then
		write("response 200", fd, "200 " .. crypt.base64encode(result or "") .. "\n")
	else
		write("response 403", fd, "403 Forbidden\n")
		error(result)
	end
end

local function launch_master(conf)
	local instance = conf.instance or 8
	assert(instance > 0, "loginserver: instance must be positive")
	-- skynet listens on 0.0.0.0 unless told; skykernel on loopback
	local host = conf.host or "127.0.0.1"
	local port = assert(tonumber(conf.port), "loginserver: conf.port is required")
	local slaves = {}
	local balance = 1
	skynet.dispatch("lua", function(_, _, command, ...)
		skynet.ret(skynet.pack(conf.command_handler(command, ...)))
	end)
	for i = 1, instance do
		slaves[i] = skynet.newservice(SERVICE_NAME)
	end
	skynet.error(string_format("login server listen at : %s %d", host, port))
	local id = socket.listen(host, port)
	socket.start(id, function(fd, addr)
		local s = slaves[balance]
		balance = balance % #slaves + 1
		local ok, err = pcall(accept, conf, s, fd, addr)
		if not ok and err ~= socket_error then
			skynet.error(string_format("invalid client (fd = %d) error = %s", fd, err))
		end
		socket.close(fd)
	end)
end

local function login(conf)
	local name = "." .. (conf.name or "login")
	skynet.start(function()
		if skynet.localname(name) then
			-- the master runs: this is one of its slaves
			launch_slave(assert(conf.auth_handler, "loginserver: conf.auth_handler is required"))
		else
			assert(conf.login_handler, "loginserver: conf.login_handler is required")
			assert(conf.command_handler, "loginserver: conf.command_handler is required")
			skynet.register(name)
			launch_master(conf)
		end
	end)
end

return login
