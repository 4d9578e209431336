-- skynet.init: functions a module registers while it loads. In the main chunk they wait
-- for skynet.start; in a module that skynet.require loads in a coroutine, they run when
-- its body is done (skynet/require.lua keeps those lists). Anywhere else is an error,
-- as in skynet: there is no list to insert into. Loaded by skynet.lua on first use.

local assert, type, require = assert, type, require
local coroutine_running, table = coroutine.running, table

return function(skynet, internal)
	local init_func -- skynet.lua's list for the main chunk (nil once started): joined below

	local function init(f)
		assert(type(f) == "function")
		local co, main = coroutine_running()
		local list
		if main then
			list = init_func
		else
			list = require("skynet.require").context[co]
		end
		table.insert(list, f) -- named `insert` in its errors, as in skynet
	end

	skynet.init = internal.bind(init)
end
