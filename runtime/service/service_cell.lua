-- service_cell: the body of a skynet.service; its main function arrives as bytecode.
local skynet = require "skynet"

local service_name = (...)
local init = {}

function init.init(code, ...)
	local start_func
	skynet.start = function(f)
		start_func = f
	end
	skynet.dispatch("lua", function()
		error("No dispatch function")
	end)
	local mainfunc = assert(load(code, "=" .. service_name, "b"))
	assert(skynet.pcall(mainfunc, ...))
	if start_func then
		start_func()
	end
	skynet.ret()
end

skynet.start(function()
	skynet.dispatch("lua", function(session, source, cmd, ...)
		assert(init[cmd])(...)
	end)
end)
