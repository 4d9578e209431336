-- skynet.core: what skynet's C module gives a service, built over the node's bridge.
--
-- The node runs this chunk first in every new Lua state, passing its bridge callables.
-- Messages leave through an outbox that the node drains when the state returns, so a
-- burst of sends costs one Python crossing, not one per message.

-- The bridge: Python callables, passed as arguments (a table would cost a conversion).
-- Few of them, because each costs every service a wrapper on both sides: what is not on
-- a hot path (logging, loading code, a full outbox, threads) goes through py_command.
local handle, lualib, py_command, py_alive, native_c = ...

-- A service's collector runs in generational mode, as skynet's snlua sets it: a service
-- keeps most of what it allocates (its tables, its loaded code) and makes short-lived
-- garbage per message, which is what minor collections are for. Switching costs a full
-- collection, cheapest now, while the state holds only the standard libraries.
collectgarbage("generational")
-- Loading a service allocates only what it keeps: collecting during the load is wasted
-- work, so the collector waits until the loader is done (the node restarts it).
collectgarbage("stop")

local type, select, tostring, error, load = type, select, tostring, error, load
local setmetatable = setmetatable
local string_format = string.format
local math_tointeger = math.tointeger
local table_unpack = table.unpack

local core = {}

-- Outbox: flat frames (dest, ptype, session, msg). dest 0 asks the node for a timer; a
-- negative dest is a redirect (below).
local out = {}
local nout = 0
local OUT_FLUSH <const> = 4000

-- Handles known to be alive; the node bumps its epoch whenever a service dies, and a
-- state only ever runs between deaths, so the cache is exact within one delivery.
local alive = {}
local alive_epoch = -1

local session_counter = 0

local function genid()
	local s = session_counter + 1
	if s > 0x7fffffff then
		s = 1
	end
	session_counter = s
	return s
end
core.genid = genid

-- A service reload (skykernel.reload) starts the new state's sessions after the old
-- state's, so that late answers to the old state cannot wake the new one. 0 reads it.
function core.session_base(n)
	if n > session_counter then
		session_counter = n
	end
	return session_counter
end

-- Mid-handler flush (a burst of sends). Lua->Python arguments cost more the more there
-- are, but Python->Lua return values do not: so the node is only told how many frames
-- wait, and takes them with core.drain, which returns them.
local function flush()
	local n = nout
	nout = 0
	py_command("FLUSH", n)
end

-- The first n frames, for the node. After a burst the outbox array is dropped rather
-- than kept (with every message it held) for the rest of the service's life.
local function take(n)
	local o = out
	if n > 256 then
		out = {}
	end
	return table_unpack(o, 1, n)
end
core.drain = take

local function push(dest, ptype, session, msg)
	local n = nout
	-- The slots are taken before they are filled: a finalizer that sends while a store
	-- grows the table appends after this frame instead of over it.
	nout = n + 4
	local o = out
	o[n + 1] = dest
	o[n + 2] = ptype
	o[n + 3] = session
	o[n + 4] = msg
	if nout >= OUT_FLUSH then
		flush()
	end
end

local function resolve(addr)
	if type(addr) == "number" then
		return addr
	end
	return py_command("QUERY", addr)
end
core.resolve = resolve

-- Returns the session, or nil when the destination does not exist (as skynet does).
function core.send(dest, ptype, session, msg)
	if type(dest) ~= "number" then
		dest = resolve(dest)
		if dest == nil then
			return nil
		end
	end
	if not alive[dest] then
		if not py_alive(dest) then
			return nil
		end
		alive[dest] = true
	end
	if session == nil then
		session = genid()
	end
	push(dest, ptype, session, msg or "")
	return session
end

