-- skynet.datasheet.core: a datasheet's tables as a reader sees them.
--
-- As skynet's: each table of the document is a plain Lua table, filled on its first
-- access (until then a metatable stands in, then goes), so reading, pairs, next and #
-- are a table's own; `update` empties every table handed out and refills it from the new
-- version on its next access, keyed by the table's number in the document (dump.diff
-- keeps the numbers of tables at the same key path). A table the new version no longer
-- has raises `Invalid proxy (index = N)`. skynet reads C memory; here the bytes come from
-- the node (SHARED), one string per version.
local dump = require "skynet.datasheet.dump"
local c = require "skynet.core"

local setmetatable, rawset, next, error, rawlen, tostring =
	setmetatable, rawset, next, error, rawlen, tostring
local string_format = string.format

local core = {}

local objects = setmetatable({}, { __mode = "k" }) -- root -> { doc =, tables = {index -> t} }

local function document(handle)
	local bytes = c.command("SHARED", "get", handle)
	if bytes == nil then
		error(string_format("Invalid datasheet handle %s", tostring(handle)))
	end
	return dump.reader(bytes)
end

-- table -> { object, index } while it waits for its first access (or is gone)
local lazy = setmetatable({}, { __mode = "k" })

local function fill(t)
	local pending = lazy[t]
	lazy[t] = nil
	setmetatable(t, nil)
	local obj, index = pending[1], pending[2]
	local tables = obj.tables
	local doc = obj.doc
	local function table_of(i)
		local sub = tables[i]
		if sub == nil then
			sub = core.proxy(obj, i)
		end
		return sub
	end
	doc:each(index, function(k, v) rawset(t, k, v) end, table_of)
	return t
end

local filling = {
	__index = function(t, k)
		return fill(t)[k]
	end,
	__newindex = function(t, k, v)
		rawset(fill(t), k, v)
	end,
	__len = function(t)
		return rawlen(fill(t))
	end,
	__pairs = function(t)
		return next, fill(t), nil
	end,
}

local function invalid(t)
	error(string_format("Invalid proxy (index = %d)", lazy[t][2]))
end

local gone = { __index = invalid, __newindex = invalid, __len = invalid, __pairs = invalid }

-- The table for document index i of obj (made empty, filled on first access).
function core.proxy(obj, i, t)
	t = t or {}
	obj.tables[i] = t
	lazy[t] = { obj, i }
	return setmetatable(t, obj.doc:has(i) and filling or gone)
end

function core.new(handle)
	local obj = { doc = document(handle), tables = setmetatable({}, { __mode = "v" }) }
	local root = core.proxy(obj, 0)
	objects[root] = obj
	return root
end

function core.update(root, handle)
	local obj = objects[root]
	obj.doc = document(handle)
	for i, t in next, obj.tables do
		for k in next, t do
			rawset(t, k, nil)
		end
		core.proxy(obj, i, t)
	end
end

return core
