-- debug_agent: one debug session of the console's `debug ADDR`. It attaches the service
-- to the console's channel (REMOTEDEBUG), answers when the session ends, and exits.
local skynet = require "skynet"
local debugchannel = require "skynet.debugchannel"

local CMD = {}
local channel

-- `handle` is a channel the console made (skykernel's console reads the service's
-- output from it); without one the agent makes its own, as skynet's does.
function CMD.start(address, fd, handle)
	assert(channel == nil, "start more than once")
	skynet.error(string.format("Attach to :%08x", address))
	if handle then
		channel = debugchannel.connect(handle)
	else
		channel, handle = debugchannel.create()
	end
	local ok = pcall(skynet.call, address, "debug", "REMOTEDEBUG", fd, handle)
	if not ok then
		skynet.ret(skynet.pack(false, "Debugger attach failed"))
	else
		skynet.ret(skynet.pack(true))
	end
	skynet.exit()
end

function CMD.cmd(cmdline)
	channel:write(cmdline)
end

function CMD.ping()
	skynet.ret()
end

skynet.start(function()
	skynet.dispatch("lua", function(_, _, cmd, ...)
		local f = CMD[cmd]
		f(...)
	end)
end)
