-- cdummy (.cslave): the standalone node's stand-in for the cluster slave; it starts the
-- harbor placeholder so addresses match a standalone skynet.
local skynet = require "skynet"
require "skynet.manager"

skynet.start(function()
	skynet.launch("harbor", 0, skynet.self())
	skynet.dispatch("lua", function(session, source, cmd, ...)
		if cmd == "QUERYNAME" then
			local name = ...
			skynet.ret(skynet.pack(skynet.localname(name)))
		else
			skynet.ret(skynet.pack(nil))
		end
	end)
end)
