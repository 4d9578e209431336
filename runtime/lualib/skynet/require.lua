-- skynet.require: `require` for services, whose modules may block while they load.
--
-- In the main chunk it is Lua's require. In a coroutine (a handler, a fork) a module is
-- loaded by a Lua call rather than through C, so its body may skynet.call or sleep; another
-- coroutine asking for the same module meanwhile waits for it instead of loading it twice;
-- and the functions the module registers with skynet.init run as soon as its body is done.
-- The loader installs skynet.core's require as `require`, which comes here only for a
-- module not yet loaded, asked for outside the main chunk.

local loaded, searchers, preload = package.loaded, package.searchers, package.preload
local plain_require = require("skynet.core").lua_require -- Lua's own, not the global
local type, error, assert, xpcall, ipairs = type, error, assert, xpcall, ipairs
local traceback = debug.traceback
local coroutine_running = coroutine.running
local string_format = string.format

local M = {}

-- coroutine -> the skynet.init list of the module it is loading
local context = setmetatable({}, { __mode = "k" })
M.context = context

-- module name -> the coroutines waiting for another one to load it ({ co = loader })
local loading = {}

-- The module's file as Lua's own searcher (skykernel's) finds it, or nil when only
-- require itself can say what is wrong (not found, a preload entry).
local function find(name)
	if preload[name] ~= nil then
		return nil
	end
	local f, where = searchers[2](name)
	if type(f) ~= "function" then
		return nil
	end
	return f, where
end

local function wake(queue)
	if #queue > 0 then
		local skynet = loaded.skynet
		for i = 1, #queue do
			skynet.wakeup(queue[i])
		end
	end
end

function M.require(name)
	local m = loaded[name]
	if m ~= nil then
		return m
	end
	local co, main = coroutine_running()
	if main then
		return plain_require(name)
	end
	local modfunc, filename = find(name)
	if modfunc == nil then
		return plain_require(name)
	end
	local queue = loading[name]
	if queue then
		assert(queue.co ~= co, "circular dependency")
		queue[#queue + 1] = co
		loaded.skynet.wait(co)
		m = loaded[name]
		if m == nil then
			error(string_format("require %s failed", name))
		end
		return m
	end
	queue = { co = co }
	loading[name] = queue
	local outer = context[co]
	local inits = {}
	context[co] = inits
	local function execute_module()
		local result = modfunc(name, filename)
		for _, f in ipairs(inits) do
			f()
		end
		if result == nil then
			result = true
		end
		loaded[name] = result
	end
	local ok, err = xpcall(execute_module, traceback)
	context[co] = outer
	wake(queue)
	loading[name] = nil
	if not ok then
		error(err)
	end
	return loaded[name]
end

-- skynet.init and the main chunk's list, which skynet.start runs (skynet.lua holds it).
function M.init(f)
	return loaded.skynet.init(f)
end

function M.init_all()
	return require("skynet.private").init_all()
end

return M
