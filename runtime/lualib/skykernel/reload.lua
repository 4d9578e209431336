-- skykernel.reload: load a new version of a module into a running service.
--
-- After the idea of cloudwu's luareload (our own code). The new version is checked
-- before anything changes:
--   1. a sandbox run: its globals and everything `require` returns are stand-ins that
--      record what the top level does; a call other than a known-safe one (require,
--      setmetatable, table/string/math functions...), or an assignment to a global or to
--      another module, refuses the reload: a top level with side effects would run them
--      again in the live service.
--   2. the real run in the module's own _ENV (now known to be side-effect free).
--   3. matching: old and new are walked side by side by access path (M.f, M.Obj.get,
--      M.f^helper for a function-valued upvalue). Functions whose code differs are
--      replaced; the new ones' upvalues are joined by name to the live ones (so state
--      survives); data whose type did not change is kept; tables are matched in place
--      (objects whose metatable is an old class table see the new methods).
--   4. refusals, with a reason: a path whose type changed, an upvalue name bound to two
--      live variables, a side effect, an error while loading, a module not loaded.
-- Only then are changes applied, and every reference to a replaced function in the
-- state (registry, package.loaded, tables reachable from them with keys, values and
-- metatables, upvalues of reachable functions, locals of suspended coroutines) is
-- re-pointed to the new one. `undo(id)` re-points back.

local ipairs = ipairs
local type, pairs, next, tostring, select, error, pcall = type, pairs, next, tostring, select, error, pcall
local setmetatable, getmetatable, rawget, rawset = setmetatable, getmetatable, rawget, rawset
local getupvalue, setupvalue, upvalueid, upvaluejoin = debug.getupvalue, debug.setupvalue, debug.upvalueid,
	debug.upvaluejoin
local getlocal, setlocal, getinfo, dgetmetatable = debug.getlocal, debug.setlocal, debug.getinfo, debug.getmetatable
local string_dump, string_format = string.dump, string.format
local table_concat, table_sort = table.concat, table.sort

local M = { history = {}, last_id = 0 }

----- 1. the sandbox run

local SAFE_FUNCS = {
	"setmetatable", "getmetatable", "rawget", "rawset", "rawequal", "rawlen", "type", "select", "assert",
	"error", "tostring", "tonumber", "pairs", "ipairs", "next", "pcall", "xpcall",
}
local SAFE_LIBS = { "string", "math", "table", "utf8" }

