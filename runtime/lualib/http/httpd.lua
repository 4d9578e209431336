-- http.httpd: read an HTTP/1.x request and write a response (skynet's). The caller
-- owns the socket: pass sockethelper's read and write functions.
--
--   code, url, method, header, body = httpd.read_request(readbytes, bodylimit)
--     (code 200 when the request is good; an HTTP error code otherwise; nil and an
--     error when reading failed)
--   ok, err = httpd.write_response(writefunc, code, body, header)
--     (body: a string, a function giving pieces until nil (chunked), or nil)

local internal = require "http.internal"

local string_format = string.format
local type, assert, tonumber, pcall, ipairs, pairs = type, assert, tonumber, pcall, ipairs, pairs

local httpd = {}

local http_status_msg = {
	[100] = "Continue",
	[101] = "Switching Protocols",
	[200] = "OK",
	[201] = "Created",
	[202] = "Accepted",
	[203] = "Non-Authoritative Information",
	[204] = "No Content",
	[205] = "Reset Content",
	[206] = "Partial Content",
	[300] = "Multiple Choices",
	[301] = "Moved Permanently",
	[302] = "Found",
	[303] = "See Other",
	[304] = "Not Modified",
	[305] = "Use Proxy",
	[307] = "Temporary Redirect",
	[400] = "Bad Request",
	[401] = "Unauthorized",
	[402] = "Payment Required",
	[403] = "Forbidden",
	[404] = "Not Found",
	[405] = "Method Not Allowed",
	[406] = "Not Acceptable",
	[407] = "Proxy Authentication Required",
	[408] = "Request Time-out",
	[409] = "Conflict",
	[410] = "Gone",
	[411] = "Length Required",
	[412] = "Precondition Failed",
	[413] = "Request Entity Too Large",
	[414] = "Request-URI Too Large",
	[415] = "Unsupported Media Type",
	[416] = "Requested range not satisfiable",
	[417] = "Expectation Failed",
	[500] = "Internal Server Error",
	[501] = "Not Implemented",
	[502] = "Bad Gateway",
	[503] = "Service Unavailable",
	[504] = "Gateway Time-out",
	[505] = "HTTP Version not supported",
}

local function readall(readbytes, bodylimit)
	local lines = {}
	local body = internal.recvheader(readbytes, lines, "")
	if not body then
		return 413 -- the header is too long
	end
	local request = assert(lines[1], "empty request")
	local method, url, httpver = request:match "^(%a+)%s+(.-)%s+HTTP/([%d%.]+)$"
	assert(method and url and httpver, "invalid request line")
	httpver = assert(tonumber(httpver))
	if httpver < 1.0 or httpver > 1.1 then
		return 505
	end
	local header = internal.parseheader(lines, 2, {})
	if not header then
		return 400
	end
	local length = tonumber(header["content-length"])
	local mode = header["transfer-encoding"]
	if mode and mode ~= "identity" and mode ~= "chunked" then
		return 501
	end
	if mode == "chunked" then
		body, header = internal.recvchunkedbody(readbytes, bodylimit, header, body)
		if not body then
			return 413
		end
	elseif length then
		if bodylimit and length > bodylimit then
			return 413
		end
		if #body >= length then
			body = body:sub(1, length)
		else
			body = body .. readbytes(length - #body)
		end
	end
	return 200, url, method, header, body
end

function httpd.read_request(...)
	local ok, code, url, method, header, body = pcall(readall, ...)
	if ok then
		return code, url, method, header, body
	end
	return nil, code
end

local function writeall(writefunc, statuscode, bodyfunc, header)
	writefunc(string_format("HTTP/1.1 %03d %s\r\n", statuscode, http_status_msg[statuscode] or ""))
	if header then
		for k, v in pairs(header) do
			if type(v) == "table" then
				for _, item in ipairs(v) do
					writefunc(string_format("%s: %s\r\n", k, item))
				end
			else
				writefunc(string_format("%s: %s\r\n", k, v))
			end
		end
	end
	local t = type(bodyfunc)
	if t == "string" then
		writefunc(string_format("content-length: %d\r\n\r\n", #bodyfunc))
		writefunc(bodyfunc)
	elseif t == "function" then
		writefunc("transfer-encoding: chunked\r\n")
		while true do
			local s = bodyfunc()
			if s == nil then
				writefunc("\r\n0\r\n\r\n")
				break
			end
			if s ~= "" then
				writefunc(string_format("\r\n%x\r\n", #s))
				writefunc(s)
			end
		end
	else
		assert(t == "nil", "response body must be a string, a function or nil")
		writefunc("\r\n")
	end
end

function httpd.write_response(...)
	return pcall(writeall, ...)
end

return httpd
