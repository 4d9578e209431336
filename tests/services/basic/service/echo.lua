local skynet = require "skynet"

skynet.start(function()
	skynet.dispatch("lua", function(_, _, cmd, ...)
		if cmd == "quit" then
			skynet.exit()
		end
		skynet.ret(skynet.pack(cmd, ...))
	end)
end)
