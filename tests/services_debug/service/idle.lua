-- A service that starts and waits: something to list, kill, stat.
local skynet = require "skynet"
skynet.start(function()
	skynet.dispatch("lua", function(session, source, cmd, ...)
		skynet.ret(skynet.pack(cmd, ...))
	end)
end)
