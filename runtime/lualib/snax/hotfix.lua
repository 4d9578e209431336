-- snax.hotfix: replace methods of a running snax service with the ones of a patch.
--
-- skynet's semantics: the patch is loaded like a snax file; every upvalue a patched
-- function declares without a value (`local i`) is joined to the live upvalue of the
-- same name; the method entries are replaced; the patch's `hotfix(...)` runs with the
-- caller's arguments and its results are returned.
--
-- Safer than skynet's (docs/reload.md): every method and every join is checked before
-- anything changes, so a failing patch changes nothing (skynet leaves the methods it
-- patched before the failing one in place); an upvalue name that two live functions use
-- for different variables is only an error when the patch actually asks for it; and each
-- applied patch is kept in `history`, so `undo(id)` can put the old methods back.

local interface = require "snax.interface"
local upvalue_index = require "skykernel.upvalue_index"

local type, pairs, ipairs, error, tostring = type, pairs, ipairs, error, tostring
local getupvalue, upvalueid, upvaluejoin = debug.getupvalue, debug.upvalueid, debug.upvaluejoin
local string_format = string.format

local M = { history = {}, last_id = 0 }

local function env_id(f)
	local i = 1
	while true do
		local name = getupvalue(f, i)
		if name == nil then
			return nil
		end
		if name == "_ENV" then
			return upvalueid(f, i)
		end
		i = i + 1
	end
end

-- Every live upvalue by name, walking into functions of the service's own _ENV; a name
-- bound to two different variables is marked ambiguous.
local function live_upvalues(funcs)
	local roots, env = {}, nil
	for _, v in pairs(funcs) do
		if v[4] then
			roots[#roots + 1] = v[4]
			env = env or env_id(v[4])
		end
	end
	return upvalue_index.build(roots, function(f)
		return env_id(f) == env
	end)
end

local function find(funcs, group, name)
	for _, desc in pairs(funcs) do
		if desc[2] == group and desc[3] == name then
			return desc
		end
	end
end

-- The joins a patch function needs: { {f, i, livef, livei, name} ... }, or an error.
local function plan_joins(uv, f, dummy_env, joins, seen)
	if seen[f] then
		return
	end
	seen[f] = true
	local i = 1
	while true do
		local name, value = getupvalue(f, i)
		if name == nil then
			return
		end
		if value == nil or value == dummy_env then
			local live = uv[name]
			if live then
				if live.ambiguous then
					error(string_format("ambiguity local value %s", name), 0)
				end
				joins[#joins + 1] = { f, i, live.func, live.index, name }
			end
		elseif type(value) == "function" then
			plan_joins(uv, value, dummy_env, joins, seen)
		end
		i = i + 1
	end
end

-- Check everything, change nothing: returns the plan or raises.
function M.plan(funcs, source)
	if type(source) ~= "string" then
		error("hotfix: the patch must be Lua source", 0)
	end
	local dummy_env = {}
	for k, v in pairs(_G) do
		dummy_env[k] = v
	end
	local function loader()
		return load(source, "=patch", "bt", dummy_env)
	end
	local ok, patch = pcall(interface, "patch", dummy_env, loader)
	if not ok then
		error("hotfix: patch does not load: " .. tostring(patch), 0)
	end
	local uv = live_upvalues(funcs)
	local plan = { methods = {}, joins = {}, hotfix = nil }
	for _, v in ipairs(patch) do
		local group, name, f = v[2], v[3], v[4]
		if f then
			local desc = find(funcs, group, name)
			if desc == nil then
				error(string_format("Patch mismatch %s.%s", group, name), 0)
			end
			plan_joins(uv, f, dummy_env, plan.joins, {})
			plan.methods[#plan.methods + 1] = { desc = desc, old = desc[4], new = f }
		end
	end
	local hf = find(patch, "system", "hotfix")
	plan.hotfix = hf and hf[4]
	return plan
end

-- Apply a plan: joins, then method entries, then the patch's hotfix(...).
function M.apply(plan, source, ...)
	for _, j in ipairs(plan.joins) do
		upvaluejoin(j[1], j[2], j[3], j[4])
	end
	local changed = {}
	for _, m in ipairs(plan.methods) do
		m.desc[4] = m.new
		if m.desc[3] ~= "hotfix" then -- replaced as in skynet, but it is the patch's entry
			changed[#changed + 1] = m.desc[2] .. "." .. m.desc[3]
		end
	end
	M.last_id = M.last_id + 1
	local id = M.last_id
	M.history[id] = { methods = plan.methods, changed = changed, source = source }
	if plan.hotfix then
		return id, changed, plan.hotfix(...)
	end
	return id, changed
end

-- Put back the methods a patch replaced (only if nothing replaced them since).
function M.undo(id)
	local h = M.history[id]
	if h == nil then
		error(string_format("no hotfix %s in this service", tostring(id)), 0)
	end
	for _, m in ipairs(h.methods) do
		if m.desc[3] ~= "hotfix" and m.desc[4] ~= m.new then
			error(string_format("%s.%s was changed again after hotfix %d; undo that first",
				m.desc[2], m.desc[3], id), 0)
		end
	end
	for _, m in ipairs(h.methods) do
		if m.desc[3] ~= "hotfix" or m.desc[4] == m.new then
			m.desc[4] = m.old
		end
	end
	M.history[id] = nil
	return h.changed
end

-- The notebook's entry (skykernel.reload): patch this service's snax methods; returns the
-- history id, the methods changed, then hotfix(...)'s results. dry: the plan only.
function M.run(source, dry, ...)
	if M.funcs == nil then
		error("not a snax service (no snax methods here)", 0)
	end
	local plan = M.plan(M.funcs, source)
	if dry then
		local changed, joined = {}, {}
		for _, m in ipairs(plan.methods) do
			if m.desc[3] ~= "hotfix" then
				changed[#changed + 1] = m.desc[2] .. "." .. m.desc[3]
			end
		end
		for _, j in ipairs(plan.joins) do
			joined[#joined + 1] = j[5]
		end
		return 0, changed, joined
	end
	return M.apply(plan, source, ...)
end

-- skynet's entry: hotfix(funcs, source, ...) -> pcall-style results.
setmetatable(M, {
	__call = function(_, funcs, source, ...)
		local ok, plan = pcall(M.plan, funcs, source)
		if not ok then
			return false, plan
		end
		local r = table.pack(pcall(M.apply, plan, source, ...))
		if not r[1] then
			return false, r[2]
		end
		-- drop our id and change list: skynet's caller sees hotfix(...)'s results
		return true, table.unpack(r, 4, r.n)
	end,
})

return M
