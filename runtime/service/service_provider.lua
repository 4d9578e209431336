-- service_provider: starts each skynet.service once per name and tells every asker
-- the same address, waiting while one is still booting.
local skynet = require "skynet"

local provider = {}
local svr = {} -- name -> { address = handle | nil, waiting = { response... }, error = text }

local function wait_for(s)
	if s.address then
		return s.address
	end
	if s.error then
		error(s.error)
	end
	local co = coroutine.running()
	s.waiting[#s.waiting + 1] = co
	skynet.wait(co)
	if s.error then
		error(s.error)
	end
	return s.address
end

function provider.test(name)
	local s = svr[name]
	if s == nil then
		return nil, false
	end
	if s.address then
		return s.address
	end
	return nil, true
end

function provider.query(name)
	local s = svr[name]
	if s == nil then
		error("no service named " .. tostring(name))
	end
	return wait_for(s)
end

function provider.launch(name, code, ...)
	local s = svr[name]
	if s then
		return wait_for(s)
	end
	s = { waiting = {} }
	svr[name] = s
	local ok, address = pcall(function(...)
		local addr = skynet.newservice("service_cell", name)
		skynet.call(addr, "lua", "init", code, ...)
		return addr
	end, ...)
	if ok then
		s.address = address
	else
		s.error = tostring(address)
		svr[name] = nil
	end
	for _, co in ipairs(s.waiting) do
		skynet.wakeup(co)
	end
	if not ok then
		error(s.error)
	end
	return address
end

function provider.close(name)
	local s = svr[name]
	if s and s.address then
		svr[name] = nil
		return s.address
	end
end

skynet.start(function()
	skynet.dispatch("lua", function(session, source, cmd, ...)
		local f = assert(provider[cmd], cmd)
		skynet.ret(skynet.pack(f(...)))
	end)
end)
