-- skynet.sharedata: read-mostly data shared by many services, updatable while they run.
--
-- query(name) returns a read-only proxy (skynet.sharedata.corelib). sharedatad keeps each
-- object packed; a reader unpacks its own copy (skynet's readers share C memory), and a
-- watcher in the reader takes each new version as sharedatad announces it: proxies show
-- it from their next access. A deleted object stays readable where it was queried, as in
-- skynet; querying it again fails.
local skynet = require "skynet"
local corelib = require "skynet.sharedata.corelib"

local service

skynet.init(function()
	service = skynet.uniqueservice "sharedatad"
end)

local sharedata = {}
local cache = setmetatable({}, { __mode = "kv" }) -- name -> root proxy

local function monitor(name, obj, version)
	while true do
		local newversion, data = skynet.call(service, "lua", "monitor", name, version)
		if newversion == nil then
			break
		end
		version = newversion
		corelib.update(obj, skynet.unpack(data))
	end
	if cache[name] == obj then
		cache[name] = nil
	end
end

function sharedata.query(name)
	local obj = cache[name]
	if obj then
		return obj
	end
	local version, data = skynet.call(service, "lua", "query", name)
	obj = cache[name]
	if obj then -- another coroutine got it meanwhile
		return obj
	end
	obj = corelib.box(skynet.unpack(data))
	skynet.fork(monitor, name, obj, version)
	cache[name] = obj
	return obj
end

function sharedata.new(name, v, ...)
	skynet.call(service, "lua", "new", name, v, ...)
end

-- (skynet's returns nothing; the version is skykernel's, for the notebook's patch log)
function sharedata.update(name, v, ...)
	return skynet.call(service, "lua", "update", name, v, ...)
end

function sharedata.delete(name)
	skynet.call(service, "lua", "delete", name)
end

function sharedata.flush()
	for _, obj in pairs(cache) do
		corelib.flush(obj)
	end
	collectgarbage()
end

function sharedata.deepcopy(name, ...)
	local obj = cache[name]
	if obj then
		return corelib.copy(corelib.data(obj), ...)
	end
	local _, data = skynet.call(service, "lua", "query", name)
	return corelib.copy(skynet.unpack(data), ...)
end

return sharedata
