-- Interruption: a count hook that asks the node whether to stop the running code.
-- Any armed count hook slows all Lua in its coroutine, so it is armed only while the node
-- asks for it (a notebook cell running). skynet.core loads this on the guard's first use.

local sethook, setmetatable, pairs, error = debug.sethook, setmetatable, pairs, error

return function(core, py_check)
	local guard = core.guard
	local weak = { __mode = "k" }
	local hooked = setmetatable({}, weak)

	local function hook()
		if py_check() then
			error("interrupted", 2)
		end
	end

	-- skynet.lua calls this on each coroutine it resumes while the guard is on.
	function core.arm(co)
		if not hooked[co] then
			sethook(co, hook, "", 1000)
			hooked[co] = true
		end
	end

	function core.set_guard(on)
		guard.on = on
		if on then
			sethook(hook, "", 1000)
		else
			sethook()
			for co in pairs(hooked) do
				sethook(co)
			end
			hooked = setmetatable({}, weak)
		end
	end
end