-- skynet.redirect: a message sent in another's name. It waits in the outbox like a send,
-- in order with the rest; its frame has the destination negated and the source above
-- the 8 bits of the type. Source 0 is the sender itself, as in skynet's skynet_send (a
-- gate forwarding a client's packet with no client address is the agent's source).
function core.redirect(dest, source, ptype, session, msg)
	local d, s = math_tointeger(dest), math_tointeger(source)
	if not (d and s) then
		error(string_format("skynet.redirect: bad address %s (from %s)", tostring(dest),
			tostring(source)), 3)
	end
	if s == 0 then
		s = handle
	end
	push(-d, s * 256 + ptype, session, msg)
end

function core.timeout(ti)
	local session = genid()
	push(0, ti, session, "")
	return session
end

function core.forget_alive()
	alive = {}
end

-- Commands see everything sent before them: the outbox goes first.
function core.command(cmd, ...)
	if nout > 0 then
		flush()
	end
	return py_command(cmd, ...)
end

-- A Python callable a node command handed out, for a request on a hot path (a socket
-- write, on the path of every packet): called directly, without the command table on
-- either side, and still after the outbox, as a command would be.
function core.direct(fn)
	return function(...)
		if nout > 0 then
			flush()
		end
		return fn(...)
	end
end

-- skynet.error: every argument through tostring, joined by spaces.
function core.error(...)
	local n = select("#", ...)
	if n == 1 then
		py_command("LOG", tostring((...)))
		return
	end
	local parts = { ... }
	for i = 1, n do
		parts[i] = tostring(parts[i])
	end
	py_command("LOG", table.concat(parts, " ", 1, n))
end

-- The delivery entry: the node calls it with a batch of frames and gets the outbox back.
local callback
function core.callback(f)
	callback = f
end

function core.deliver(epoch, ...)
	if epoch ~= alive_epoch then
		alive = {}
		alive_epoch = epoch
	end
	if callback then
		callback(...)
	end
	local n = nout
	if n == 0 then
		return 0
	end
	nout = 0
	return n, take(n)
end

-- Runs fn (a loader, an injected chunk...) and returns its outcome plus the outbox.
function core.run(fn, ...)
	local ok, err = xpcall(fn, debug.traceback, ...)
	local n = nout
	nout = 0
	return ok or false, ok and "" or tostring(err), n, take(n)
end

-- Interruption from another thread (skykernel/node/interrupt.py). Every thread of this
-- state tells the node when it starts and gets STOP as its Lua hook, disarmed (an empty
-- mask), which costs nothing. To stop the service, the node arms a count hook on every
-- thread it was told of; the running one calls STOP at once, which disarms them all and
-- raises the reason the node gives, where the code was. The node answers nothing to an
-- arm left over from a run that has ended. A killed service is not disarmed: every
-- instruction raises until its Lua gives up, however many pcalls it hides behind.
local sethook, co_running, getinfo = debug.sethook, coroutine.running, debug.getinfo
local threads = setmetatable({}, { __mode = "k" })
-- The node's own bookkeeping (this prelude, skynet.lua's dispatch loop) is not where a
-- stop may land: an error between two messages would lose the rest of the batch. There
-- STOP lets the armed hook fire again at the next instruction, until the code it finds
-- is a handler's, a cell's or any other that runs under a message's own pcall.
local MACHINERY = { ["=core"] = true, ["@" .. lualib .. "/skynet.lua"] = true }
local STOP
function STOP()
	if MACHINERY[getinfo(2, "S").source] then
		return
	end
	local why, keep = py_command("STOP")
	if not keep then
		for co in next, threads do
			sethook(co, STOP, "")
		end
	end
	if why then
		error(why, 2)
	end
end

local function thread_started(co)
	threads[co] = true
	sethook(co, STOP, "")
	py_command("THREAD", co)
end
core.thread_started = thread_started
thread_started(co_running())

-- Every coroutine registers itself as its first act. The wrappers reach the registry
-- through `c`, the name skynet.lua gives this table, so inject's _U finds no new names.
do
	local c = core
	local co_create, co_wrap = coroutine.create, coroutine.wrap
	local function registered(f)
		return function(...)
			c.thread_started(co_running())
			return f(...)
		end
	end
	function coroutine.create(f)
		if type(f) ~= "function" then
			error("bad argument #1 to 'create' (function expected)", 2)
		end
		return co_create(registered(f))
	end
	function coroutine.wrap(f)
		if type(f) ~= "function" then
			error("bad argument #1 to 'wrap' (function expected)", 2)
		end
		return co_wrap(registered(f))
	end