local function sandbox_run(chunk_loader, name)
	local effects, required = {}, {}
	local function effect(what)
		effects[#effects + 1] = what
	end
	local standin_mt = {}
	local function standin(path)
		return setmetatable({ path }, standin_mt)
	end
	standin_mt.__index = function(s, k)
		return standin(rawget(s, 1) .. "." .. tostring(k))
	end
	standin_mt.__newindex = function(s, k)
		effect("assigns " .. rawget(s, 1) .. "." .. tostring(k))
	end
	standin_mt.__call = function(s)
		effect("calls " .. rawget(s, 1))
		return standin(rawget(s, 1) .. "()")
	end
	standin_mt.__tostring = function(s)
		return rawget(s, 1)
	end
	local safe = {}
	for _, k in pairs(SAFE_FUNCS) do
		safe[k] = _G[k]
	end
	for _, k in pairs(SAFE_LIBS) do
		safe[k] = _G[k]
	end
	safe._G = nil
	safe.require = function(modname)
		required[#required + 1] = modname
		return standin(string_format("require(%q)", tostring(modname)))
	end
	local env = setmetatable({}, {
		__index = function(_, k)
			local v = safe[k]
			if v ~= nil then
				return v
			end
			return standin(tostring(k))
		end,
		__newindex = function(_, k)
			effect("assigns global " .. tostring(k))
		end,
	})
	local f, err = chunk_loader(env)
	if f == nil then
		return nil, "does not compile: " .. tostring(err)
	end
	local ok, lerr = pcall(f, name)
	if not ok then
		return nil, "raises during load: " .. tostring(lerr)
	end
	return effects, required
end

----- 3. matching

local function dump(f)
	local ok, code = pcall(string_dump, f, true)
	return ok and code or f
end

local function upvalues_of(f)
	local t, i = {}, 1
	while true do
		local name, value = getupvalue(f, i)
		if name == nil then
			return t
		end
		t[name] = { index = i, value = value }
		i = i + 1
	end
end

-- name -> { func, index, id, ambiguous } over every function reachable from the module.
local function index_upvalues(root)
	return require("skykernel.upvalue_index").build({ root })
end

local function new_plan(name)
	return {
		module = name,
		changed = {}, added = {}, removed = {}, joined = {}, kept = {}, refused = {}, newlocals = {},
		-- internals (not reported)
		map = {}, joins = {}, sets = {},
	}
end

local function refuse(plan, reason)
	plan.refused[#plan.refused + 1] = reason
end

local match_table

-- Pair an old and a new function at `path` (recursing into function/table upvalues).
local function match_func(plan, path, of, nf, index, seen)
	if of == nf or seen[nf] then
		return
	end
	seen[nf] = true
	local same = dump(of) == dump(nf)
	if not same then
		plan.map[of] = nf
		plan.changed[#plan.changed + 1] = path
	end
	local ouv = upvalues_of(of)
	local i = 1
	while true do
		local uname, nv = getupvalue(nf, i)
		if uname == nil then
			break
		end
		local live = ouv[uname]
		local lf, li
		if live then
			lf, li = of, live.index
		else
			local g = index[uname]
			if g and g.ambiguous then
				if not same then
					refuse(plan, string_format("ambiguous upvalue %s of %s (%d live variables of that name)",
						uname, path, g.ambiguous))
				end
			elseif g then
				lf, li, live = g.func, g.index, { value = g.value }
			end
		end
		if lf then
			local ov = live.value
			local to, tn = type(ov), type(nv)
			if uname == "_ENV" then
				if not same then
					plan.joins[#plan.joins + 1] = { nf, i, lf, li }
				end
			elseif tn == "function" and to == "function" then
				-- share the live cell; if the function changed, re-pointing puts the new
				-- one in it (and in every other place that held the old one)
				match_func(plan, path .. "^" .. uname, ov, nv, index, seen)
				if not same then
					plan.joins[#plan.joins + 1] = { nf, i, lf, li }
				end
			elseif tn == "table" and to == "table" then
				match_table(plan, path .. "^" .. uname, ov, nv, index, seen)
				if not same then
					plan.joins[#plan.joins + 1] = { nf, i, lf, li }
					plan.joined[#plan.joined + 1] = path .. ": " .. uname
				end
			elseif nv == nil or ov == nil or tn == to then
				if not same then
					plan.joins[#plan.joins + 1] = { nf, i, lf, li }
					plan.joined[#plan.joined + 1] = path .. ": " .. uname
				end
			else
				refuse(plan, string_format("upvalue %s of %s changed type from %s to %s", uname, path, to, tn))
			end
		elseif not same then
			plan.newlocals[#plan.newlocals + 1] = path .. ": " .. uname
		end
		i = i + 1
	end
end

-- An added function: join its upvalues to live ones of the same name where unambiguous.
local function join_added(plan, path, nf, index, seen)
	if seen[nf] then
		return
	end
	seen[nf] = true
	local i = 1
	while true do
		local uname, nv = getupvalue(nf, i)
		if uname == nil then
			return
		end
		local g = index[uname]
		if uname ~= "_ENV" and g then
			if g.ambiguous then
				refuse(plan, string_format("ambiguous upvalue %s of %s (%d live variables of that name)",
					uname, path, g.ambiguous))
			elseif type(g.value) == "function" and type(nv) == "function" then
				match_func(plan, path .. "^" .. uname, g.value, nv, index, seen)
				plan.joins[#plan.joins + 1] = { nf, i, g.func, g.index }
			elseif nv == nil or g.value == nil or type(nv) == type(g.value) then
				plan.joins[#plan.joins + 1] = { nf, i, g.func, g.index }
				plan.joined[#plan.joined + 1] = path .. ": " .. uname
			else
				refuse(plan, string_format("upvalue %s of %s changed type from %s to %s", uname, path,
					type(g.value), type(nv)))
			end
		end
		i = i + 1
	end
end

local function keyname(k)
	if type(k) == "string" and k:match "^[%a_][%w_]*$" then
		return "." .. k
	end
	return "[" .. tostring(k) .. "]"
end

-- Keys in a stable order, data and tables before functions, so that a table reached both
-- as a field and as an upvalue is reported under its field path.
local function sorted_keys(t)
	local keys = {}
	for k in next, t do
		keys[#keys + 1] = k
	end
	table_sort(keys, function(a, b)
		local fa, fb = type(t[a]) == "function", type(t[b]) == "function"
		if fa ~= fb then
			return fb
		end
		return tostring(a) < tostring(b)
	end)
	return keys
end

function match_table(plan, path, old, new, index, seen)
	if seen[old] then
		return
	end
	seen[old] = true
	for _, k in ipairs(sorted_keys(new)) do
		local nv = rawget(new, k)
		local ov = rawget(old, k)
		local p = path .. keyname(k)
		local tn, to = type(nv), type(ov)
		if ov == nil then
			plan.added[#plan.added + 1] = p
			plan.sets[#plan.sets + 1] = { old, k, nil, nv }
			if tn == "function" then
				join_added(plan, p, nv, index, seen)
			end
		elseif tn ~= to then
			refuse(plan, string_format("%s changed type from %s to %s", p, to, tn))
		elseif tn == "function" then
			match_func(plan, p, ov, nv, index, seen)
		elseif tn == "table" then
			match_table(plan, p, ov, nv, index, seen)
		else
			plan.kept[#plan.kept + 1] = p
		end
	end
	for k, ov in next, old do
		if type(ov) == "function" and rawget(new, k) == nil then
			plan.removed[#plan.removed + 1] = path .. keyname(k)
			plan.sets[#plan.sets + 1] = { old, k, ov, nil }
		end
	end
end

----- re-pointing references

-- Replace every reference to a key of `map` by its value; returns how many were changed.
local function repoint(map, skip)
	local seen = {}
	for k in pairs(skip) do
		seen[k] = true
	end
	local me = coroutine.running()
	seen[me] = true
	local stack, n = {}, 0
	local count = 0
	local function visit(v)
		if v ~= nil and not seen[v] then
			local t = type(v)
			if t == "table" or t == "function" or t == "thread" or t == "userdata" then
				seen[v] = true
				n = n + 1
				stack[n] = v
			end
		end
	end
	for _, nf in pairs(map) do
		visit(nf) -- new functions share cells with old ones (joins): fix those too
	end
	visit(debug.getregistry())
	visit(_G)
	visit(package.loaded)
	visit(dgetmetatable(""))
	while n > 0 do
		local v = stack[n]
		stack[n] = nil
		n = n - 1
		local t = type(v)
		if t == "table" then
			local fix
			for k, x in next, v do
				local nx = map[x]
				if nx then
					rawset(v, k, nx)
					count = count + 1
				else
					visit(x)
				end
				if map[k] then
					fix = fix or {}
					fix[#fix + 1] = k
				else
					visit(k)
				end
			end
			if fix then
				for _, k in pairs(fix) do
					local x = rawget(v, k)
					rawset(v, k, nil)
					rawset(v, map[k], x)
					count = count + 1
				end
			end
			visit(dgetmetatable(v))
		elseif t == "function" then
			local i = 1
			while true do
				local name, x = getupvalue(v, i)
				if name == nil then
					break
				end
				local nx = map[x]
				if nx then
					setupvalue(v, i, nx)
					count = count + 1
				else
					visit(x)
				end
				i = i + 1
			end
		elseif t == "thread" then
			local status = coroutine.status(v)
			if status == "suspended" or status == "normal" then
				local level = 0
				while getinfo(v, level, "l") do
					local i = 1
					while true do
						local name, x = getlocal(v, level, i)
						if name == nil then
							break
						end
						local nx = map[x]
						if nx then
							setlocal(v, level, i, nx)
							count = count + 1
						else
							visit(x)
						end
						i = i + 1
					end
					level = level + 1
				end
			end
		else
			visit(dgetmetatable(v))
		end
	end
	return count
end

----- the whole thing

local function module_env(old)
	for _, v in next, old do
		if type(v) == "function" then
			local i = 1
			while true do
				local name, value = getupvalue(v, i)
				if name == nil then
					break
				end
				if name == "_ENV" then
					return value
				end
				i = i + 1
			end
		end
	end
	return _G
end

-- How to load the new version: the source given (a cell), else the file on disk read
-- again through the node's compiler (codecache OFF for this one load, so a second
-- reload of the same file sees the newest text, whatever the cache holds).
local function make_loader(name, source)
	local path = package.searchpath(name, package.path)
	if source then
		local chunkname = path and ("@" .. path) or ("=reload:" .. name)
		return function(env)
			return load(source, chunkname, "t", env)
		end, path
	end
	if path == nil then
		return nil, string_format("module %s is not on package.path", name)
	end
	local c = require "skynet.core"
	if c.loadfile then
		return function(env)
			local mode = c.cache_mode
			c.cache_mode = "OFF"
			local f, err = c.loadfile(path, "bt", env)
			c.cache_mode = mode
			return f, err
		end, path
	end
	-- real skynet: loadfile goes through its code cache, whose mode is per Lua state
	local has_cache, cache = pcall(require, "skynet.codecache")
	local mode_of = has_cache and type(cache) == "table" and cache.mode
	return function(env)
		local mode = mode_of and mode_of()
		if mode then
			mode_of("OFF")
		end
		local f, err = loadfile(path, "bt", env)
		if mode then
			mode_of(mode)
		end
		return f, err
	end, path
end

function M.plan(name, source)
	local plan = new_plan(name)
	local old = package.loaded[name]
	if type(old) ~= "table" then
		refuse(plan, string_format("module %s is not loaded in this service (package.loaded holds %s)",
			name, type(old)))
		return plan
	end
	local loader, path = make_loader(name, source)
	if loader == nil then
		refuse(plan, path)
		return plan
	end
	plan.path = path
	local effects, required = sandbox_run(loader, name)
	if effects == nil then
		refuse(plan, "new version " .. required)
		return plan
	end
	for _, e in pairs(effects) do
		refuse(plan, "top level has a side effect: " .. e)
	end
	for _, r in pairs(required) do
		if package.loaded[r] == nil then
			refuse(plan, string_format("top level requires %s, which this service has not loaded", r))
		end
	end
	if plan.refused[1] then
		return plan
	end
	local f, err = loader(module_env(old))
	if f == nil then
		refuse(plan, "new version does not compile: " .. tostring(err))
		return plan
	end
	local ok, new = pcall(f, name, path)
	if not ok then
		refuse(plan, "new version raises during load: " .. tostring(new))
		return plan
	end
	if type(new) ~= "table" then
		refuse(plan, string_format("new version returns %s, not a module table", type(new)))
		return plan
	end
	plan.new = new
	match_table(plan, name, old, new, index_upvalues(old), {})
	return plan
end

function M.apply(plan)
	for _, j in pairs(plan.joins) do
		upvaluejoin(j[1], j[2], j[3], j[4])
	end
	for _, s in pairs(plan.sets) do
		rawset(s[1], s[2], s[4])
	end
	local skip = { [plan] = true, [plan.map] = true, [plan.joins] = true, [plan.sets] = true, [M] = true,
		[M.history] = true, [plan.new] = true }
	plan.repointed = repoint(plan.map, skip)
	M.last_id = M.last_id + 1
	plan.id = M.last_id
	plan.new = nil
	M.history[plan.id] = { module = plan.module, map = plan.map, sets = plan.sets, changed = plan.changed }
	return plan.id
end

function M.undo(id)
	local h = M.history[id]
	if h == nil then
		error(string_format("no module reload %s in this service", tostring(id)), 0)
	end
	for later, other in pairs(M.history) do
		if later > id and other.module == h.module then
			error(string_format("module %s was reloaded again (#%d) after #%d; undo that first",
				h.module, later, id), 0)
		end
	end
	local inverse = {}
	for of, nf in pairs(h.map) do
		inverse[nf] = of
	end
	for i = #h.sets, 1, -1 do
		local s = h.sets[i]
		rawset(s[1], s[2], s[3])
	end
	local n = repoint(inverse, { [h] = true, [h.map] = true, [inverse] = true, [M] = true,
		[M.history] = true, [h.sets] = true })
	M.history[id] = nil
	return n
end

-- The report as lines of "kind<TAB>text", for the Python side (skykernel.reload).
local function report(plan, status)
	local lines = { "status\t" .. status, "module\t" .. plan.module }
	if plan.path then
		lines[#lines + 1] = "path\t" .. plan.path
	end
	if plan.id then
		lines[#lines + 1] = "id\t" .. plan.id
	end
	if plan.repointed then
		lines[#lines + 1] = "repointed\t" .. plan.repointed
	end
	for _, kind in ipairs { "changed", "added", "removed", "joined", "newlocals", "kept", "refused" } do
		local list = plan[kind]
		table_sort(list)
		for _, v in ipairs(list) do
			lines[#lines + 1] = kind .. "\t" .. v
		end
	end
	return table_concat(lines, "\n")
end

-- Plan and (unless dry) apply; returns the report text.
function M.run(name, source, dry)
	local plan = M.plan(name, source)
	if plan.refused[1] then
		return report(plan, "refused")
	end
	if dry then
		return report(plan, "dry-run")
	end
	M.apply(plan)
	return report(plan, "applied")
end

function M.loaded(name)
	return package.loaded[name] ~= nil
end

return M
