-- skynet.cluster.core: the cluster wire format, as skynet's C module lua-cluster, in Lua.
--
-- Every packet starts with a 2-byte big-endian length; numbers inside are little-endian
-- u32. A message longer than 32 KB goes in parts, each at most 32 KB.
--
-- Requests (first byte):
--   0x00 addr session msg           a request (session 0: a push) to a numeric address
--   0x80 namelen name session msg   the same to a named service
--   0x01 / 0x41 addr session size   a long request / push to an address; parts follow
--   0x81 / 0xc1 namelen name session size   the same to a name
--   0x02 / 0x03 session part        a part; 0x03 is the last
--   0x04 tag                        a trace tag for the next request
-- Responses: session, then a byte: 0 error (the message), 1 ok (the reply), 2 a long
-- reply begins (u32 size), 3 a part, 4 the last part.
--
-- Messages are Lua strings here (skynet passes C pointers): `sz` is accepted and used
-- only to cut a longer string.

local error, type, tostring = error, type, tostring
local string_pack, string_unpack, string_sub, string_byte = string.pack, string.unpack, string.sub, string.byte
local string_format = string.format
local table_concat = table.concat

local core = {}

local MULTI_PART <const> = 0x8000

local function body(msg, sz)
	if type(msg) ~= "string" then
		error("Invalid request message", 3)
	end
	if sz and sz < #msg then
		return string_sub(msg, 1, sz)
	end
	return msg
end

local function frame(payload)
	return string_pack(">s2", payload)
end

-- The parts of a long message, each framed: 0x02 session part ... 0x03 session last.
local function parts(session, msg)
	local list, n = {}, 0
	local size = #msg
	local pos = 1
	while pos <= size do
		local last = pos + MULTI_PART - 1 >= size
		local piece = string_sub(msg, pos, pos + MULTI_PART - 1)
		n = n + 1
		list[n] = frame(string_pack("<BI4", last and 3 or 2, session) .. piece)
		pos = pos + MULTI_PART
	end
	return list
end

local function packrequest(addr, session, msg, sz, is_push)
	msg = body(msg, sz)
	session = math.tointeger(session)
	if session == nil or session <= 0 then
		error(string_format("Invalid request session %s", tostring(session)), 3)
	end
	local size = #msg
	local head
	if type(addr) == "number" then
		if size < MULTI_PART then
			head = frame(string_pack("<BI4I4", 0, addr, is_push and 0 or session) .. msg)
		else
			head = frame(string_pack("<BI4I4I4", is_push and 0x41 or 1, addr, session, size))
		end
	else
		if type(addr) ~= "string" then
			error(string_format("name is not a string, it's a %s", type(addr)), 3)
		end
		local namelen = #addr
		if namelen < 1 or namelen > 255 then
			error(string_format("name length is invalid, must be between 1 and 255 characters: %s", addr), 3)
		end
		if size < MULTI_PART then
			head = frame(string_pack("<Bs1I4", 0x80, addr, is_push and 0 or session) .. msg)
		else
			head = frame(string_pack("<Bs1I4I4", is_push and 0xc1 or 0x81, addr, session, size))
		end
	end
	local next_session = session + 1
	if next_session > 0x7fffffff then
		next_session = 1
	end
	if size < MULTI_PART then
		return head, next_session
	end
	return head, next_session, parts(session, msg)
end

function core.packrequest(addr, session, msg, sz)
	return packrequest(addr, session, msg, sz, false)
end

function core.packpush(addr, session, msg, sz)
	return packrequest(addr, session, msg, sz, true)
end

