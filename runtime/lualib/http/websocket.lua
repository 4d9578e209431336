-- http.websocket: RFC 6455 websockets over skynet sockets (skynet's API).
--
-- Server: websocket.accept(id, handle, "ws", addr) runs the handshake and calls
-- handle.connect/handshake/message/ping/pong/close/error(id, ...) until the peer closes.
-- Client: id = websocket.connect("ws://host:port/path"), then read/write/ping/close.
-- skykernel has no TLS: "wss" raises an error.

local internal = require "http.internal"
local socket = require "skynet.socket"
local crypt = require "skynet.crypt"
local httpd = require "http.httpd"
local skynet = require "skynet"
local sockethelper = require "http.sockethelper"
local socket_error = sockethelper.socket_error

local assert, error, pairs, xpcall, pcall, tonumber, tostring = assert, error, pairs, xpcall, pcall, tonumber, tostring
local string_pack, string_unpack, string_format = string.pack, string.unpack, string.format
local traceback = debug.traceback

local GLOBAL_GUID <const> = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
local MAX_FRAME_SIZE <const> = 256 * 1024 -- what a server accepts in one message

local M = {}

local ws_pool = {} -- socket id -> websocket object

local function close_websocket(ws)
	assert(ws_pool[ws.id] == ws)
	ws_pool[ws.id] = nil
	ws.close()
end

local function is_closed(id)
	return not ws_pool[id]
end

-- Serve `payload` (bytes read past the handshake) before reading the socket again.
local function reader_with_payload(self, payload)
	local n = #payload
	if n == 0 then
		return
	end
	local read = self.read
	function self.read(sz)
		if sz == nil or sz == n then
			self.read = read
			return payload
		end
		if sz < n then
			local ret = payload:sub(1, sz)
			payload = payload:sub(sz + 1)
			n = #payload
			return ret
		end
		self.read = read
		return payload .. read(sz - n)
	end
end

local function write_handshake(self, host, url, header)
	local key = crypt.base64encode(crypt.randomkey() .. crypt.randomkey())
	local request_header = {
		["Upgrade"] = "websocket",
		["Connection"] = "Upgrade",
		["Sec-WebSocket-Version"] = "13",
		["Sec-WebSocket-Key"] = key,
	}
	for k, v in pairs(header or {}) do
		assert(request_header[k] == nil, k)
		request_header[k] = v
	end
	local recvheader = {}
	local code, payload = internal.request(self, "GET", host, url, recvheader, request_header)
	if code ~= 101 then
		error(string_format("websocket handshake error: code[%s] info:%s", code, payload))
	end
	reader_with_payload(self, payload)
	if not recvheader["upgrade"] or recvheader["upgrade"]:lower() ~= "websocket" then
		error("websocket handshake upgrade must websocket")
	end
	if not recvheader["connection"] or recvheader["connection"]:lower() ~= "upgrade" then
		error("websocket handshake connection must upgrade")
	end
	local accept = recvheader["sec-websocket-accept"]
	if not accept then
		error("websocket handshake need Sec-WebSocket-Accept")
	end
	if crypt.base64decode(accept) ~= crypt.sha1(key .. self.guid) then
		error("websocket handshake invalid Sec-WebSocket-Accept")
	end
end

-- nil, header, url when the handshake is good; an HTTP code and a reason otherwise.
local function read_handshake(self, upgrade)
	local header, method, url
	if upgrade then
		header, method, url = upgrade.header, upgrade.method, upgrade.url
	else
		local lines = {}
		local payload = internal.recvheader(self.read, lines, "")
		if not payload then
			return 413
		end
		reader_with_payload(self, payload)
		local httpver
		method, url, httpver = assert(lines[1], "empty request"):match "^(%a+)%s+(.-)%s+HTTP/([%d%.]+)$"
		assert(method and url and httpver, "invalid request line")
		if method ~= "GET" then
			return 400, "need GET method"
		end
		if assert(tonumber(httpver)) < 1.1 then
			return 505
		end
		header = internal.parseheader(lines, 2, {})
	end
	if not header then
		return 400
	end
	if not header["upgrade"] or header["upgrade"]:lower() ~= "websocket" then
		return 426, "Upgrade Required"
	end
	if not header["host"] then
		return 400, "host Required"
	end
	if not header["connection"] or not header["connection"]:lower():find("upgrade", 1, true) then
		return 400, "Connection must Upgrade"
	end
	local key = header["sec-websocket-key"]
	if not key then
		return 400, "Sec-WebSocket-Key Required"
	end
	if #crypt.base64decode(key) ~= 16 then
		return 400, "Sec-WebSocket-Key invalid"
	end
	if header["sec-websocket-version"] ~= "13" then
		return 400, "Sec-WebSocket-Version must 13"
	end
	local sub_protocol = ""
	local wanted = header["sec-websocket-protocol"]
	if wanted then
		for name in wanted:gmatch("[^%s,]+") do
			if name == "chat" then
				sub_protocol = "Sec-WebSocket-Protocol: chat\r\n"
				break
			end
		end
		if sub_protocol == "" then
			return 400, "Sec-WebSocket-Protocol need include chat"
		end
	end
	self.real_ip = header["x-real-ip"] -- set by a proxy in front
	local accept = crypt.base64encode(crypt.sha1(key .. self.guid))
	self.write("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
		.. string_format("Sec-WebSocket-Accept: %s\r\n", accept) .. sub_protocol .. "\r\n")
	return nil, header, url
end

local function try_handle(self, method, ...)
	local f = self.handle and self.handle[method]
	if f then
		f(self.id, ...)
	end
end

local op_code = {
	frame = 0x00, text = 0x01, binary = 0x02, close = 0x08, ping = 0x09, pong = 0x0A,
	[0x00] = "frame", [0x01] = "text", [0x02] = "binary", [0x08] = "close",
	[0x09] = "ping", [0x0A] = "pong",
}

local function write_frame(self, op, payload, masking_key)
	payload = payload or ""
	local len = #payload
	local first = 0x80 | assert(op_code[op], op) -- FIN set: skynet never fragments
	local mask = masking_key and 0x80 or 0
	local head
	if len < 126 then
		head = string_pack("I1I1", first, mask | len)
	elseif len <= 0xffff then
		head = string_pack("I1I1>I2", first, mask | 126, len)
	else
		head = string_pack("I1I1>I8", first, mask | 127, len)
	end
	self.write(head)
	if masking_key then
		local key = string_pack(">I4", masking_key)
		self.write(key)
		payload = crypt.xor_str(payload, key)
	end
	if len > 0 then
		self.write(payload)
	end
end

local function read_close(payload)
	if #payload > 2 then
		return string_unpack(string_format(">I2c%d", #payload - 2), payload)
	end
end

-- fin, op name, payload (unmasked)
local function read_frame(self)
	local b1, b2 = string_unpack("I1I1", self.read(2))
	local fin = (b1 & 0x80) ~= 0
	local op = b1 & 0x0f
	local masked = (b2 & 0x80) ~= 0
	local len = b2 & 0x7f
	if len == 126 then
		len = string_unpack(">I2", self.read(2))
	elseif len == 127 then
		len = string_unpack(">I8", self.read(8))
	end
	if self.mode == "server" and len > MAX_FRAME_SIZE then
		error("payload_len is too large")
	end
	local key = masked and self.read(4) or false
	local payload = len > 0 and self.read(len) or ""
	if key then
		payload = crypt.xor_str(payload, key)
	end
	return fin, assert(op_code[op], "invalid websocket opcode"), payload
end

local function resolve_accept(self, options)
	try_handle(self, "connect")
	local code, err, url = read_handshake(self, options and options.upgrade)
	if code then
		local ok, s = httpd.write_response(self.write, code, err)
		if not ok then
			error(s)
		end
		try_handle(self, "close")
		return
	end
	try_handle(self, "handshake", err, url)
	local parts, size, first_op = {}, 0, nil
	while true do
		if is_closed(self.id) then
			try_handle(self, "close")
			return
		end
		local fin, op, payload = read_frame(self)
		if op == "close" then
			local c, reason = read_close(payload)
			write_frame(self, "close")
			try_handle(self, "close", c, reason)
			break
		elseif op == "ping" then
			write_frame(self, "pong", payload)
			try_handle(self, "ping")
		elseif op == "pong" then
			try_handle(self, "pong")
		elseif fin and #parts == 0 then
			try_handle(self, "message", payload, op)
		else
			parts[#parts + 1] = payload
			size = size + #payload
			if size > MAX_FRAME_SIZE then
				error("payload_len is too large")
			end
			first_op = first_op or op
			if fin then
				try_handle(self, "message", table.concat(parts), first_op)
				parts, size, first_op = {}, 0, nil
			end
		end
	end
end

local function new_ws(socket_id, protocol, mode)
	if protocol ~= "ws" then
		error(string_format("invalid websocket protocol:%s (skykernel has no TLS: ws only)", tostring(protocol)))
	end
	local ws = {
		close = function()
			socket.close(socket_id)
		end,
		read = sockethelper.readfunc(socket_id),
		write = sockethelper.writefunc(socket_id),
		readall = function()
			return socket.readall(socket_id)
		end,
		mode = mode,
		id = assert(socket_id),
		guid = GLOBAL_GUID,
	}
	ws_pool[socket_id] = ws
	return ws
end

-- handle: connect / handshake / message / ping / pong / close / error / warning
function M.accept(socket_id, handle, protocol, addr, options)
	if not (options and options.upgrade) then
		local ok, err = socket.start(socket_id)
		if not ok then
			return false, err
		end
	end
	local ws = new_ws(socket_id, protocol or "ws", "server")
	ws.handle = handle
	ws.addr = addr
	local on_warning = handle and handle.warning
	if on_warning then
		local ok = pcall(socket.warning, socket_id, function(_, sz)
			on_warning(ws, sz)
		end)
		if not ok then
			if not is_closed(socket_id) then
				close_websocket(ws)
			end
			return false, "connect is closed " .. socket_id
		end
	end
	local ok, err = xpcall(resolve_accept, traceback, ws, options)
	local closed = is_closed(socket_id)
	if not closed then
		close_websocket(ws)
	end
	if not ok then
		if err == socket_error then
			if closed then
				try_handle(ws, "close")
			else
				try_handle(ws, "error", err)
			end
		else
			return false, err
		end
	end
	return true
end

function M.connect(url, header, timeout)
	local protocol, host, uri = url:match("^(wss?)://([^/]+)(.*)$")
	if protocol ~= "ws" and protocol ~= "wss" then
		error(string_format("invalid protocol: %s", tostring(protocol)))
	end
	local host_addr, host_port = host:match("^([^:]+):?(%d*)$")
	assert(host_addr and host_port, "invalid websocket host " .. host)
	if host_port == "" then
		host_port = protocol == "ws" and 80 or 443
	end
	if protocol ~= "ws" then
		new_ws(nil, protocol) -- raises: no TLS here
	end
	uri = uri == "" and "/" or uri
	local socket_id = sockethelper.connect(host_addr, host_port, timeout)
	local ws = new_ws(socket_id, protocol, "client")
	ws.addr = host
	local ok, err = pcall(write_handshake, ws, host_addr, uri, header)
	if not ok then
		close_websocket(ws)
		error(err)
	end
	return socket_id
end

-- The next message (text or binary, fragments joined); false and the close payload
-- when the peer closes.
function M.read(id)
	local ws = assert(ws_pool[id], "websocket.read: not a websocket")
	local parts
	while true do
		local fin, op, payload = read_frame(ws)
		if op == "close" then
			close_websocket(ws)
			return false, payload
		elseif op == "ping" then
			write_frame(ws, "pong", payload)
		elseif op ~= "pong" then
			if fin and not parts then
				return payload
			end
			parts = parts or {}
			parts[#parts + 1] = payload
			if fin then
				return table.concat(parts)
			end
		end
	end
end

function M.write(id, data, fmt, masking_key)
	local ws = assert(ws_pool[id], "websocket.write: not a websocket")
	fmt = fmt or "text"
	assert(fmt == "text" or fmt == "binary", "websocket.write: text or binary")
	write_frame(ws, fmt, data, masking_key)
end

function M.ping(id)
	write_frame(assert(ws_pool[id], "websocket.ping: not a websocket"), "ping")
end

function M.addrinfo(id)
	return assert(ws_pool[id], "websocket.addrinfo: not a websocket").addr
end

function M.real_ip(id)
	return assert(ws_pool[id], "websocket.real_ip: not a websocket").real_ip
end

function M.close(id, code, reason)
	local ws = ws_pool[id]
	if not ws then
		return
	end
	local ok, err = xpcall(function()
		local payload
		if code then
			reason = reason or ""
			payload = string_pack(string_format(">I2c%d", #reason), code, reason)
		end
		write_frame(ws, "close", payload)
	end, traceback)
	close_websocket(ws)
	if not ok then
		skynet.error(err)
	end
end

M.is_close = is_closed

return M
