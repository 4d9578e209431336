-- debug_console: skynet's TCP console. The node listens for us (node/console.py, on its
-- asyncio loop: the console came before skynet.socket here) and hands us each line;
-- every command runs here, in Lua, as in skynet.

local skynet = require "skynet"
local codecache = require "skynet.codecache"
local core = require "skynet.core"
require "skynet.manager"

local arg = table.pack(...)
assert(arg.n <= 2)
local ip = (arg.n == 2 and arg[1] or "127.0.0.1")
-- `none` (our extension): no listener; in-process clients such as the kernel's %console
-- send lines as messages, so a notebook gets the console without opening a port.
local listen = arg[arg.n] ~= "none"
local port = listen and tonumber(arg[arg.n] or 0) or nil

local COMMAND = {}
local COMMANDX = {}

local function format_table(t)
	local index = {}
	for k in pairs(t) do
		index[#index + 1] = k
	end
	table.sort(index, function(a, b) return tostring(a) < tostring(b) end)
	local result = {}
	for _, v in ipairs(index) do
		result[#result + 1] = string.format("%s:%s", v, tostring(t[v]))
	end
	return table.concat(result, "\t")
end

local function dump_list(print, list)
	local index = {}
	for k in pairs(list) do
		index[#index + 1] = k
	end
	table.sort(index, function(a, b) return tostring(a) < tostring(b) end)
	for _, v in ipairs(index) do
		local value = list[v]
		if type(value) == "table" then
			print(v, format_table(value))
		else
			print(v, tostring(value))
		end
	end
end

local function docmd(cmdline, print, fd)
	local split = {}
	for w in cmdline:gmatch("%S+") do
		split[#split + 1] = w
	end
	local command = split[1]
	local cmd = COMMAND[command]
	local ok, list
	if cmd then
		ok, list = pcall(cmd, table.unpack(split, 2))
	else
		cmd = COMMANDX[command]
		if cmd then
			split.fd = fd
			split[1] = cmdline
			ok, list = pcall(cmd, split)
		else
			print("Invalid command, type help for command list")
		end
	end
	if ok then
		if list then
			if type(list) == "string" then
				print(list)
			else
				dump_list(print, list)
			end
		end
		print("<CMD OK>")
	else
		print(list)
		print("<CMD Error>")
	end
end

-- Lines a command prints, as skynet's console print writes them (nil ends the args).
local function printer(out)
	return function(...)
		local t = { ... }
		for k, v in ipairs(t) do
			t[k] = tostring(v)
		end
		out[#out + 1] = table.concat(t, "\t")
		out[#out + 1] = "\n"
	end
end

-- `debug ADDR` sessions, defined below with the commands (DEBUG.start, DEBUG.line)
local DEBUG = {}
local debugging = {} -- fd -> the debug session on that connection

local connection = {}

function connection.open(fd, addr)
	skynet.error(addr, "connected")
	skynet.ret(skynet.pack("Welcome to skynet console\n"))
end

function connection.line(fd, cmdline)
	local out = {}
	local print = printer(out)
	local close = false
	local session = debugging[fd]
	if session then
		skynet.ret(skynet.pack(DEBUG.line(fd, session, cmdline), false))
		return
	elseif cmdline:match("^%s*debug%s") then
		skynet.ret(skynet.pack(DEBUG.start(fd, cmdline), false))
		return
	end
	if cmdline:sub(1, 4) == "GET " then
		local url = cmdline:match("^GET%s+(%S+)") or "/"
		docmd(url:sub(2):gsub("/", " "), print, fd)
		close = true
	elseif cmdline ~= "" then
		docmd(cmdline, print, fd)
	end
	skynet.ret(skynet.pack(table.concat(out), close))
end

function connection.close(fd)
	local session = debugging[fd]
	if session then -- as skynet: a connection that goes away leaves debug mode
		debugging[fd] = nil
		skynet.send(session.agent, "lua", "cmd", "cont")
	end
	skynet.error(fd, "disconnected")
end

skynet.start(function()
	skynet.dispatch("lua", function(_, _, what, ...)
		local f = assert(connection[what], what)
		f(...)
	end)
	if listen then
		local chosen = core.command("CONSOLE", "start", ip, port)
		skynet.error("Start debug console at " .. ip .. ":" .. chosen)
	end
end)

----- commands

function COMMAND.help()
	return {
		help = "these lines",
		list = "every service the launcher started",
		stat = "cpu, messages, queue length and tasks of every service",
		info = "info ADDR [args] : what the service's info function reports",
		exit = "exit ADDR : make a service exit",
		kill = "kill ADDR : kill a service (no Lua cleanup)",
		mem = "Lua memory of every service",
		gc = "collect garbage in every service, then show memory",
		start = "start NAME [args] : launch a Lua service",
		snax = "snax NAME [args] : launch a snax service",
		clearcache = "start a new code-cache generation",
		service = "the unique services and their addresses",
		task = "task ADDR [session] : the suspended coroutines of a service",
		uniqtask = "uniqtask ADDR : those coroutines, grouped by traceback",
		killtask = "killtask ADDR THREAD : kill a coroutine listed by task",
		inject = "inject ADDR FILE : run a Lua file inside a service",
		dbgcmd = "dbgcmd ADDR CMD [args] : send a debug command",
		debug = "debug ADDR : debug a lua service (s, n, c, watch(proto [, cond]), cont)",
		logon = "logon ADDR : log a service's messages",
		logoff = "logoff ADDR : stop logging them",
		log = "log NAME [args] : launch a service and log its messages",
		signal = "signal ADDR [sig] : signal a service",
		ping = "ping ADDR : round trip in centiseconds",
		call = "call ADDR args... : skynet.call with Lua values, show the reply",
		trace = "trace ADDR [proto] [on|off] : trace a protocol",
		netstat = "the node's sockets, then the console's connections",
		getenv = "getenv KEY : skynet.getenv(KEY)",
		setenv = "setenv KEY VALUE : skynet.setenv(KEY, VALUE)",
		codecache = "codecache [stale] : code cache generations (skykernel)",
		purge = "purge : free code cache generations no service holds (skykernel)",
	}
end

local function adjust_address(address)
	assert(address, "Need an address")
	local prefix = address:sub(1, 1)
	if prefix == "." then
		return assert(skynet.localname(address), "Not a valid name")
	elseif prefix == ":" then
		return assert(tonumber(address:sub(2), 16), "Need an address")
	end
	return assert(tonumber("0x" .. address), "Need an address") | (skynet.harbor(skynet.self()) << 24)
end

----- `debug ADDR`: skynet's single-step debugger (skynet.remotedebug in the service)
--
-- skynet's console hands the session its socket: the service being debugged writes its
-- output there. Here every line gets one reply, so the service prints into the session's
-- channel (held by the node) and the reply to each typed line is what it printed once it
-- has read that line and asked for the next, prompt included. A prompt the service prints
-- on its own (a watched message arriving) comes with the next reply.

local DEBUG_WAIT = 500 -- centiseconds a reply waits for the service being debugged

local function debug_output(session, until_done)
	local out = {}
	for _ = 1, DEBUG_WAIT do
		local text, settled = core.command("DEBUGCHANNEL", "take", session.channel)
		out[#out + 1] = text
		if session.done or (settled and not until_done) then
			break
		end
		skynet.sleep(1)
	end
	local text, _ = core.command("DEBUGCHANNEL", "take", session.channel)
	out[#out + 1] = text
	return table.concat(out)
end

local function debug_end(fd, session, text)
	debugging[fd] = nil
	core.command("DEBUGCHANNEL", "release", session.channel)
	if session.ok then
		return text .. "<CMD OK>\n"
	end
	return text .. tostring(session.err) .. "\n<CMD Error>\n"
end

function DEBUG.start(fd, cmdline)
	local ok, address = pcall(adjust_address, cmdline:match("^%s*debug%s+(%S+)"))
	if not ok then
		return tostring(address) .. "\n<CMD Error>\n"
	end
	local channel = core.command("DEBUGCHANNEL", "create")
	local agent = skynet.newservice "debug_agent"
	local session = { agent = agent, channel = channel, done = false }
	debugging[fd] = session
	skynet.fork(function()
		local called, attached, err = pcall(skynet.call, agent, "lua", "start", address, fd, channel)
		session.ok = called and attached
		session.err = called and err or attached
		session.done = true
	end)
	local text = debug_output(session)
	if session.done then
		return debug_end(fd, session, text)
	end
	return text
end

function DEBUG.line(fd, session, cmdline)
	if session.done then
		return debug_end(fd, session, debug_output(session))
	end
	-- straight into the channel (not through the agent, as skynet does), so that the
	-- reply below waits for this very line
	core.command("DEBUGCHANNEL", "write", session.channel, cmdline)
	local leaving = cmdline == "cont"
	local text = debug_output(session, leaving)
	if session.done then
		return debug_end(fd, session, text)
	end
	return text
end

function COMMAND.clearcache()
	codecache.clear()
end

function COMMAND.start(...)
	local ok, addr = pcall(skynet.newservice, ...)
	if ok then
		if addr then
			return { [skynet.address(addr)] = ... }
		end
		return "Exit"
	end
	return "Failed"
end

function COMMAND.snax(...)
	local snax = require "skynet.snax"
	local ok, s = pcall(snax.newservice, ...)
	if ok then
		return { [skynet.address(s.handle)] = ... }
	end
	return "Failed"
end

function COMMAND.log(...)
	local ok, addr = pcall(skynet.newservice, ...)
	if not ok or not addr then
		return "Failed"
	end
	pcall(COMMAND.logon, skynet.address(addr))
	return { [skynet.address(addr)] = ... }
end

function COMMAND.service()
	return skynet.call("SERVICE", "lua", "LIST")
end

function COMMAND.list()
	return skynet.call(".launcher", "lua", "LIST")
end

function COMMAND.stat()
	return skynet.call(".launcher", "lua", "STAT")
end

function COMMAND.mem()
	return skynet.call(".launcher", "lua", "MEM")
end

function COMMAND.kill(address)
	return skynet.call(".launcher", "lua", "KILL", adjust_address(address))
end

function COMMAND.gc()
	return skynet.call(".launcher", "lua", "GC")
end

function COMMAND.exit(address)
	skynet.send(adjust_address(address), "debug", "EXIT")
end

function COMMAND.inject(address, filename, ...)
	address = adjust_address(address)
	local f = io.open(assert(filename, "Need a file name"), "rb")
	if not f then
		return "Can't open " .. filename
	end
	local source = f:read "a"
	f:close()
	local ok, output = skynet.call(address, "debug", "RUN", source, filename, ...)
	if ok == false then
		error(output)
	end
	return output
end

function COMMAND.dbgcmd(address, cmd, ...)
	address = adjust_address(address)
	return table.pack(skynet.call(address, "debug", assert(cmd, "Need a debug command"), ...))
end

function COMMAND.task(address, session)
	address = adjust_address(address)
	return skynet.call(address, "debug", "TASK", tonumber(session))
end

function COMMAND.uniqtask(address)
	address = adjust_address(address)
	return skynet.call(address, "debug", "UNIQTASK")
end

function COMMAND.killtask(address, threadname)
	address = adjust_address(address)
	return skynet.call(address, "debug", "KILLTASK", assert(threadname, "Need a thread name"))
end

function COMMAND.info(address, ...)
	address = adjust_address(address)
	return skynet.call(address, "debug", "INFO", ...)
end

-- skynet's logon writes every message a service gets to a file, which takes its C
-- core; skykernel's node has no such hook, so these say so (after checking the address).
function COMMAND.logon(address)
	adjust_address(address)
	error("logon is not supported by this node")
end

function COMMAND.logoff(address)
	adjust_address(address)
	error("logoff is not supported by this node")
end

-- signal ADDR [sig]: 0 (the default) breaks the Lua the service runs now, from another
-- thread, with the error "signal 0" (a looping handler stops, the service serves on);
-- 1 logs its memory. The service logs "recv a signal N", as in skynet.
function COMMAND.signal(address, sig)
	address = adjust_address(address)
	sig = tonumber(sig) or 0
	if not core.command("SIGNAL", address, sig) then
		error(string.format("no service %s", skynet.address(address)))
	end
end

function COMMAND.ping(address)
	address = adjust_address(address)
	local ti = skynet.now()
	skynet.call(address, "debug", "PING")
	return tostring(skynet.now() - ti)
end

local function toboolean(x)
	return x and (x == "true" or x == "on")
end

function COMMAND.trace(address, proto, flag)
	address = adjust_address(address)
	if flag == nil then
		if proto == "on" or proto == "off" then
			proto = toboolean(proto)
		end
	else
		flag = toboolean(flag)
	end
	skynet.call(address, "debug", "TRACELOG", proto, flag)
end

function COMMANDX.call(cmd)
	local address = adjust_address(cmd[2])
	local cmdline = assert(cmd[1]:match("%S+%s+%S+%s(.+)"), "need arguments")
	local args_func = assert(load("return " .. cmdline, "debug console", "t", {}), "Invalid arguments")
	local args = table.pack(pcall(args_func))
	if not args[1] then
		error(args[2])
	end
	return table.pack(skynet.call(address, "lua", table.unpack(args, 2, args.n)))
end

function COMMAND.getenv(name)
	return { [assert(name, "Need a name")] = skynet.getenv(name) or "nil" }
end

function COMMAND.setenv(name, value)
	skynet.setenv(assert(name, "Need a name"), assert(value, "Need a value"))
end

-- The node's sockets (skynet's netstat rows), then the console's own connections.
local function bytes(size)
	if size == nil or size == 0 then
		return nil
	end
	if size < 1024 then
		return size
	end
	if size < 1024 * 1024 then
		return tostring(size / 1024) .. "K"
	end
	return tostring(size / (1024 * 1024)) .. "M"
end

local function since(now, t)
	if t == nil then
		return nil
	end
	t = now - t
	if t < 6000 then
		return tostring(t / 100) .. "s"
	end
	local hour = t // (100 * 60 * 60)
	t = t - hour * 100 * 60 * 60
	local min = t // (100 * 60)
	t = t - min * 100 * 60
	return string.format("%s%d:%.2gs", hour == 0 and "" or (hour .. ":"), min, t / 100)
end

function COMMAND.netstat()
	local list = require("skynet.socketdriver").info()
	local now = skynet.now()
	for _, info in ipairs(list) do
		info.address = skynet.address(info.address)
		info.read = bytes(info.read)
		info.write = bytes(info.write)
		info.wbuffer = bytes(info.wbuffer)
		info.rtime = since(now, info.rtime)
		info.wtime = since(now, info.wtime)
	end
	for _, row in ipairs(skynet.unpack(core.command("CONSOLE", "netstat"))) do
		if type(row.service) == "number" then
			row.service = skynet.address(row.service)
		end
		if type(row.address) == "number" then
			row.address = skynet.address(row.address)
		end
		list[#list + 1] = row
	end
	return list
end

function COMMAND.codecache(what)
	if what == "stale" then
		local list = {}
		for _, s in ipairs(codecache.stale()) do
			list[s.address .. " " .. s.filename] = string.format("generation %d %s -> %s",
				s.generation, s.digest, s.disk or "missing")
		end
		return list
	end
	local list = {}
	for _, g in ipairs(codecache.generations()) do
		list[string.format("generation %d", g.generation)] = {
			current = g.current,
			files = #g.files,
			bytes = g.bytes,
			services = table.concat(g.services, ","),
		}
	end
	return list
end

function COMMAND.purge()
	local r = codecache.purge()
	local list = {
		freed = #r.freed == 0 and "none" or table.concat(r.freed, ","),
		bytes = r.bytes,
	}
	for _, pin in ipairs(r.pinned) do
		list[string.format("pinned %d", pin.generation)] = table.concat(pin.services, ",")
	end
	return list
end
