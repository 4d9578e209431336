-- bootstrap: starts the system services in skynet's standalone order, then the start
-- service, then exits.
local skynet = require "skynet"
require "skynet.manager"

skynet.start(function()
	local launcher = assert(skynet.launch("snlua", "launcher"))
	skynet.name(".launcher", launcher)

	local ok, slave = pcall(skynet.newservice, "cdummy")
	if not ok then
		skynet.abort()
	end
	skynet.name(".cslave", slave)

	local datacenter = skynet.newservice "datacenterd"
	skynet.name("DATACENTER", datacenter)
	skynet.newservice "service_mgr"

	local start = skynet.getenv "start"
	if start and start ~= "" then
		local started, err = pcall(skynet.newservice, start)
		if not started then
			skynet.error("start service " .. start .. " failed: " .. tostring(err))
			skynet.abort()
		end
	end
	skynet.exit()
end)
