-- skynet.debug: the debug protocol every service answers (MEM, STAT, RUN, ...).
--
-- skynet.lua loads this on the first debug message and calls init(skynet, export);
-- the function returned handles each message. Replies are skynet's, so a debug console
-- or launcher written for skynet reads them unchanged. RUN also accepts an option table
-- (our extension for the notebook, see docs/inject.md).

local type, tostring, assert, pairs = type, tostring, assert, pairs
local collectgarbage = collectgarbage
local string_format = string.format
local table_concat = table.concat

local extern_dbgcmd = {}

local RUN_CONTRACT = 1

local function init(skynet, export)
	local dbgcmd = {}

	function dbgcmd.MEM()
		local kb = collectgarbage "count"
		skynet.ret(skynet.pack(kb))
	end

	local gcing = false
	function dbgcmd.GC()
		if gcing then -- one at a time, as in skynet; a caller waiting meanwhile gets the
			-- size now (skynet's leaves it waiting for ever)
			local session = skynet.context()
			if session and session ~= 0 then
				skynet.ret(skynet.pack(collectgarbage "count"))
			end
			return
		end
		gcing = true
		local before = collectgarbage "count"
		local before_time = skynet.now()
		collectgarbage "collect"
		skynet.yield()
		local after = collectgarbage "count"
		skynet.error(string_format("GC %.2f Kb -> %.2f Kb, cost %.2f sec", before, after,
			(skynet.now() - before_time) / 100))
		gcing = false
		-- skynet sends GC without a session; a caller that waits gets the new size
		local session = skynet.context()
		if session and session ~= 0 then
			skynet.ret(skynet.pack(after))
		end
	end

	function dbgcmd.STAT()
		skynet.ret(skynet.pack({
			task = skynet.task(),
			mqlen = skynet.stat "mqlen",
			cpu = skynet.stat "cpu",
			message = skynet.stat "message",
		}))
	end

	function dbgcmd.TASK(session)
		if session then
			skynet.ret(skynet.pack(skynet.task(session)))
		else
			local task = {}
			skynet.task(task)
			skynet.ret(skynet.pack(task))
		end
	end

	function dbgcmd.UNIQTASK()
		skynet.ret(skynet.pack(skynet.uniqtask()))
	end

	function dbgcmd.KILLTASK(threadname)
		local co = skynet.killthread(threadname)
		if co then
			skynet.error(string_format("Kill %s", co))
			skynet.ret()
		else
			skynet.error(string_format("Kill %s : Not found", threadname))
			skynet.ret(skynet.pack "Not found")
		end
	end

	function dbgcmd.INFO(...)
		local f = skynet._info_func
		if f then
			skynet.ret(skynet.pack(f(...)))
		else
			skynet.ret(skynet.pack(nil))
		end
	end

	function dbgcmd.EXIT()
		skynet.exit()
	end

	local funcs = { export.dispatch, skynet.register_protocol }

	function dbgcmd.RUN(source, filename, opts, ...)
		local inject = require "skynet.inject"
		if type(opts) == "table" and opts.skykernel == RUN_CONTRACT then
			-- ok, output, err, values, and a cell's events (docs/inject.md)
			skynet.ret(skynet.pack(inject.run(skynet, source, filename, opts, funcs)))
			return
		end
		local args = table.pack(opts, ...)
		if args.n == 1 and opts == nil then
			args.n = 0
		end
		local ok, output = inject(skynet, source, filename, args, export.dispatch,
			skynet.register_protocol)
		collectgarbage "collect"
		skynet.ret(skynet.pack(ok, table_concat(output, "\n")))
	end

	function dbgcmd.TERM(service)
		skynet.term(service)
	end

	-- skynet's single-step debugger (debug_console's `debug ADDR`): answered when it ends
	function dbgcmd.REMOTEDEBUG(...)
		require("skynet.remotedebug").start(export, ...)
	end

	function dbgcmd.SUPPORT(pname)
		return skynet.ret(skynet.pack(skynet.dispatch(pname) ~= nil))
	end

	function dbgcmd.PING()
		return skynet.ret()
	end

	function dbgcmd.LINK()
		skynet.response() -- never answered: the caller learns of this service's exit
	end

	function dbgcmd.TRACELOG(proto, flag)
		if type(proto) ~= "string" then
			flag = proto
			proto = "lua"
		end
		skynet.error(string_format("Turn trace log %s for %s", flag, proto))
		if skynet.traceproto then
			skynet.traceproto(proto, flag)
		end
		skynet.ret()
	end

	return function(session, source, cmd, ...)
		local f = dbgcmd[cmd] or extern_dbgcmd[cmd]
		assert(f, cmd)
		return f(...)
	end
end

local function reg_debugcmd(name, fn)
	extern_dbgcmd[name] = fn
end

return {
	init = init,
	reg_debugcmd = reg_debugcmd,
}
