-- cdummy (.cslave): the standalone node's stand-in for the cluster slave. It starts the
-- harbor placeholder, so addresses match a standalone skynet, and keeps the global names
-- (skynet.harbor) for queryname.
-- What only makes sense with other harbors is answered as skynet's cdummy answers it.
local skynet = require "skynet"
require "skynet.manager"

local globalname = {} -- name -> handle
local queryname = {} -- name -> responses waiting for it
local harbor = {}

local function response_name(name)
	local address = globalname[name]
	local waiting = queryname[name]
	if waiting then
		queryname[name] = nil
		for _, resp in ipairs(waiting) do
			resp(true, address)
		end
	end
end

-- (skynet.harbor.globalname has already given the node the name)
function harbor.REGISTER(name, handle)
	assert(globalname[name] == nil)
	globalname[name] = handle
	response_name(name)
end

function harbor.QUERYNAME(name)
	if name:byte() == 46 then -- ".": a local name
		skynet.ret(skynet.pack(skynet.localname(name)))
		return
	end
	local result = globalname[name]
	if result then
		skynet.ret(skynet.pack(result))
		return
	end
	local waiting = queryname[name]
	if waiting == nil then
		queryname[name] = { skynet.response() }
	else
		waiting[#waiting + 1] = skynet.response()
	end
end

function harbor.LINK(id)
	skynet.ret()
end

function harbor.CONNECT(id)
	skynet.error("Can't connect to other harbor in single node mode")
end

skynet.register_protocol {
	name = "text",
	id = skynet.PTYPE_TEXT,
	pack = function(...) return ... end,
	unpack = skynet.tostring,
}

skynet.start(function()
	-- skykernel's node is always standalone (harbor 0), whatever the config says
	skynet.dispatch("lua", function(session, source, command, ...)
		local f = assert(harbor[command])
		f(...)
	end)
	skynet.dispatch("text", function() end) -- harbor's commands: nothing to do standalone
	skynet.launch("harbor", 0, skynet.self())
end)
