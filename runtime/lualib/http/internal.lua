-- http.internal: HTTP/1.1 message parsing shared by httpd, httpc and websocket
-- (skynet's). `readbytes(n)` reads n bytes, `readbytes()` whatever has arrived.

local tonumber, tostring, type, pairs, error = tonumber, tostring, type, pairs, error
local setmetatable = setmetatable
local string_format = string.format

local M = {}

-- Header bytes read before giving up (skynet's limit).
local LIMIT <const> = 8192

-- A chunk's size line; returns size and what follows it, or nothing on bad input.
local function chunksize(readbytes, body)
	while true do
		local f, e = body:find("\r\n", 1, true)
		if f then
			return tonumber(body:sub(1, f - 1), 16), body:sub(e + 1)
		end
		if #body > 128 then
			return -- a size line this long is an attack, not a chunk
		end
		body = body .. readbytes()
	end
end

local function readcrln(readbytes, body)
	if #body >= 2 then
		if body:sub(1, 2) ~= "\r\n" then
			return
		end
		return body:sub(3)
	end
	body = body .. readbytes(2 - #body)
	if body ~= "\r\n" then
		return
	end
	return ""
end

-- Read up to the blank line; the header lines go to `lines`. Returns what was read
-- after the header, or nothing when the header is longer than LIMIT.
function M.recvheader(readbytes, lines, header)
	if #header >= 2 and header:find("^\r\n") then
		return header:sub(3)
	end
	local rest
	local e = header:find("\r\n\r\n", 1, true)
	if e then
		rest = header:sub(e + 4)
	else
		while true do
			local bytes = readbytes()
			header = header .. bytes
			e = header:find("\r\n\r\n", -#bytes - 3, true)
			if e then
				rest = header:sub(e + 4)
				break
			end
			if header:find("^\r\n") then
				return header:sub(3)
			end
			if #header > LIMIT then
				return
			end
		end
	end
	for line in header:gmatch("(.-)\r\n") do
		if line == "" then
			break
		end
		lines[#lines + 1] = line
	end
	return rest
end

-- Header lines from index `from` into the table `header` (names lowercased, repeated
-- names as lists, a line starting with a tab continues the last one); nil if malformed.
function M.parseheader(lines, from, header)
	local name, value
	for i = from, #lines do
		local line = lines[i]
		if line:byte(1) == 9 then
			if name == nil then
				return
			end
			header[name] = header[name] .. line:sub(2)
		else
			name, value = line:match "^(.-):%s*(.*)"
			if name == nil or value == nil then
				return
			end
			name = name:lower()
			local old = header[name]
			if old == nil then
				header[name] = value
			elseif type(old) == "table" then
				old[#old + 1] = value
			else
				header[name] = { old, value }
			end
		end
	end
	return header
end

-- A chunked body, then its trailer headers; nothing when malformed or over bodylimit.
function M.recvchunkedbody(readbytes, bodylimit, header, body)
	local parts, n = {}, 0
	local size = 0
	while true do
		local sz
		sz, body = chunksize(readbytes, body)
		if not sz then
			return
		end
		if sz == 0 then
			break
		end
		size = size + sz
		if bodylimit and size > bodylimit then
			return
		end
		n = n + 1
		if #body >= sz then
			parts[n] = body:sub(1, sz)
			body = body:sub(sz + 1)
		else
			parts[n] = body .. readbytes(sz - #body)
			body = ""
		end
		body = readcrln(readbytes, body)
		if not body then
			return
		end
	end
	local lines = {}
	body = M.recvheader(readbytes, lines, body)
	if not body then
		return
	end
	header = M.parseheader(lines, 1, header)
	return table.concat(parts, "", 1, n), header
end

local function recvbody(interface, code, header, body)
	local length = tonumber(header["content-length"])
	if length then
		if #body >= length then
			return body:sub(1, length)
		end
		return body .. interface.read(length - #body)
	elseif code == 204 or code == 304 or code < 200 then
		return ""
	end
	-- no length: the body ends with the connection
	return body .. interface.readall()
end

-- Send a request and read the response's status and header. Returns code, the bytes
-- read past the header, and the header table.
function M.request(interface, method, host, url, recvheader, header, content)
	local read, write = interface.read, interface.write
	local lines = {}
	if header then
		if not header.Host then
			header.Host = host
		end
		for k, v in pairs(header) do
			lines[#lines + 1] = string_format("%s:%s\r\n", k, v)
		end
	else
		lines[1] = string_format("host:%s\r\n", host)
	end
	local header_content = table.concat(lines)
	if content then
		if header and header["transfer-encoding"] == "chunked" then
			write(string_format("%s %s HTTP/1.1\r\n%s\r\n", method, url, header_content))
		else
			write(string_format("%s %s HTTP/1.1\r\n%sContent-length:%d\r\n\r\n", method, url,
				header_content, #content))
		end
		write(content)
	else
		write(string_format("%s %s HTTP/1.1\r\n%sContent-length:0\r\n\r\n", method, url, header_content))
	end
	local status = {}
	local body = M.recvheader(read, status, "")
	if not body then
		error("Recv header failed")
	end
	local code = (status[1] or ""):match "^HTTP/[%d%.]+%s+(%d+)"
	code = tonumber(code)
	if not code then
		error("Invalid HTTP response status line: " .. tostring(status[1]))
	end
	local h = M.parseheader(status, 2, recvheader or {})
	if not h then
		error("Invalid HTTP response header")
	end
	return code, body, h
end

-- The response body, by its transfer encoding.
function M.response(interface, code, body, header)
	local mode = header["transfer-encoding"]
	if mode and mode ~= "identity" and mode ~= "chunked" then
		error("Unsupport transfer-encoding")
	end
	if mode == "chunked" then
		body, header = M.recvchunkedbody(interface.read, nil, header, body)
		if not body then
			error("Invalid response body")
		end
		return body
	end
	return recvbody(interface, code, header, body)
end

----- streaming a response body piece by piece (httpc.request_stream)

local stream = {}
stream.__index = stream

function stream:close()
	if self._onclose then
		self._onclose(self)
		self._onclose = nil
	end
end

-- The next piece, and the stream (so `for piece in stream do` works).
function stream:padding()
	return self._reading(self), self
end

stream.__close = stream.close
stream.__call = stream.padding

local function stream_nobody(s)
	s._reading = stream.close
	s.connected = nil
	return ""
end

local function stream_length(length)
	return function(s)
		local body = s._body
		if body == nil then
			local ret, rest = s._interface.read()
			if not ret then
				body = rest
				s.connected = false
			else
				body = ret
			end
		end
		local n = #body
		if n >= length then
			s._reading = stream.close
			s.connected = nil
			return (body:sub(1, length))
		end
		length = length - n
		s._body = nil
		if not s.connected then
			s._reading = stream.close
		end
		return body
	end
end

local function stream_read(s)
	local ret, rest = s._interface.read()
	if ret == "" or not ret then
		s.connected = nil
		s:close()
		if rest == "" then
			return
		end
		return rest
	end
	return ret
end

local function stream_all(s)
	local body = s._body
	s._body = nil
	s._reading = stream_read
	return body
end

local function stream_chunked(s)
	local read = s._interface.read
	local sz, body = chunksize(read, s._body)
	if not sz then
		s.connected = false
		s:close()
		return
	end
	if sz == 0 then
		local lines = {}
		body = M.recvheader(read, lines, body)
		if not body then
			s.connected = false
			s:close()
			return
		end
		M.parseheader(lines, 1, s.header)
		s._reading = stream.close
		s.connected = nil
		return ""
	end
	local remain
	if #body >= sz then
		remain = body:sub(sz + 1)
		body = body:sub(1, sz)
	else
		body = body .. read(sz - #body)
		remain = ""
	end
	remain = readcrln(read, remain)
	if not remain then
		s.connected = false
		s:close()
		return
	end
	s._body = remain
	return body
end

function M.response_stream(interface, code, body, header)
	local mode = header["transfer-encoding"]
	if mode and mode ~= "identity" and mode ~= "chunked" then
		error("Unsupport transfer-encoding")
	end
	local reader
	if mode == "chunked" then
		reader = stream_chunked
	else
		local length = tonumber(header["content-length"])
		if length then
			reader = stream_length(length)
		elseif code == 204 or code == 304 or code < 200 then
			reader = stream_nobody
		else
			reader = stream_all
		end
	end
	return setmetatable({
		status = code,
		_body = body,
		_interface = interface,
		_reading = reader,
		header = header,
		connected = true,
	}, stream)
end

return M
