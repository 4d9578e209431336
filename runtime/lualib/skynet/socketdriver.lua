-- skynet.socketdriver: what skynet's C module lua-socket gives a service, over the node.
--
-- Requests go to the node's socket server (skykernel/node/net/) as the node command
-- SOCKET; its events come back as `socket` protocol messages, whose payload `unpack`
-- reads: a 9-byte header (type, id, ud: little-endian u8, u32, u32), then the data.
--
-- The read buffers are Lua tables of strings here (skynet keeps C lists of malloc'ed
-- blocks); a message is already a Lua string, so `drop` and `str2p` have nothing to do.

local core = require "skynet.core"

local command = core.command
local error, type, tostring, select = error, type, tostring, select
local string_unpack, string_sub, string_find = string.unpack, string.sub, string.find
local table_concat = table.concat

local driver = {}

-- A request that failed answers (nil, message): raise the message, as the C driver does.
local function request(op, ...)
	local r, err = command("SOCKET", op, ...)
	if r == nil and err ~= nil then
		error(tostring(err), 3)
	end
	return r, err
end

----- the socket message

local HEADER <const> = "<BI4I4"
local SOCKET_UDP <const> = 6

function driver.unpack(msg, sz)
	local t, id, ud = string_unpack(HEADER, msg)
	if t == SOCKET_UDP then
		-- the datagram, then the sender's address (for sendto)
		return t, id, ud, string_sub(msg, 10, 9 + ud), string_sub(msg, 10 + ud)
	end
	return t, id, ud, string_sub(msg, 10)
end

----- requests

function driver.listen(host, port, backlog)
	return (request("listen", host, port, backlog))
end

function driver.connect(host, port)
	return (request("connect", host, port))
end

function driver.close(id)
	command("SOCKET", "close", id)
end

function driver.shutdown(id)
	command("SOCKET", "shutdown", id)
end

function driver.start(id)
	command("SOCKET", "start", id)
end

function driver.pause(id)
	command("SOCKET", "pause", id)
end

function driver.nodelay(id)
	command("SOCKET", "nodelay", id)
end

function driver.bind(fd)
	error("socketdriver.bind is not supported by skykernel (no raw descriptors)", 2)
end

-- Data to send: a string, a (string, size) pair as netpack.pack returns, or a table of
-- strings (sent as one piece, as skynet does).
local function payload(msg, sz)
	local t = type(msg)
	if t == "string" then
		if sz and sz < #msg then
			return string_sub(msg, 1, sz)
		end
		return msg
	elseif t == "table" then
		return table_concat(msg)
	end
	error("socket send: string or table expected, got " .. t, 3)
end

-- The socket write (fetched on the first write, which starts the socket server if
-- nothing else has): a write is on the path of every packet. The server answers its own
-- write and, where the node has its C, the key of its table there and the library: the
-- C (skykernel/node/native/directwrite.c) then writes what it can, and calls the
-- server's write only for what it cannot finish.
local loadlib = package.loadlib
local send

local function writer()
	local write, key, lib = command("SOCKET", "sender")
	if write == nil then
		error(tostring(key), 3)
	end
	local open = key and loadlib(lib, "luaopen_skykernel_directwrite")
	if not open then
		return core.direct(write)
	end
	local direct = open()
	return core.direct(function(id, data)
		return direct(key, write, id, data)
	end)
end

function driver.send(id, msg, sz)
	local data = payload(msg, sz)
	if send == nil then
		send = writer()
	end
	return send(id, data)
end

function driver.lsend(id, msg, sz)
	return command("SOCKET", "lsend", id, payload(msg, sz))
end

-- skynet's sendbuffer variants take the same arguments here
driver.sendbuffer = driver.send
driver.lsendbuffer = driver.lsend

function driver.udp(host, port)
	return (request("udp", host, port))
end

function driver.udp_listen(host, port)
	return (request("udp_listen", host, port))
end

function driver.udp_dial(host, port)
	return (request("udp_dial", host, port))
end

function driver.udp_connect(id, host, port)
	request("udp_connect", id, host, port)
end

function driver.udp_send(id, address, msg, sz)
	return command("SOCKET", "udp_send", id, address, payload(msg, sz))
