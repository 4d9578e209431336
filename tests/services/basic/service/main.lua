local skynet = require "skynet"

skynet.start(function()
	skynet.error("main says", skynet.getenv "greeting")
	local echo = skynet.newservice("echo")
	skynet.error("echo replied", skynet.call(echo, "lua", "ping", 1))
	for i = 3, 1, -1 do
		skynet.timeout(i, function() skynet.error("in", i) end)
	end
	skynet.sleep(5)
	skynet.send(echo, "lua", "quit")
	skynet.exit()
end)
