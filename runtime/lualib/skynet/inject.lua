-- skynet.inject: runs a chunk inside this service, as skynet's debug RUN does.
--
-- _U holds the table-valued upvalues reachable from the functions given (skynet passes
-- skynet.dispatch_message and skynet.register_protocol), _P[name] the same walk from
-- each protocol's dispatch function. Called as skynet's module (a function returning
-- ok, output lines); `run` adds the options the notebook needs (see docs/inject.md).

local type, pairs, ipairs, tostring, select, next = type, pairs, ipairs, tostring, select, next
local getupvalue, traceback, xpcall = debug.getupvalue, debug.traceback, xpcall
local setmetatable, getmetatable, load = setmetatable, getmetatable, load
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

-- The notebook's RUN: options { session=, reset=, nils=, returns=, expression=, args= }.
-- Returns ok, output (string), err (string|nil), rendered return values (list).
function M.run(skynet, source, filename, opts, funcs)
	local chunkname = filename and ("@" .. filename) or "=(load)"
	local output = {}
	local u, p = tables(funcs)
	local print = capture(output, opts.nils ~= false)
	local env
	local key = opts.session
	if key ~= nil then
		if opts.reset then
			sessions[key] = nil
		end
		env = sessions[key]
		if env == nil then
			env = setmetatable({}, { __index = _ENV })
			sessions[key] = env
		end
		env.print, env._U, env._P = print, u, p
	else
		env = setmetatable({ print = print, _U = u, _P = p }, { __index = _ENV })
	end
	local func, err
	if opts.expression then
		func = load("return " .. source, chunkname, "t", env)
	end
	if func == nil then
		func, err = load(source, chunkname, "bt", env)
		if func == nil then
			return false, table_concat(output, "\n"), err, {}
		end
	end
	local args = opts.args or {}
	local r = table_pack(xpcall(func, chunk_traceback, table_unpack(args, 1, args.n or #args)))
	if not r[1] then
		return false, table_concat(output, "\n"), tostring(r[2]), {}
	end
	local rendered = {}
	if opts.returns ~= false then
		for i = 2, r.n do
			rendered[i - 1] = render(r[i])
		end
	end
	return true, table_concat(output, "\n"), nil, rendered
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
