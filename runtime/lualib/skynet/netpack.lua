-- skynet.netpack: packets framed by a 2-byte big-endian length, as skynet's lua-netpack.
--
-- `filter(queue, msg, sz)` reads a `socket` message and answers with the queue and what
-- happened: "data" fd msg sz (one whole packet), "more" (several: pop them), "open" fd
-- addr, "close" fd, "error" fd text, "warning" fd size, "init" id addr port (a listen's
-- address), or nothing (a packet is not complete yet). The queue is a table here; it
-- also keeps each connection's incomplete packet.

local error, type = error, type
local string_byte, string_sub = string.byte, string.sub
local string_pack, string_unpack = string.pack, string.unpack
local table_concat = table.concat

local netpack = {}

local HEADER <const> = "<BI4I4"
local MAX_PACKET <const> = 0xffff

-- queue: { head, tail, [i] = fd, [i + 1] = msg, partial = { [fd] = incomplete packet } }
-- incomplete packet: { size = bytes wanted (nil while only the first header byte is
-- known), byte = that first byte, parts = { strings }, got = bytes held }
local function new_queue()
	return { head = 1, tail = 0, partial = {} }
end

local function push(q, fd, msg)
	local tail = q.tail
	q[tail + 1] = fd
	q[tail + 2] = msg
	q.tail = tail + 2
end

-- Whole packets in data from pos on go to the queue; a trailing piece is kept.
local function push_rest(q, fd, data, pos, n)
	while pos <= n do
		if pos == n then
			q.partial[fd] = { byte = string_byte(data, pos), got = 0 }
			return
		end
		local hi, lo = string_byte(data, pos, pos + 1)
		local size = hi * 256 + lo
		pos = pos + 2
		local avail = n - pos + 1
		if avail < size then
			q.partial[fd] = { size = size, parts = { string_sub(data, pos) }, got = avail }
			return
		end
		push(q, fd, string_sub(data, pos, pos + size - 1))
		pos = pos + size
	end
end

-- The data starts at `pos` of the socket message (after its header): it is read in
-- place, not copied out first.
local function filter_data(q, fd, data, pos)
	local n = #data
	local u = q.partial[fd]
	if u then
		q.partial[fd] = nil
		if u.size == nil then
			-- the first header byte came alone
			u.size = u.byte * 256 + string_byte(data, pos)
			u.parts = {}
			u.got = 0
			pos = pos + 1
		end
		local need = u.size - u.got
		local avail = n - pos + 1
		if avail < need then
			u.parts[#u.parts + 1] = string_sub(data, pos)
			u.got = u.got + avail
			q.partial[fd] = u
			return q
		end
		local parts = u.parts
		parts[#parts + 1] = string_sub(data, pos, pos + need - 1)
		local msg = table_concat(parts)
		pos = pos + need
		if pos > n then
			return q, "data", fd, msg, #msg
		end
		push(q, fd, msg)
		push_rest(q, fd, data, pos, n)
		return q, "more"
	end
	if pos == n then
		q.partial[fd] = { byte = string_byte(data, pos), got = 0 }
		return q
	end
	local hi, lo = string_byte(data, pos, pos + 1)
	local size = hi * 256 + lo
	local avail = n - pos - 1
	if avail < size then
		q.partial[fd] = { size = size, parts = { string_sub(data, pos + 2) }, got = avail }
		return q
	end
	if avail == size then
		local msg = string_sub(data, pos + 2)
		return q, "data", fd, msg, size
	end
	push(q, fd, string_sub(data, pos + 2, pos + 1 + size))
	push_rest(q, fd, data, pos + 2 + size, n)
	return q, "more"
end

function netpack.filter(q, msg, sz)
	if q == nil then
		q = new_queue()
	end
	local t, id, ud = string_unpack(HEADER, msg)
	if t == 1 then -- data
		if #msg > 9 then
			return filter_data(q, id, msg, 10)
		end
		return q -- no bytes (the node never sends such a message): nothing to frame
	elseif t == 2 then -- a listen's address, or a start / connect taking effect
		return q, "init", id, string_sub(msg, 10), ud
	elseif t == 3 then -- close: an incomplete packet is dropped
		q.partial[id] = nil
		return q, "close", id
	elseif t == 4 then -- accept: the new connection's id and address
		return q, "open", ud, string_sub(msg, 10)
	elseif t == 5 then
		q.partial[id] = nil
		return q, "error", id, string_sub(msg, 10)
	elseif t == 7 then
		return q, "warning", id, ud
	end
	return q
end

function netpack.pop(q)
	if q == nil then
		return
	end
	local head = q.head
	if head > q.tail then
		return
	end
	local fd, msg = q[head], q[head + 1]
	q[head], q[head + 1] = nil, nil
	if head + 2 > q.tail then
		q.head, q.tail = 1, 0
	else
		q.head = head + 2
	end
	return fd, msg, #msg
end

-- A packet for the wire: the 2-byte length, then the data. Returns (msg, sz).
function netpack.pack(msg, sz)
	if type(msg) ~= "string" then
		error("netpack.pack: string expected, got " .. type(msg), 2)
	end
	if sz and sz < #msg then
		msg = string_sub(msg, 1, sz)
	end
	local len = #msg
	if len > MAX_PACKET then
		error(string.format("Invalid size (too long) of data : %d", len), 2)
	end
	return string_pack(">s2", msg), len + 2
end

function netpack.tostring(msg, sz)
	if msg == nil then
		return ""
	end
	if sz and sz < #msg then
		return string_sub(msg, 1, sz)
	end
	return msg
end

function netpack.clear(q)
	if q == nil then
		return
	end
	for i = q.head, q.tail do
		q[i] = nil
	end
	q.head, q.tail = 1, 0
	q.partial = {}
end

return netpack
