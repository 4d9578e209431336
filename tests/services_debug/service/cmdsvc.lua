-- A typical service: a CMD table dispatched by name (the hot-fix target of inject).
local skynet = require "skynet"
require "skynet.manager"

local CMD = {}
local count = 0

function CMD.get()
	count = count + 1
	return "v1", count
end

function CMD.echo(...)
	return ...
end

function CMD.block(ti)
	skynet.sleep(ti)
	return "woke"
end

skynet.start(function()
	skynet.dispatch("lua", function(session, source, cmd, ...)
		local f = assert(CMD[cmd], cmd)
		skynet.ret(skynet.pack(f(...)))
	end)
	skynet.info_func(function(...)
		return { count = count, args = select("#", ...) }
	end)
	skynet.register(".cmdsvc")
end)
