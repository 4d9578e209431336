-- skynet.inject: runs a chunk inside this service, as skynet's debug RUN does.
--
-- _U holds the table-valued upvalues reachable from the functions given (skynet passes
-- skynet.dispatch_message and skynet.register_protocol), _P[name] the same walk from
-- each protocol's dispatch function. Called as skynet's module (a function returning
-- ok, output lines); `run` adds the options the notebook needs (see docs/inject.md).

local type, pairs, ipairs, tostring, select, next = type, pairs, ipairs, tostring, select, next
local getupvalue, traceback, xpcall = debug.getupvalue, debug.traceback, xpcall
local getinfo, getlocal = debug.getinfo, debug.getlocal
local setmetatable, getmetatable, load, rawset = setmetatable, getmetatable, load, rawset
local error, assert, tonumber = error, assert, tonumber
local table_concat, table_pack, table_unpack, table_sort = table.concat, table.pack, table.unpack, table.sort
local string_format, math_type = string.format, math.type

local function getupvaluetable(u, func, unique)
	local i = 1
	while true do
		local name, value = getupvalue(func, i)
		if name == nil then
			return
		end
		local t = type(value)
		if t == "table" then
			u[name] = value
		elseif t == "function" and not unique[value] then
			unique[value] = true
			getupvaluetable(u, value, unique)
		end
		i = i + 1
	end
end

-- _U and _P, walked fresh each run so that patches made since are seen.
local function tables(funcs)
	local u, unique = {}, {}
	for _, f in ipairs(funcs) do
		getupvaluetable(u, f, unique)
	end
	local p = {}
	local proto = u.proto
	if proto then
		for _, v in pairs(proto) do
			local name, dispatch = v.name, v.dispatch
			if name and dispatch and not p[name] then
				local pp = {}
				p[name] = pp
				getupvaluetable(pp, dispatch, unique)
			end
		end
	end
	return u, p
end

