-- skynet.harbor: global names and links between harbors, through `.cslave`. On a
-- standalone node (harbor = 0) that is cdummy, which answers as skynet's does.
local skynet = require "skynet"
local c = require "skynet.core"

local harbor = {}

-- Name a service for every harbor. The node learns the name at once (a send by name
-- right after works, as it does in skynet, whose harbor holds such messages until it
-- knows the name); cdummy keeps the list and answers queryname. A name already taken
-- stays with its first service, and cdummy refuses the second, as skynet's does.
function harbor.globalname(name, handle)
	handle = handle or skynet.self()
	pcall(c.command, "NAME", name, handle)
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
