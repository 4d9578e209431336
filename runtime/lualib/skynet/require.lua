-- skynet.require: a require that waits when another coroutine is loading the same
-- module, instead of loading it twice (a module may skynet.call while it loads).

local M = {}
local plain_require = require
local loading = {}

function M.require(name)
	local m = package.loaded[name]
	if m ~= nil then
		return m
	end
	local skynet = package.loaded.skynet
	local co = coroutine.running()
	local waiting = loading[name]
	if waiting and skynet then
		waiting[#waiting + 1] = co
		skynet.wait(co)
		m = package.loaded[name]
		if m == nil then
			error(string.format("require %s failed", name))
		end
		return m
	end
	waiting = {}
	loading[name] = waiting
	local ok, result = pcall(plain_require, name)
	loading[name] = nil
	if skynet then
		for i = 1, #waiting do
			skynet.wakeup(waiting[i])
		end
	end
	if not ok then
		error(result, 2)
	end
	return result
end

return M