local function capture(output, nils)
	return function(...)
		local value = { ... }
		local n
		if nils then
			n = select("#", ...)
		else -- skynet's print: ipairs, so it stops at the first nil
			n = 0
			while value[n + 1] ~= nil do
				n = n + 1
			end
		end
		for k = 1, n do
			value[k] = tostring(value[k])
		end
		output[#output + 1] = table_concat(value, "\t", 1, n)
	end
end

----- rendering of returned values for a REPL (strings, not live objects): the same
----- printer the kernel's inspection uses, loaded only when a chunk returns something

-- Showing a value runs code of the value's own (__tostring, __pairs, __len...), which
-- may loop or take ages: it gets a budget of instructions, like a cell has the stop
-- button, and a value it cannot show within it is shown as such.
local RENDER_BUDGET = 100000000 -- instructions, about a second

local function over_budget()
	error("showing it took too long", 2)
end

local function render(v)
	local hook, mask, count = debug.gethook()
	debug.sethook(over_budget, "", RENDER_BUDGET)
	local ok, text = pcall(require("skykernel.pretty").format, v)
	if hook then
		debug.sethook(hook, mask, count)
	else
		-- skykernel's stop hook, disarmed (gethook shows none), must stay in place; on a
		-- real skynet node (this file travels in remote cells) there is none to keep
		local core = package.loaded["skynet.core"]
		local restore = type(core) == "table" and core.restore_stop -- loads on first use
		if restore then
			restore()
		else
			debug.sethook()
		end
	end
	if ok then
		return text
	end
	local what = type(v) == "table" and "a table" or type(v)
	return string_format("<%s that could not be shown: %s>", what,
		tostring(text):gsub("^[^\n]-:%d+: ", ""):match("[^\n]*"))
end

local M = { render = render, tables = tables }

local sessions = {}

-- The traceback of an error in the chunk, without the frames of the debug machinery.
local function chunk_traceback(err)
	local tb = traceback(tostring(err), 2)
	local cut = tb:find("\n[^\n]*skynet/inject%.lua")
	return cut and tb:sub(1, cut - 1) or tb
end

-- skynet's contract: inject(skynet, source, filename, args, funcs...) -> ok, {lines}.
local function inject(skynet, source, filename, args, ...)
	filename = filename and ("@" .. filename) or "=(load)"
	local output = {}
	local u, p = tables({ ... })
	local env = setmetatable({ print = capture(output, false), _U = u, _P = p }, { __index = _ENV })
	local func, err = load(source, filename, "bt", env)
	if not func then
		return false, { err }
	end
	local ok, perr = skynet.pcall(func, table_unpack(args or {}, 1, args and args.n or 0))
	if not ok then
		output[#output + 1] = perr
		return false, output
	end
	return true, output
end

----- a notebook cell's output: what it prints and writes, in order

-- Pieces of text and displays in the order the cell made them: `out` (print, io.write,
-- a child's output), `err` (io.stderr), `display` (a mimebundle's JSON).
local function recorder()
	local events = {} -- { kind, {pieces} } ...
	local rec = {}

	function rec.add(kind, text)
		local last = events[#events]
		if last == nil or last[1] ~= kind or kind == "display" then
			last = { kind, {} }
			events[#events + 1] = last
		end
		local pieces = last[2]
		pieces[#pieces + 1] = text
	end

	-- stdout as RUN always answered it: lines joined by "\n", no newline at the end
	function rec.stdout()
		local all = {}
		for _, e in ipairs(events) do
			if e[1] == "out" then
				all[#all + 1] = table_concat(e[2])
			end
		end
		return (table_concat(all):gsub("\n$", ""))
	end

	-- The events as JSON, when there is more than stdout (else nil: the caller has it all)
	function rec.events()
		local flat, rich = {}, false
		for _, e in ipairs(events) do
			rich = rich or e[1] ~= "out"
			flat[#flat + 1] = e[1]
			flat[#flat + 1] = table_concat(e[2])
		end
		if not rich then
			return nil
		end
		return require("skykernel.json").encode(flat)
	end

	-- Hand over what was made so far (before a cell waits for input), keeping an
	-- unfinished last line of stdout: it is the prompt, shown with the input box.
	function rec.take()
		local prompt = ""
		local last = events[#events]
		if last and last[1] == "out" then
			local text = table_concat(last[2])
			local head, tail = text:match("^(.*\n)([^\n]*)$")
			if head == nil then
				head, tail = "", text
			end
			prompt = tail
			last[2] = { head }
		end
		local flat = {}
		for _, e in ipairs(events) do
			local text = table_concat(e[2])
			if text ~= "" then
				flat[#flat + 1] = e[1]
				flat[#flat + 1] = text
			end
		end
		events = {}
		return require("skykernel.json").encode(flat), prompt
	end

	return rec
end

local function print_to(rec, nils)
	return function(...)
		local n = select("#", ...)
		if not nils then -- skynet's print: ipairs, so it stops at the first nil
			local i = 0
			while i < n and select(i + 1, ...) ~= nil do
				i = i + 1
			end
			n = i
		end
		local value = { ... }
		for k = 1, n do
			value[k] = tostring(value[k])
		end
		rec.add("out", table_concat(value, "\t", 1, n))
		rec.add("out", "\n")
	end
end

----- a cell's io and os: its standard streams are the notebook's

-- What io.write takes: strings and numbers, as io.write does.
local function writable(where, i, v)
	local t = type(v)
	if t == "string" then
		return v
	elseif t == "number" then
		return math_type(v) == "integer" and string_format("%d", v) or string_format("%.14g", v)
	end
	error(string_format("bad argument #%d to '%s' (string expected, got %s)", i, where, t), 3)
end

-- Input from the front end (a Jupyter input_request), through the kernel's own service.
local function ask_kernel(skynet, rec)
	local kernel = skynet.localname(".jupyter")
	if not kernel then
		error("io.read: no notebook to ask for input here (a remote node, or no kernel): "
			.. "put the values in the cell", 0)
	end
	local pending, prompt = rec.take()
	local ok, line = skynet.call(kernel, "lua", "input", prompt, pending)
	if not ok then
		error("io.read: " .. tostring(line), 0)
	end
	return line -- nil at end of input
end

local function read_formats(readline, ...)
	local n = select("#", ...)
	local formats = n == 0 and { "l" } or { ... }
	local results = {}
	for i = 1, math.max(n, 1) do
		local f = formats[i]
		if type(f) == "string" then
			f = f:gsub("^%*", ""):sub(1, 1)
		end
		local line = readline()
		local v
		if line == nil then
			v = nil
		elseif f == "n" then
			v = tonumber(line)
		elseif f == "L" then
			v = line .. "\n"
		elseif type(f) == "number" then
			v = line:sub(1, f)
		else -- "l", "a"
			v = line
		end
		results[i] = v
		if v == nil then
			return table_unpack(results, 1, i)
		end
	end
	return table_unpack(results, 1, math.max(n, 1))
end

local function cell_streams(skynet, rec)
	local file_mt = {}
	file_mt.__index = file_mt
	file_mt.__name = "FILE*"
	function file_mt.__tostring(f)
		return "file (" .. f.name .. ")"
	end
	function file_mt.write(f, ...)
		if f.kind == nil then
			error("bad argument #1 to 'write' (file not writable: " .. f.name .. ")", 2)
		end
		for i = 1, select("#", ...) do
			rec.add(f.kind, writable("write", i, (select(i, ...))))
		end
		return f
	end
	function file_mt.read(f, ...)
		if f.kind ~= nil then
			return nil, "file not readable: " .. f.name, 9
		end
		return read_formats(function()
			return ask_kernel(skynet, rec)
		end, ...)
	end
	function file_mt.lines(f, ...)
		local formats = table_pack(...)
		return function()
			return f:read(table_unpack(formats, 1, formats.n))
		end
	end
	function file_mt.flush(f)
		return f
	end
	function file_mt.setvbuf()
		return true
	end
	function file_mt.close()
		return nil, "cannot close standard file"
	end
	function file_mt.seek()
		return nil, "Illegal seek", 29
	end

	local stdout = setmetatable({ name = "cell stdout", kind = "out" }, file_mt)
	local stderr = setmetatable({ name = "cell stderr", kind = "err" }, file_mt)
	local stdin = setmetatable({ name = "cell stdin" }, file_mt)
	local output, input = stdout, stdin
	local real = io

	local cell_io = setmetatable({ stdout = stdout, stderr = stderr, stdin = stdin }, { __index = real })
	function cell_io.write(...)
		if output ~= stdout then
			return output:write(...)
		end
		for i = 1, select("#", ...) do
			rec.add("out", writable("write", i, (select(i, ...))))
		end
		return stdout
	end
	function cell_io.read(...)
		return input:read(...)
	end
	function cell_io.lines(name, ...)
		if name == nil then
			return input:lines(...)
		end
		return real.lines(name, ...)
	end
	function cell_io.output(f)
		if f ~= nil then
			output = type(f) == "string" and real.open(f, "w") or f
		end
		return output
	end
	function cell_io.input(f)
		if f ~= nil then
			input = type(f) == "string" and assert(real.open(f, "r")) or f
		end
		return input
	end
	function cell_io.type(f)
		if getmetatable(f) == file_mt then
			return "file"
		end
		return real.type(f)
	end

	local real_os = os
	local cell_os = setmetatable({}, { __index = real_os })
	-- The child's output is the cell's (its stderr too): it goes to a file read back when
	-- the child ends (not every Lua has io.popen).
	function cell_os.execute(command)
		if command == nil then
			return real_os.execute()
		end
		local tmp = real_os.tmpname()
		local ok, how, code = real_os.execute("(" .. tostring(command) .. ") >'" .. tmp .. "' 2>&1")
		local f = real.open(tmp, "rb")
		if f then
			local text = f:read("a")
			f:close()
			if text and text ~= "" then
				rec.add("out", text)
			end
		end
		real_os.remove(tmp)
		return ok, how, code
	end
	return cell_io, cell_os
end

----- a cell's top-level locals carry over to the next cells

-- The name of the to-be-closed local a cell starts with (on its first line, so line
-- numbers stay). When the cell's main chunk ends, its locals are copied into the session
-- environment: `local skynet = require "skynet"` in one cell, `skynet.call` in the next.
local KEEPER = "__skykernel_keep_locals"

local function keeper(env, chunk)
	return setmetatable({}, {
		__close = function(_, err)
			-- after an error the chunk's frame is already gone: nothing to read
			if err ~= nil then
				return
			end
			local info = getinfo(2, "f")
			if info == nil or info.func ~= chunk then
				return
			end
			local i = 1
			while true do
				local name, value = getlocal(2, i)
				if name == nil then
					break
				end
				if name:sub(1, 1) ~= "(" and name ~= KEEPER then
					rawset(env, name, value)
				end
				i = i + 1
			end
		end,
	})
end

local function session_env(key, reset)
	if key == nil then
		return setmetatable({}, { __index = _ENV })
	end
	if reset then
		sessions[key] = nil
	end
	local env = sessions[key]
	if env == nil then
		env = setmetatable({}, { __index = _ENV })
		sessions[key] = env
	end
	return env
end

-- The notebook's RUN: options { session=, reset=, nils=, returns=, expression=, repl=,
-- args= }. Returns ok, output (string), err (string|nil), rendered return values (list),
-- and with repl, the events as JSON when the cell made more than stdout (else nil).
function M.run(skynet, source, filename, opts, funcs)
	local chunkname = filename and ("@" .. filename) or "=(load)"
	local rec = recorder()
	local u, p = tables(funcs)
	local env = session_env(opts.session, opts.reset)
	env.print, env._U, env._P = print_to(rec, opts.nils ~= false), u, p
	local repl = opts.repl and type(source) == "string"
	if repl then
		env.io, env.os = cell_streams(skynet, rec)
		env.display = require("skykernel.display").new(function(json)
			rec.add("display", json)
		end)
	end
	local func, err
	if opts.expression then
		func = load("return " .. source, chunkname, "t", env)
	end
	local keep = nil
	if func == nil then
		local text = source
		if repl and source:sub(1, 4) ~= "\27Lua" then
			text = "local " .. KEEPER .. " <close> = " .. KEEPER .. "; " .. source
		end
		func, err = load(text, chunkname, "bt", env)
		if func == nil then
			return false, rec.stdout(), err, {}, rec.events()
		end
		if text ~= source then
			keep = keeper(env, func)
			rawset(env, KEEPER, keep)
		end
	end
	local args = opts.args or {}
	local r = table_pack(xpcall(func, chunk_traceback, table_unpack(args, 1, args.n or #args)))
	if keep ~= nil then
		rawset(env, KEEPER, nil)
	end
	if not r[1] then
		return false, rec.stdout(), tostring(r[2]), {}, rec.events()
	end
	local rendered = {}
	if opts.returns ~= false then
		for i = 2, r.n do
			rendered[i - 1] = render(r[i])
		end
	end
	if repl and r.n >= 2 then
		rawset(env, "_", r[2]) -- `_` is the last value a cell showed, as in IPython
	end
	return true, rec.stdout(), nil, rendered, rec.events()
end

-- Forget a persistent session environment (or all of them).
function M.forget(key)
	if key == nil then
		sessions = {}
	else
		sessions[key] = nil
	end
end

function M.sessions()
	local keys = {}
	for k in next, sessions do
		keys[#keys + 1] = k
	end
	return keys
end

return setmetatable(M, {
	__call = function(_, ...)
		return inject(...)
	end,
})
