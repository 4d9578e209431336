-- notebook: where a new kernel's cells run until `%use` picks another service.
-- It dispatches "lua" messages through a CMD table, like most skynet services, so the
-- first notebook can show `_P.lua.CMD` without writing a service.
local skynet = require "skynet"
require "skynet.manager"

local CMD = {}

function CMD.ping(...)
	return "pong", ...
end

function CMD.echo(...)
	return ...
end

skynet.start(function()
	skynet.register(".notebook") -- so `%use .notebook` finds the way back
	skynet.dispatch("lua", function(session, source, cmd, ...)
		local f = CMD[cmd]
		if f == nil then
			error("notebook: unknown command " .. tostring(cmd))
		end
		if session ~= 0 then
			skynet.ret(skynet.pack(f(...)))
		else
			f(...)
		end
	end)
end)
