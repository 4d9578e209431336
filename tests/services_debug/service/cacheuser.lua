-- Loads files through the code cache on request, in a chosen cache mode.
local skynet = require "skynet"
local codecache = require "skynet.codecache"

local CMD = {}

function CMD.load(filename)
	local f = assert(loadfile(filename))
	return f()
end

function CMD.mode(m)
	if m then
		codecache.mode(m)
	end
	return codecache.mode()
end

function CMD.clear()
	return codecache.clear()
end

function CMD.purge()
	return codecache.purge()
end

function CMD.stale()
	return codecache.stale()
end

function CMD.generations()
	return codecache.generations()
end

function CMD.require(name)
	return require(name)
end

-- Loads `first`, sleeps (another service may clear meanwhile), then loads `second`.
function CMD.slow(first, second, ti)
	local a = loadfile(first)()
	skynet.sleep(ti)
	local b = loadfile(second)()
	return a, b
end

function CMD.badmode()
	return pcall(codecache.mode, "SOMETIMES")
end

function CMD.exit()
	skynet.exit()
end

skynet.start(function()
	skynet.dispatch("lua", function(session, source, cmd, ...)
		local f = assert(CMD[cmd], cmd)
		skynet.ret(skynet.pack(f(...)))
	end)
end)