end

function driver.udp_address(address)
	return request("udp_address", address)
end

function driver.resolve(host)
	local list = table.pack(request("resolve", host))
	list.n = nil
	return list
end

function driver.info()
	local seri = require "skynet.seri"
	return seri.unpack(command("SOCKET", "info"))
end

----- big-endian headers

local HEADER_FORMAT <const> = { ">I1", ">I2", ">I3", ">I4" }

function driver.header(s)
	local format = HEADER_FORMAT[#s]
	if format == nil then
		error("Invalid read " .. tostring(s), 2)
	end
	return (string_unpack(format, s))
end

----- read buffers: { size = bytes held, [first..last] = strings, first, last, offset }
-- offset: bytes of the first string already read.

function driver.buffer()
	return { size = 0, first = 1, last = 0, offset = 0 }
end

function driver.push(buffer, pool, data, size)
	if data == nil or data == "" then
		return buffer.size
	end
	local last = buffer.last + 1
	buffer.last = last
	buffer[last] = data
	buffer.size = buffer.size + #data
	return buffer.size
end

-- Take n bytes (n <= size) from the front, dropping `skip` bytes at their end.
local function take(buffer, n, skip)
	local first, offset = buffer.first, buffer.offset
	local head = buffer[first]
	local avail = #head - offset
	buffer.size = buffer.size - n
	if n < avail then
		buffer.offset = offset + n
		return string_sub(head, offset + 1, offset + n - skip)
	elseif n == avail then
		-- the rest of the first block (a packet's body after its header): no pieces to join
		buffer[first] = nil
		buffer.first, buffer.offset = first + 1, 0
		if offset == 0 and skip == 0 then
			return head
		end
		return string_sub(head, offset + 1, avail + offset - skip)
	end
	local parts, np = {}, 0
	local want = n
	while want > 0 do
		head = buffer[first]
		avail = #head - offset
		if want < avail then
			np = np + 1
			parts[np] = string_sub(head, offset + 1, offset + want)
			offset = offset + want
			want = 0
		else
			np = np + 1
			parts[np] = offset == 0 and head or string_sub(head, offset + 1)
			buffer[first] = nil
			first = first + 1
			offset = 0
			want = want - avail
		end
	end
	buffer.first, buffer.offset = first, offset
	local s = np == 1 and parts[1] or table_concat(parts, "", 1, np)
	if skip > 0 then
		s = string_sub(s, 1, #s - skip)
	end
	return s
end

function driver.pop(buffer, pool, n)
	if n == 0 or buffer.size < n then
		return nil, buffer.size
	end
	return take(buffer, n, 0), buffer.size
end

function driver.readall(buffer, pool)
	if buffer.size == 0 then
		return ""
	end
	return take(buffer, buffer.size, 0)
end

function driver.clear(buffer, pool)
	for i = buffer.first, buffer.last do
		buffer[i] = nil
	end
	buffer.first, buffer.last, buffer.offset, buffer.size = 1, 0, 0, 0
end

-- The buffered bytes as one string (kept as the only block), so a separator that spans
-- blocks is found with one search.
local function flatten(buffer)
	local first, last = buffer.first, buffer.last
	if first == last then
		return buffer[first], buffer.offset
	end
	local parts, np = {}, 0
	for i = first, last do
		np = np + 1
		parts[np] = i == first and string_sub(buffer[i], buffer.offset + 1) or buffer[i]
		buffer[i] = nil
	end
	local s = table_concat(parts, "", 1, np)
	buffer[first] = s
	buffer.last = first
	buffer.offset = 0
	return s, 0
end

-- With a pool table: pop the line (without sep). Without one: only say whether a line
-- is there, as skynet's check mode does.
function driver.readline(buffer, pool, sep)
	if buffer.size == 0 then
		return nil
	end
	local s, offset = flatten(buffer)
	local at = string_find(s, sep, offset + 1, true)
	if at == nil then
		return nil
	end
	if type(pool) ~= "table" then
		return true
	end
	return take(buffer, at - offset + #sep - 1, #sep)
end

function driver.drop(data, size) end

function driver.str2p(s)
	return s, #s
end

return driver
