-- skynet: the service API, compatible with skynet's lualib/skynet.lua.
--
-- The locals below carry skynet's names (proto, session_id_coroutine, ...) because inject's
-- _U and _P expose them: a learner reading about skynet must find the same tables here.
--
-- Delivery is leaner than skynet's: a batch of messages runs inside one long-lived loop
-- coroutine, and a request's handler runs inline in it. Only when a handler blocks (a call,
-- a sleep) does that coroutine stay with the handler, and a fresh one takes over the batch.
-- A lone response skips the loop: the coroutine it wakes is resumed from the delivery.

local c = require "skynet.core"
local seri = require "skynet.seri"

local tostring, type, select = tostring, type, select
local assert, error, pcall, xpcall, setmetatable = assert, error, pcall, xpcall, setmetatable
local string_format = string.format
local table_remove, table_pack, table_unpack = table.remove, table.pack, table.unpack
local traceback = debug.traceback
local coroutine = coroutine
local coroutine_create = coroutine.create
local coroutine_resume = coroutine.resume
local coroutine_yield = coroutine.yield
local coroutine_running = coroutine.running
local coroutine_close = coroutine.close
local csend = c.send

local proto = {}
local skynet = {
	PTYPE_TEXT = 0,
	PTYPE_RESPONSE = 1,
	PTYPE_MULTICAST = 2,
	PTYPE_CLIENT = 3,
	PTYPE_SYSTEM = 4,
	PTYPE_HARBOR = 5,
	PTYPE_SOCKET = 6,
	PTYPE_ERROR = 7,
	PTYPE_QUEUE = 8,
	PTYPE_DEBUG = 9,
	PTYPE_LUA = 10,
	PTYPE_SNAX = 11,
	PTYPE_TRACE = 12,
}
local PTYPE_RESPONSE <const>, PTYPE_ERROR <const> = 1, 7

function skynet.register_protocol(class)
	local name = class.name
	local id = class.id
	assert(proto[name] == nil and proto[id] == nil, "protocol already registered")
	assert(type(name) == "string" and type(id) == "number" and id >= 0 and id <= 255)
	proto[name] = class
	proto[id] = class
end

