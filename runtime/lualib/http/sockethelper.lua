-- http.sockethelper: read and write functions over a skynet socket that raise
-- `socket_error` when the connection is gone, and a connect with a timeout (skynet's).

local socket = require "skynet.socket"
local skynet = require "skynet"

local error, tostring, setmetatable = error, tostring, setmetatable

local readbytes = socket.read
local writebytes = socket.write

local sockethelper = {}

-- The error object: calling it with a text makes tostring show that text (once).
local socket_error = setmetatable({}, {
	__tostring = function(self)
		local info = self.err_info
		self.err_info = nil
		return info or "[Socket Error]"
	end,
	__call = function(self, info)
		self.err_info = "[Socket Error] : " .. tostring(info)
		return self
	end,
})
sockethelper.socket_error = socket_error

local function read_or_raise(fd, sz)
	local ret = readbytes(fd, sz)
	if ret then
		return ret
	end
	error(socket_error("read failed fd = " .. fd))
end

-- read(sz): sz bytes, or (sz nil) whatever is there; `pre` is served first.
function sockethelper.readfunc(fd, pre)
	if not pre then
		return function(sz)
			return read_or_raise(fd, sz)
		end
	end
	return function(sz)
		if pre == nil then
			return read_or_raise(fd, sz)
		end
		local n = #pre
		if sz == nil or sz == n then
			local ret = pre
			pre = nil
			return ret
		end
		if sz < n then
			local ret = pre:sub(1, sz)
			pre = pre:sub(sz + 1)
			return ret
		end
		local head = pre
		pre = nil
		return head .. read_or_raise(fd, sz - n)
	end
end

sockethelper.readall = socket.readall

function sockethelper.writefunc(fd)
	return function(content)
		if not writebytes(fd, content) then
			error(socket_error("write failed fd = " .. fd))
		end
	end
end

-- Connect, giving up after `timeout` centiseconds (a connection made later is closed).
function sockethelper.connect(host, port, timeout)
	local fd, err
	local timed_out = false
	if timeout then
		timed_out = true
		local abandoned = false
		local co = coroutine.running()
		skynet.fork(function()
			fd, err = socket.open(host, port)
			if abandoned then
				if fd then
					socket.close(fd)
				end
			else
				timed_out = false
				skynet.wakeup(co)
			end
		end)
		skynet.sleep(timeout)
		if not fd then
			abandoned = true
		end
	else
		timed_out = false
		fd, err = socket.open(host, port)
	end
	if fd then
		return fd
	end
	error(socket_error("connect failed host = " .. host .. " port = " .. tostring(port)
		.. " timeout = " .. tostring(timeout) .. " err = " .. tostring(err)
		.. " is_time_out = " .. tostring(timed_out)))
end

function sockethelper.close(fd)
	socket.close(fd)
end

function sockethelper.shutdown(fd)
	socket.shutdown(fd)
end

return sockethelper
