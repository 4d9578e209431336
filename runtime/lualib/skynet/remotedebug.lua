-- skynet.remotedebug: the single-step debugger a service runs when a debug console asks
-- (`debug ADDR`, through the debug_agent service and the debug protocol's REMOTEDEBUG).
--
-- While in debug mode, before each message it dispatches the service runs the lines
-- typed at the console (a timer keeps messages coming): a Lua expression or statement in
-- the service (`watch(proto [, cond])` among the names it sees), and, once a watched
-- message arrived and its coroutine is paused at a line, `s` (step in), `n` (next line),
-- `c` (continue) and expressions over that function's locals and upvalues. `cont` leaves
-- debug mode. What the service prints goes back to the console, prompts included:
-- `:%08x>` when nothing is paused, `file(line)>` at a paused line.

local skynet = require "skynet"
local debugchannel = require "skynet.debugchannel"
local injectrun = require "skynet.injectcode"
local private = require "skynet.private"

local table_pack, table_concat = table.pack, table.concat
local tostring, select, next, pairs, assert = tostring, select, next, pairs, assert
local getinfo = debug.getinfo
local coroutine_running = coroutine.running
local string_format = string.format
local sethook = debugchannel.sethook

local M = {}

local raw_dispatcher -- the dispatch skynet.lua had before debug mode hooked it
local print = _G.print
local skynet_suspend, skynet_resume
local prompt
local newline

local function change_prompt(s)
	newline = true
	prompt = s
end

local function self_prompt()
	change_prompt(string_format(":%08x>", skynet.self()))
end

local function gen_print(channel)
	return function(...)
		local t = table_pack(...)
		for i = 1, t.n do
			t[i] = tostring(t[i])
		end
		t[t.n + 1] = "\n"
		channel:output(table_concat(t, "\t", 1, t.n + 1))
	end
end

local function run_exp(ok, ...)
	if ok then
		print(...)
	end
	return ok
end

-- An expression's values, else the line as a statement (and its error).
local function run_cmd(cmd, env, co, level)
	if not run_exp(injectrun("return " .. cmd, co, level, env)) then
		print(select(2, injectrun(cmd, co, level, env)))
	end
end

-- Stepping does not go into skynet's own library; it ends in this file (the watched
-- message's dispatch returned).
local library = getinfo(skynet.start, "S").source:match("^@(.-)skynet%.lua$") or "\0"
local function in_library(source)
	return source:sub(2, #library + 1) == library
end
local ctx_term = getinfo(run_cmd, "S").short_src
local ctx_active = {} -- paused (or watched) coroutine -> its stepping state

local linehook

local function skip_hook(mode)
	local ctx = ctx_active[coroutine_running()]
	if mode == "return" then
		ctx.level = ctx.level - 1
		if ctx.level == 0 then
			ctx.needupdate = true
			sethook(linehook, "crl")
		end
	else
		ctx.level = ctx.level + 1
	end
end

function linehook(mode, line)
	local co = coroutine_running()
	local ctx = ctx_active[co]
	if mode ~= "line" then
		ctx.needupdate = true
		if mode ~= "return" then
			if ctx.next_mode or in_library(getinfo(2, "S").source) then
				ctx.level = 1
				sethook(skip_hook, "cr")
			end
		end
		return
	end
	if ctx.needupdate then
		ctx.needupdate = false
		ctx.filename = getinfo(2, "S").short_src
		if ctx.filename == ctx_term then
			ctx_active[co] = nil
			sethook()
			self_prompt()
			return
		end
	end
	change_prompt(string_format("%s(%d)>", ctx.filename, line))
	return true -- pause here
end

-- Armed in the watched dispatch: line stepping starts in the function it calls next.
local function add_watch_hook()
	local ctx = {}
	ctx_active[coroutine_running()] = ctx
	local level = 1
	sethook(function(mode)
		if mode == "return" then
			level = level - 1
		else
			level = level + 1
			if level == 0 then
				ctx.needupdate = true
				sethook(linehook, "crl")
			end
		end
	end, "cr")
end

local function watch_proto(protoname, cond)
	local proto = private.proto
	local p = proto[protoname]
	if p == nil then
		return "No " .. protoname
	end
	local dispatch = p.dispatch_origin or p.dispatch
	if dispatch == nil then
		return "No dispatch"
	end
	p.dispatch_origin = dispatch
	p.dispatch = function(...)
		if not cond or cond(...) then
			p.dispatch = dispatch -- one message only
			add_watch_hook()
		end
		dispatch(...)
	end
end

local function remove_watch()
	for co in pairs(ctx_active) do
		sethook(co)
	end
	ctx_active = {}
end

local dbgcmd = {}

function dbgcmd.s(co)
	ctx_active[co].next_mode = false
	skynet_suspend(co, skynet_resume(co))
end

function dbgcmd.n(co)
	ctx_active[co].next_mode = true
	skynet_suspend(co, skynet_resume(co))
end

function dbgcmd.c(co)
	sethook(co)
	ctx_active[co] = nil
	self_prompt()
	skynet_suspend(co, skynet_resume(co))
end

local function remove_hook()
	assert(raw_dispatcher, "Not in debug mode")
	private.set("raw_dispatch_message", raw_dispatcher)
	raw_dispatcher = nil
	print = _G.print
	skynet.error "Leave debug mode"
end

local function hook_dispatch(resp, channel)
	self_prompt()
	print = gen_print(channel)
	local env = { print = print, watch = watch_proto }
	local watch_env = { print = print }

	local function watch_cmd(cmd)
		local co = next(ctx_active)
		watch_env._CO = co
		if dbgcmd[cmd] then
			dbgcmd[cmd](co)
		else
			run_cmd(cmd, watch_env, co, 0)
		end
	end

	-- Runs before every message while in debug mode: the lines typed since.
	local function debug_hook()
		while true do
			if newline then
				channel:output(prompt)
				newline = false
			end
			local cmd = channel:read()
			if cmd == nil then
				return
			end
			if cmd == "cont" then
				break
			end
			if cmd ~= "" then
				if next(ctx_active) then
					watch_cmd(cmd)
				else
					run_cmd(cmd, env, coroutine_running(), 2)
				end
			end
			newline = true
		end
		remove_watch()
		remove_hook()
		resp(true)
	end

	local func = private.raw_dispatch
	private.set("raw_dispatch_message", function(...)
		debug_hook()
		return func(...)
	end)
	-- messages keep coming while in debug mode, so typed lines are read within 0.1 s
	local function idle()
		if raw_dispatcher then
			skynet.timeout(10, idle)
		end
	end
	skynet.timeout(0, idle)
	return func
end

-- The debug protocol's REMOTEDEBUG(fd, handle): `handle` is the console's channel.
function M.start(import, fd, handle)
	skynet_suspend = import.suspend
	skynet_resume = import.resume
	assert(raw_dispatcher == nil, "Already in debug mode")
	skynet.error "Enter debug mode"
	local channel = debugchannel.connect(handle)
	raw_dispatcher = hook_dispatch(skynet.response(), channel)
end

return M
