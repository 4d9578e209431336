-- http.httpc: an HTTP/1.1 client (skynet's): request, get, post, head, request_stream.
-- `host` is "[http://]name-or-ip[:port]"; httpc.timeout (centiseconds) bounds the whole
-- exchange. skykernel speaks plain http only: an https URL raises an error.

local skynet = require "skynet"
local socket = require "http.sockethelper"
local internal = require "http.internal"

local string_format = string.format
local pcall, error, pairs, tostring = pcall, error, pairs, tostring

local httpc = {}

local default_port = { http = 80, https = 443 }

-- host, port (or nil), and what kind of host it is
local function parse_host(host)
	local colon1 = host:find(":", 1, true)
	if not colon1 then
		return host, nil, host:find("^%d+%.%d+%.%d+%.%d+$") and "ipv4" or "hostname"
	end
	if host:find(":", colon1 + 1, true) then
		local ipv6, port = host:match("^%[(.-)%]:?(%d*)$")
		if ipv6 then
			return ipv6, port ~= "" and tonumber(port) or nil, "ipv6"
		end
		error(string_format("Invalid host: bare IPv6 address '%s', use '[%s]' instead", host, host))
	end
	local h, port = host:match("^(.-):(%d+)$")
	if h then
		return h, tonumber(port), h:find("^%d+%.%d+%.%d+%.%d+$") and "ipv4" or "hostname"
	end
	return host, nil, "hostname"
end

local function parse_url(host)
	local protocol, hostname = host:match "^(%a+)://(.*)"
	if protocol then
		protocol = protocol:lower()
	else
		protocol, hostname = "http", host
	end
	local hostheader = hostname
	local name, port, htype = parse_host(hostname)
	port = port or default_port[protocol]
	if not port then
		error("Invalid protocol: " .. protocol)
	end
	return protocol, name, port, htype, hostheader
end

local function gen_interface(protocol, fd)
	if protocol ~= "http" then
		error(string_format("Invalid protocol: %s (skykernel has no TLS: plain http only)", protocol))
	end
	return {
		read = socket.readfunc(fd),
		write = socket.writefunc(fd),
		readall = function()
			return socket.readall(fd)
		end,
	}
end

local function connect(host, timeout)
	local protocol, hostname, port, _, hostheader = parse_url(host)
	if protocol ~= "http" then
		gen_interface(protocol) -- raises the error before connecting
	end
	local fd = socket.connect(hostname, port, timeout)
	local interface = gen_interface(protocol, fd)
	if timeout then
		skynet.timeout(timeout, function()
			if not interface.finish then
				socket.shutdown(fd) -- the exchange took too long: cut it
			end
		end)
	end
	return fd, interface, hostheader
end

local function close_interface(interface, fd)
	interface.finish = true
	socket.close(fd)
end

function httpc.request(method, hostname, url, recvheader, header, content)
	local fd, interface, host = connect(hostname, httpc.timeout)
	local ok, statuscode, body, h = pcall(internal.request, interface, method, host, url, recvheader,
		header, content)
	if ok then
		ok, body = pcall(internal.response, interface, statuscode, body, h)
	end
	close_interface(interface, fd)
	if ok then
		return statuscode, body
	end
	error(body or statuscode)
end

function httpc.head(hostname, url, recvheader, header, content)
	local fd, interface, host = connect(hostname, httpc.timeout)
	local ok, statuscode = pcall(internal.request, interface, "HEAD", host, url, recvheader, header,
		content)
	close_interface(interface, fd)
	if ok then
		return statuscode
	end
	error(statuscode)
end

function httpc.request_stream(method, hostname, url, recvheader, header, content)
	local fd, interface, host = connect(hostname, httpc.timeout)
	local ok, statuscode, body, h = pcall(internal.request, interface, method, host, url, recvheader,
		header, content)
	interface.finish = true -- a stream outlives the timeout
	local function close_fd()
		close_interface(interface, fd)
	end
	if not ok then
		close_fd()
		error(statuscode)
	end
	local stream = internal.response_stream(interface, statuscode, body, h)
	stream._onclose = close_fd
	return stream
end

function httpc.get(...)
	return httpc.request("GET", ...)
end

local function escape(s)
	return (tostring(s):gsub("([^A-Za-z0-9_])", function(c)
		return string_format("%%%02X", c:byte())
	end))
end

function httpc.post(host, url, form, recvheader)
	local header = { ["content-type"] = "application/x-www-form-urlencoded" }
	local body = {}
	for k, v in pairs(form) do
		body[#body + 1] = string_format("%s=%s", escape(k), escape(v))
	end
	return httpc.request("POST", host, url, recvheader, header, table.concat(body, "&"))
end

-- skynet resolves names through its own dns service when asked; here the node's
-- resolver (getaddrinfo) always does, so this only accepts the call.
function httpc.dns() end

return httpc