local session_id_coroutine = {}
local session_coroutine_id = {}
local session_coroutine_address = {}
local wakeup_queue = {}
local sleep_session = {}
local watching_session = {}
local error_queue = {}
local fork_queue = { h = 1, t = 0 }
local weak_kv, weak_k = { __mode = "kv" }, { __mode = "k" }
local coroutine_pool = setmetatable({}, weak_kv)
local handler_count = setmetatable({}, weak_k)
-- Per dispatch function, messages by the command name they start with (a packed short
-- string first, as in skynet's dispatch-by-name convention): the dispatch-chain view's
-- per-handler counts. A byte peek and a counter, nothing more, on the request path.
local command_count = setmetatable({}, weak_k)
local string_byte, string_sub = string.byte, string.sub

local exited = false

-- skynet.trace's hook (skynet/trace.lua), nil until something in this service is traced:
-- every trace point below is one test of this local when nothing is.
local tracing = nil

-- skynet.coroutine's inner coroutines map to the skynet thread that resumed them: a
-- session belongs to that thread, which is what the dispatcher resumes.
local coroutine_roots = setmetatable({}, weak_kv)
skynet.coroutine_roots = coroutine_roots
local function running_thread()
	local co = coroutine_running()
	return coroutine_roots[co] or co
end

----- logging of failures, in skynet's words

local function log_call_error(source, session, sz, err)
	c.error(string_format("lua call [%x to %s : %d msgsz = %d] error : %s",
		source, skynet.address(c.handle), session, sz, tostring(err)))
end

----- coroutines

local function co_create(f)
	local co = table_remove(coroutine_pool)
	if co == nil then
		co = coroutine_create(function(...)
			f(...)
			while true do
				local session = session_coroutine_id[co]
				if session and session ~= 0 then
					local info = debug.getinfo(f, "S")
					c.error(string_format("Maybe forgot response session %s from %s : %s:%d", session,
						skynet.address(session_coroutine_address[co]), info.source, info.linedefined))
				end
				if tracing then
					tracing("end", co)
				end
				session_coroutine_id[co] = nil
				session_coroutine_address[co] = nil
				f = nil
				coroutine_pool[#coroutine_pool + 1] = co
				f = coroutine_yield "SUSPEND"
				f(coroutine_yield())
			end
		end)
	else
		coroutine_resume(co, f)
	end
	return co
end

local suspend

-- skynet/sleep.lua's, set when it loads: nothing is queued for it before that.
local dispatch_wakeup

-- skynet/errors.lua's, set when the first error message loads it.
local dispatch_error_queue

function suspend(co, result, command)
	if not result then
		local session = session_coroutine_id[co]
		if tracing then
			tracing("fail", co, session)
		end
		if session then
			local addr = session_coroutine_address[co]
			if session ~= 0 then
				csend(addr, PTYPE_ERROR, session, "")
			end
			session_coroutine_id[co] = nil
		end
		session_coroutine_address[co] = nil
		local tb = traceback(co, tostring(command))
		coroutine_close(co)
		error(tb, 0)
	end
	if command == "SUSPEND" or command == nil then
		return
	elseif command == "QUIT" then
		-- skynet.exit's own coroutine: its to-be-closed variables close now, after EXIT
		coroutine_close(co)
	elseif command == "USER" then
		error("Call skynet.coroutine.yield out of skynet.coroutine.resume\n" .. traceback(co))
	else
		error("Unknown command : " .. tostring(command) .. "\n" .. traceback(co))
	end
end

local function dispatch_forks()
	local q = fork_queue
	while q.h <= q.t and not exited do
		local h = q.h
		local co = q[h]
		q[h] = nil
		q.h = h + 1
		local ok, err = pcall(suspend, co, coroutine_resume(co))
		if not ok then
			c.error(tostring(err))
		end
	end
end

----- the inline request path

local function run_handler(f, unpack, session, source, msg)
	return f(session, source, unpack(msg, #msg))
end

local function on_handler_error(err)
	return traceback(tostring(err), 2)
end

local function dispatch_request(p, f, session, source, msg)
	local co = coroutine_running()
	session_coroutine_id[co] = session
	session_coroutine_address[co] = source
	if tracing then
		tracing("request", co, source, p)
	end
	handler_count[f] = (handler_count[f] or 0) + 1
	local first = string_byte(msg, 1)
	if first and first & 7 == 4 then
		local per = command_count[f]
		if per == nil then
			per = {}
			command_count[f] = per
		end
		local name = string_sub(msg, 2, 1 + (first >> 3))
		per[name] = (per[name] or 0) + 1
	end
	local ok, err = xpcall(run_handler, on_handler_error, f, p.unpack, session, source, msg)
	local pending = session_coroutine_id[co]
	session_coroutine_id[co] = nil
	session_coroutine_address[co] = nil
	if tracing then
		tracing(ok and "end" or "fail", co, pending)
	end
	if not ok then
		if pending and pending ~= 0 then
			csend(source, PTYPE_ERROR, pending, "")
		end
		log_call_error(source, session, #msg, err)
	elseif pending and pending ~= 0 then
		local info = debug.getinfo(f, "S")
		c.error(string_format("Maybe forgot response session %s from %s : %s:%d", pending,
			skynet.address(source), info.source, info.linedefined))
	end
end

-- What to do with a message nobody expects: skynet's answers live in skynet/raw.lua,
-- which puts them here the first time it loads (a service may set its own).
local unknown_request, unknown_response

local function unknown(request, ...)
	if unknown_request == nil and unknown_response == nil then
		local _ = skynet.genid -- loads skynet/raw.lua
	end
	if request then
		return unknown_request(...)
	end
	return unknown_response(...)
end

-- skynet.start's function until its timer comes (see skynet.start)
local starting

local function raw_dispatch_message(source, prototype, session, msg)
	if prototype == PTYPE_RESPONSE then
		local co = session_id_coroutine[session]
		if co == "BREAK" then
			session_id_coroutine[session] = nil
		elseif co == nil then
			unknown(false, session, source, msg, #msg)
		elseif co == starting then -- skynet.start's function, run in this loop coroutine
			session_id_coroutine[session] = nil
			starting = nil
			return co()
		else
			if tracing then
				tracing("resume", co)
			end
			session_id_coroutine[session] = nil
			suspend(co, coroutine_resume(co, true, msg, #msg, session))
		end
		return
	end
	local p = proto[prototype]
	if prototype == PTYPE_ERROR and p then
		-- an error report needs no response, so it skips the request bookkeeping
		return p.dispatch(session, source, msg, #msg)
	end
	if p == nil then
		if prototype == 12 then -- PTYPE_TRACE: the next request from source is traced
			if tracing == nil then
				skynet.tracetag() -- loads skynet/trace.lua, which sets `tracing`
			end
			return tracing("source", source, msg)
		elseif session ~= 0 then
			csend(source, PTYPE_ERROR, session, "")
		else
			unknown(true, session, source, msg, #msg, prototype)
		end
		return
	end
	local f = p.dispatch
	if f then
		dispatch_request(p, f, session, source, msg)
	elseif session ~= 0 then
		csend(source, PTYPE_ERROR, session, "")
	else
		unknown(true, session, source, msg, #msg, p.name)
	end
end

-- The batch in progress, shared by whichever loop coroutine owns it (batch_n is 0
-- between deliveries; a batch of one keeps its table for the next).
local batch, batch_pos, batch_n = nil, 1, 0
local loop_co = nil
local idle_loops = {}
local BATCH_DONE = {}

-- Until all three queues are empty: what a wakeup or a failed call resumes may fork.
local function after_message()
	while not exited do
		if fork_queue.h <= fork_queue.t then
			dispatch_forks()
		elseif wakeup_queue[1] then
			-- (handed sleep_session, which also keeps it where _U finds it, as in skynet)
			dispatch_wakeup(sleep_session)
		elseif error_queue[1] then
			dispatch_error_queue()
		else
			return
		end
	end
end

local function loop_main()
	local me = coroutine.running()
	while true do
		while loop_co == me and not exited do
			local i = batch_pos
			if i > batch_n then
				break
			end
			batch_pos = i + 4
			local b = batch
			local source, session, msg = b[i], b[i + 2], b[i + 3]
			local ok, err = pcall(raw_dispatch_message, source, b[i + 1], session, msg)
			if not ok then
				log_call_error(source, session, #msg, err)
			end
			if fork_queue.h <= fork_queue.t or wakeup_queue[1] or error_queue[1] then
				after_message() -- (the test spares a call after most messages)
			end
		end
		if loop_co == me then
			coroutine_yield(BATCH_DONE)
		else
			-- A handler kept this coroutine while it blocked; it is done now.
			idle_loops[#idle_loops + 1] = me
			coroutine_yield "SUSPEND"
		end
	end
end

function skynet.dispatch_message(...)
	-- A batch of one response that wakes a coroutine (a call's answer, a timer) needs no
	-- loop coroutine: the woken one runs from here, as in skynet's dispatch. That is half
	-- of every sequential call, and it saves a resume, a yield and the batch's table.
	if batch_n == 0 and not exited and select("#", ...) == 4 then
		local source, prototype, session, msg = ...
		if prototype == PTYPE_RESPONSE and type(session_id_coroutine[session]) == "thread" then
			local ok, err = pcall(raw_dispatch_message, source, prototype, session, msg)
			if not ok then
				log_call_error(source, session, #msg, err)
			end
			after_message()
			return
		end
	end
	local n = select("#", ...)
	local b = batch
	if n == 4 and b ~= nil then
		-- one message (most deliveries): the last one's table again, not a new one
		b[1], b[2], b[3], b[4] = ...
	else
		b = { ... }
		batch = b
	end
	batch_pos = 1
	batch_n = n
	while not exited do
		local co = loop_co
		if co == nil then
			-- co_create keeps coroutine_pool on the dispatch path, where inject's _U finds it
			co = table_remove(idle_loops) or co_create(loop_main)
			loop_co = co
		end
		local ok, r = coroutine_resume(co)
		if not ok then
			loop_co = nil
			c.error(traceback(co, tostring(r)))
		elseif r == BATCH_DONE then
			break
		elseif loop_co == co then
			loop_co = nil
			if r == "QUIT" then -- skynet.exit in a handler: close its to-be-closed variables
				coroutine_close(co)
			end
			-- its handler blocked: what it forked or woke runs now, as after any message
			-- (else, at the end of a batch, it would wait for the next message)
			after_message()
		end
	end
	batch_n = 0
	if n == 4 then
		b[4] = nil -- its message is not kept until the next one
	else
		batch = nil -- nor is a bigger batch
	end
end

----- timers and threads

function skynet.timeout(ti, func)
	local session = c.timeout(ti)
	local co = co_create(func)
	session_id_coroutine[session] = co
	return co
end

function skynet.wakeup(token)
	if sleep_session[token] then
		wakeup_queue[#wakeup_queue + 1] = token
		return true
	end
end

function skynet.fork(func, ...)
	local n = select("#", ...)
	local co
	if n == 0 then
		co = co_create(func)
	else
		local args = table_pack(...)
		co = co_create(function()
			func(table_unpack(args, 1, args.n))
		end)
	end
	local q = fork_queue
	local t = q.t + 1 -- a finalizer may fork while the store below grows the table
	q.t = t
	q[t] = co
	return co
end

----- messaging

function skynet.send(addr, typename, ...)
	local p = proto[typename]
	return csend(addr, p.id, 0, p.pack(...))
end

-- skynet.pack gives (msg, sz), as skynet's C pack does, so that code written for skynet
-- (`skynet.rawsend(addr, "lua", skynet.pack(...))`, `skynet.unpack(msg, sz)`) runs as is;
-- here msg is a string and sz its length. The protocol's own pack stays one value.
local seri_pack = seri.pack
function skynet.pack(...)
	local msg = seri_pack(...)
	return msg, #msg
end
skynet.packstring = seri_pack
skynet.unpack = seri.unpack

local function yield_call(service, session)
	watching_session[session] = service
	session_id_coroutine[session] = running_thread()
	local succ, msg, sz = coroutine_yield "SUSPEND"
	watching_session[session] = nil
	if not succ then
		error "call failed"
	end
	return msg, sz
end

function skynet.call(addr, typename, ...)
	if tracing then
		tracing("call", addr)
	end
	local p = proto[typename]
	local session = csend(addr, p.id, nil, p.pack(...))
	if session == nil then
		error("call to invalid address " .. skynet.address(addr))
	end
	return p.unpack(yield_call(addr, session))
end

function skynet.ret(msg, sz)
	msg = msg or ""
	local co = running_thread()
	if tracing then
		tracing("response", co)
	end
	local session = session_coroutine_id[co]
	if session == nil then
		error "No session"
	end
	session_coroutine_id[co] = nil
	if session == 0 then
		return false
	end
	return csend(session_coroutine_address[co], PTYPE_RESPONSE, session, msg) ~= nil
end

----- dispatch table

function skynet.dispatch(typename, func)
	local p = proto[typename]
	if func then
		local ret = p.dispatch
		p.dispatch = func
		return ret
	end
	return p and p.dispatch
end

----- addresses and names

function skynet.self()
	return c.handle
end

-- Only `.name`s are local: a global name is the harbor's (skynet.harbor.queryname).
function skynet.localname(name)
	if string_byte(name) == 46 then
		return c.command("QUERY", name)
	end
end

function skynet.address(addr)
	if type(addr) == "number" then
		return string_format(":%08x", addr)
	end
	return tostring(addr)
end

skynet.error = c.error

----- lifecycle

function skynet.newservice(name, ...)
	return skynet.call(".launcher", "lua", "LAUNCH", "snlua", name, ...)
end

-- skynet.init's list for the main chunk (skynet/init.lua), run before the start function.
local init_func = {}

-- The main chunk's skynet.init functions, then the start function if given.
local function init_all(start)
	local funcs = init_func
	init_func = nil
	if funcs then
		for i = 1, #funcs do
			funcs[i]()
		end
	end
	if start then
		start()
	end
end

skynet.pcall = pcall -- as in skynet, where it is deprecated

function skynet.init_service(start)
	local ok, err = xpcall(init_all, traceback, start)
	if not ok then
		skynet.error("init service failed: " .. tostring(err))
		skynet.send(".launcher", "lua", "ERROR")
		skynet.exit()
	else
		-- No collection after the start, as in skynet: a full one in generational mode
		-- cost a newservice a ninth of its time, to free some 6 KB of what loading left.
		skynet.send(".launcher", "lua", "LAUNCHOK")
	end
end

local init_thread -- the start function's coroutine until it is done (skynet.task "init")

function skynet.start(start_func)
	c.callback(skynet.dispatch_message)
	-- As skynet's timeout(0), but run by the loop coroutine that takes the timer's
	-- message, the way a request's handler is: a start function that never blocks leaves
	-- the service one coroutine (and its stack) fewer for good.
	starting = function()
		init_thread = running_thread()
		skynet.init_service(start_func)
		init_thread = nil
	end
	session_id_coroutine[c.timeout(0)] = starting
end

----- protocols every service has

do
	local REG = skynet.register_protocol
	REG { name = "lua", id = skynet.PTYPE_LUA, pack = seri.pack, unpack = seri.unpack }
	REG { name = "response", id = PTYPE_RESPONSE }
	REG {
		name = "error",
		id = PTYPE_ERROR,
		unpack = function(...) return ... end,
		-- a session failed, or (session 0) a service went down: skynet/errors.lua
		dispatch = function(...)
			return require("skynet.errors")(skynet, require "skynet.private")(...)
		end,
	}
end

-- The debug protocol loads its (larger) implementation on the first debug message, so
-- services that are never inspected do not pay for it.
do
	local debug_dispatch
	skynet.register_protocol {
		name = "debug",
		id = skynet.PTYPE_DEBUG,
		pack = seri.pack,
		unpack = seri.unpack,
		dispatch = function(session, source, cmd, ...)
			if debug_dispatch == nil then
				debug_dispatch = require("skynet.debug").init(skynet, {
					dispatch = skynet.dispatch_message,
					suspend = suspend,
					resume = coroutine_resume,
				})
			end
			return debug_dispatch(session, source, cmd, ...)
		end,
	}
end

----- the rest of the API, loaded on first use so that every service does not carry it
-- (those modules reach this one's locals through skynet/private.lua)

-- Which module under lualib/skynet/ defines which key: "module:key,key ...". One string
-- rather than a table, because every service carries it and only a missing key reads it.
local LAZY = [[
 threads:killthread,task,uniqtask select:request exit:exit sleep:sleep,wait
 respond:response,retpack,context,ignoreret time:now,hpc,starttime,time,yield init:init
 env:getenv,setenv,memlimit stat:mqlen,stat,endless,info_func,handler_count,command_count
 trace:trace,tracetag,tracelog,traceproto,tracecall,trace_timeout
 raw:rawsend,rawcall,redirect,tostring,trash,genid,harbor,term,dispatch_unknown_request,dispatch_unknown_response
 unique:uniqueservice,queryservice migrate:migrate,restore
]]
local string_match = string.match

setmetatable(skynet, {
	__index = function(t, key)
		if key == "cache" then -- skynet.cache is skynet.codecache, as in skynet
			local cache = require "skynet.codecache"
			rawset(t, "cache", cache)
			return cache
		end
		local module = type(key) == "string" and string_match(key, "^[%w_]+$")
			and string_match(LAZY, "(%w+):[%w_,]*%f[%w_]" .. key .. "%f[^%w_]")
		if module then
			require("skynet." .. module)(t, require "skynet.private")
			return rawget(t, key)
		end
	end,
})

c.callback(skynet.dispatch_message)

return skynet