function core.packtrace(tag)
	if #tag > MULTI_PART then
		error(string_format("trace tag is too long : %d", #tag), 2)
	end
	return frame("\4" .. tag)
end

-- A request packet (without its length). Returns, by kind:
--   addr, session, msg, sz                  (push: then nil, true)
--   addr, session, nil, size, true, is_push a long request's header
--   false, session, part, sz, more          a part (more: further parts follow)
--   tag                                     a trace tag
function core.unpackrequest(msg, sz)
	msg = body(msg, sz)
	local n = #msg
	if n == 0 then
		error("Invalid req package. size == 0", 2)
	end
	local kind = string_byte(msg, 1)
	if kind == 0 then
		if n < 9 then
			error(string_format("Invalid cluster message (size=%d)", n), 2)
		end
		local addr, session = string_unpack("<I4I4", msg, 2)
		local data = string_sub(msg, 10)
		if session == 0 then
			return addr, session, data, #data, nil, true
		end
		return addr, session, data, #data
	elseif kind == 1 or kind == 0x41 then
		if n ~= 13 then
			error(string_format("Invalid cluster message size %d (multi req must be 13)", n), 2)
		end
		local addr, session, size = string_unpack("<I4I4I4", msg, 2)
		return addr, session, nil, size, true, kind == 0x41
	elseif kind == 2 or kind == 3 then
		if n < 5 then
			error("Invalid cluster multi part message", 2)
		end
		local session = string_unpack("<I4", msg, 2)
		local data = string_sub(msg, 6)
		return false, session, data, #data, kind == 2
	elseif kind == 4 then
		return string_sub(msg, 2)
	elseif kind == 0x80 or kind == 0xc1 or kind == 0x81 then
		local namelen = n >= 2 and string_byte(msg, 2) or 0
		local long = kind ~= 0x80
		if n < 2 or n < namelen + (long and 10 or 6) then
			error(string_format("Invalid cluster message (size=%d)", n), 2)
		end
		local name = string_sub(msg, 3, 2 + namelen)
		if long then
			local session, size = string_unpack("<I4I4", msg, 3 + namelen)
			return name, session, nil, size, true, kind == 0xc1
		end
		local session = string_unpack("<I4", msg, 3 + namelen)
		local data = string_sub(msg, 7 + namelen)
		if session == 0 then
			return name, session, data, #data, nil, true
		end
		return name, session, data, #data
	end
	error(string_format("Invalid req package type %d", kind), 2)
end

-- A response: one framed string, or (a long reply) a table of framed strings. An error
-- message longer than 32 KB is cut.
function core.packresponse(session, ok, msg, sz)
	if type(msg) ~= "string" then
		msg = msg == nil and "" or tostring(msg)
	end
	if sz and sz < #msg then
		msg = string_sub(msg, 1, sz)
	end
	local size = #msg
	if not ok then
		if size > MULTI_PART then
			msg = string_sub(msg, 1, MULTI_PART)
		end
		return frame(string_pack("<I4B", session, 0) .. msg)
	end
	if size <= MULTI_PART then
		return frame(string_pack("<I4B", session, 1) .. msg)
	end
	local list = { frame(string_pack("<I4BI4", session, 2, size)) }
	local pos, n = 1, 1
	while pos <= size do
		local last = pos + MULTI_PART - 1 >= size
		n = n + 1
		list[n] = frame(string_pack("<I4B", session, last and 4 or 3) .. string_sub(msg, pos, pos + MULTI_PART - 1))
		pos = pos + MULTI_PART
	end
	return list
end

-- session, ok, data[, padding]: for a long reply's start, data is its size and padding
-- true; for a middle part, padding is true. Nothing for a malformed packet.
function core.unpackresponse(msg)
	local n = #msg
	if n < 5 then
		return
	end
	local session, kind = string_unpack("<I4B", msg)
	if kind == 0 then
		return session, false, string_sub(msg, 6)
	elseif kind == 1 or kind == 4 then
		return session, true, string_sub(msg, 6)
	elseif kind == 2 then
		if n ~= 9 then
			return
		end
		return session, true, (string_unpack("<I4", msg, 6)), true
	elseif kind == 3 then
		return session, true, string_sub(msg, 6), true
	end
end

-- Gather a long message: the header's size (msg nil), then each part.
function core.append(req, msg, sz)
	if type(req) ~= "table" then
		error("cluster.append: table expected", 2)
	end
	if msg == nil then
		req[#req + 1] = sz
	else
		req[#req + 1] = body(msg, sz)
	end
end

-- The parts gathered after their size: msg, sz, or nothing if they do not add up.
function core.concat(req)
	if type(req) ~= "table" then
		return
	end
	local size = req[1]
	if math.type(size) ~= "integer" then
		return
	end
	local msg = table_concat(req, "", 2)
	if #msg ~= size then
		return
	end
	return msg, size
end

function core.isname(name)
	if type(name) == "string" and string_byte(name, 1) == 64 then -- '@'
		return true
	end
end

-- hostname .. pid, as skynet names a node that has no name of its own.
function core.nodename()
	local host = "noname"
	local f = io.open("/proc/sys/kernel/hostname", "r")
	if f then
		host = (f:read("l") or host):gsub("[%c%s]", "_")
		f:close()
	end
	local pid = "0"
	f = io.open("/proc/self/stat", "r")
	if f then
		pid = (f:read("l") or ""):match("^(%d+)") or pid
		f:close()
	end
	return host .. pid
end

return core
