-- skykernel.swaps: which handler functions a notebook cell swapped in _P / _U.
--
-- The kernel takes a snapshot of the function-valued fields of every table in _P[proto]
-- and _U before a cell and compares after it: each field whose function changed is a
-- handler swap (`_P.lua.CMD.foo = function ... end`), recorded so that `undo(id)` puts
-- the old function back. One level deep: cheap enough to run around every cell.

local type, pairs, next, tostring = type, pairs, next, tostring
local table_sort, table_concat = table.sort, table.concat

local M = { history = {}, last_id = 0 }

-- Parts of the runtime load on first use (skynet.lua's rarer API, the interrupt guard,
-- `require "skynet.manager"` adding to the skynet table), so a runtime function appearing
-- where there was none is that, not a patch. The runtime is where this file lives, or,
-- when it rides inside a chunk sent to another node, where that node's `skynet` is.
local function find_runtime_root()
	local here = debug.getinfo(1, "S").source:match("^(@.*/)skykernel/[^/]*$")
	if here then
		return here
	end
	-- skynet's own start function says where its library is (on skykernel's nodes too,
	-- where skynet is found by the node rather than through package.path)
	local ok, skynet = pcall(require, "skynet")
	local start = ok and type(skynet) == "table" and skynet.start
	local source = type(start) == "function" and debug.getinfo(start, "S").source or ""
	return source:match("^(@.*/)skynet%.lua$")
end
local runtime_root = find_runtime_root()
local function loaded_by_runtime(old, f)
	if old ~= nil or runtime_root == nil then
		return false
	end
	local source = debug.getinfo(f, "S").source
	return source:sub(1, #runtime_root) == runtime_root
end
local snapshot -- { {tbl, key, fn, path} ... } plus index by tbl

local function fields(U, P, fn)
	local seen = {}
	local function scan(prefix, t)
		if type(t) ~= "table" or seen[t] then
			return
		end
		seen[t] = true
		for k, v in next, t do
			if type(v) == "function" and type(k) == "string" then
				fn(t, k, v, prefix .. "." .. k)
			end
		end
	end
	for pname, pt in pairs(P or {}) do
		for name, t in pairs(pt) do
			if name ~= "_ENV" then
				scan("_P." .. tostring(pname) .. "." .. tostring(name), t)
			end
		end
	end
	for name, t in pairs(U or {}) do
		if name ~= "_ENV" and name ~= "coroutine_pool" then
			scan("_U." .. tostring(name), t)
		end
	end
	return seen
end

function M.snapshot(U, P)
	local snap = {}
	local tables = fields(U, P, function(t, k, v)
		local s = snap[t]
		if s == nil then
			s = {}
			snap[t] = s
		end
		s[k] = v
	end)
	snapshot = { funcs = snap, tables = tables }
end

-- Compare with the snapshot; record the swaps; print "id\tpath..." (nothing if none).
function M.diff(U, P)
	local before = snapshot
	snapshot = nil
	if before == nil then
		return ""
	end
	local swaps = {}
	local now = {}
	fields(U, P, function(t, k, v, path)
		now[path] = true
		local s = before.funcs[t]
		local old = s and s[k]
		if before.tables[t] and old ~= v and not loaded_by_runtime(old, v) then
			swaps[#swaps + 1] = { t, k, old, v, path }
		end
	end)
	if swaps[1] == nil then
		return ""
	end
	M.last_id = M.last_id + 1
	M.history[M.last_id] = swaps
	local paths = {}
	for _, s in pairs(swaps) do
		paths[#paths + 1] = s[5]
	end
	table_sort(paths)
	return M.last_id .. "\t" .. table_concat(paths, " ")
end

function M.undo(id)
	local swaps = M.history[id]
	if swaps == nil then
		error("no recorded handler swap " .. tostring(id) .. " in this service", 0)
	end
	for _, s in pairs(swaps) do
		if s[1][s[2]] ~= s[4] then
			error(s[5] .. " was changed again since; undo that first", 0)
		end
	end
	for _, s in pairs(swaps) do
		s[1][s[2]] = s[3]
	end
	M.history[id] = nil
	return #swaps
end

return M
