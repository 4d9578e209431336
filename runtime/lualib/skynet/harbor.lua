-- skynet.harbor: global names and links between harbors, through `.cslave`. On a
-- standalone node (harbor = 0) that is cdummy, which answers as skynet's does.
local skynet = require "skynet"

local harbor = {}

-- Name a service for every harbor (returns at once; the name is usable once cdummy has
-- it, which a later call to .cslave waits for).
function harbor.globalname(name, handle)
	handle = handle or skynet.self()
	skynet.send(".cslave", "lua", "REGISTER", name, handle)
end

-- The address of a global (or `.local`) name; waits until a global name exists.
function harbor.queryname(name)
	return skynet.call(".cslave", "lua", "QUERYNAME", name)
end

function harbor.link(id)
	skynet.call(".cslave", "lua", "LINK", id)
end

function harbor.connect(id)
	skynet.call(".cslave", "lua", "CONNECT", id)
end

function harbor.linkmaster()
	skynet.call(".cslave", "lua", "LINKMASTER")
end

return harbor