end

-- Code loading through the node's code cache (skynet's patched luaL_loadfilex). The
-- service's cache mode is a field that skynet.codecache.mode checks and sets.
core.cache_mode = "ON"

local function cached_loadfile(filename, mode, env)
	if filename == nil then
		return nil, "loadfile from stdin is not supported in a service"
	end
	local code, err = py_command("LOAD", filename, core.cache_mode)
	if code == nil then
		return nil, err
	end
	if env == nil then
		return load(code, "@" .. filename, "b")
	end
	return load(code, "@" .. filename, "b", env)
end
core.loadfile = cached_loadfile

loadfile = function(filename, mode, ...)
	if select("#", ...) > 0 then
		return cached_loadfile(filename, mode, (...))
	end
	return cached_loadfile(filename, mode)
end

dofile = function(filename)
	local f, err = cached_loadfile(filename)
	if f == nil then
		error(err, 2)
	end
	return f()
end

-- require: preload, then Lua files through the cache. What skykernel provides (skynet,
-- skynet.*, snax.*) always comes from its own lualib, whatever the user's paths say.
local package = package
local searchpath = package.searchpath
local string_gsub, string_find = string.gsub, string.find

local function lua_searcher(name)
	-- What skykernel provides is asked of the code cache by name, with no file system
	-- search: a cached module costs no system call at all.
	local own = lualib .. "/" .. string_gsub(name, "%.", "/") .. ".lua"
	local f, lerr = cached_loadfile(own)
	if f then
		return f, own
	end
	local path = own
	if string_find(lerr, "^cannot open") then
		if name == "skynet" or string_find(name, "^skynet%.") or string_find(name, "^snax%.") then
			return string_format("\n\tmodule '%s' is not provided by skykernel", name)
		end
		local err
		path, err = searchpath(name, package.path)
		if path == nil then
			return err
		end
		f, lerr = cached_loadfile(path)
	end
	if f == nil then
		error(string_format("error loading module '%s' from file '%s':\n\t%s", name, path, lerr), 2)
	end
	return f, path
end

package.searchers = { package.searchers[1], lua_searcher }
package.cpath = ""
-- The pack format in C (skykernel/node/native), where the node could build it: require
-- "skynet.seri" then finds it first, and skynet/seri.lua is never loaded.
if native_c ~= "" then
	package.preload["skynet.seri"] = package.loadlib(native_c, "luaopen_skynet_seri")
end

-- skynet.require (the loader makes it `require`): Lua's require in the main chunk and
-- for what is loaded; the rest of it (loading in a coroutine, skynet.init lists) is in
-- skynet/require.lua, loaded the first time a coroutine asks for a new module.
local plain_require = require
local loaded = package.loaded
core.lua_require = plain_require

function core.require(name)
	local m = loaded[name]
	if m ~= nil then
		return m
	end
	local _, main = coroutine.running()
	if main then
		return plain_require(name)
	end
	return plain_require("skynet.require").require(name)
end

core.handle = handle
-- Parts most services never use, loaded when first asked for: every function a service
-- carries costs it about 500 bytes. skynet/core_rare.lua reaches this chunk's locals by
-- upvalue name.
local RARE = { take_outbox = true, restore_stop = true, live_threads = true, close = true }
setmetatable(core, { __index = function(t, key)
	if key == "inflight" and package.loaded.skynet then -- for a kill
		local f = require("skynet.private").inflight
		t.inflight = f
		return f
	elseif RARE[key] then
		require("skynet.core_rare")(t)
		return rawget(t, key)
	end
end })
package.loaded["skynet.core"] = core
_G.python = nil
package.loaded.python = nil
return core
