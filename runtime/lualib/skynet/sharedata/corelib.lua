-- skynet.sharedata.corelib: the read-only proxies skynet.sharedata hands out.
--
-- skynet's proxies read C memory that sharedatad shares; here a proxy reads this
-- service's unpacked copy of the current version. A root (`box`) knows the version it
-- shows; `update` gives it the next one, which every proxy of that root switches to on
-- its next access. A proxy for a sub-table finds its key path again in the new version
-- and raises skynet's error when that path is gone. Writing raises skynet's error too.

local type, tostring, error, next, rawget, rawset, setmetatable, select =
	type, tostring, error, next, rawget, rawset, setmetatable, select

local corelib = {}

-- proxy fields (private keys, so that no data key can clash with them)
local DATA, PARENT, KEY, ROOT, GEN, CHILDREN = {}, {}, {}, {}, {}, {}
local meta = {}

local function genkey(p)
	local key = tostring(rawget(p, KEY))
	p = rawget(p, PARENT)
	while p do
		key = tostring(rawget(p, KEY)) .. "." .. key
		p = rawget(p, PARENT)
	end
	return key
end

-- The proxy's table in the version its root shows now.
local function current(p)
	local root = rawget(p, ROOT)
	if rawget(p, GEN) == root.gen then
		return rawget(p, DATA)
	end
	local parent = rawget(p, PARENT)
	local data
	if parent == nil then
		data = root.data
	else
		data = current(parent)[rawget(p, KEY)]
		if type(data) ~= "table" then
			error("The key [" .. genkey(p) .. "] doesn't exist after update")
		end
	end
	rawset(p, DATA, data)
	rawset(p, GEN, root.gen)
	rawset(p, CHILDREN, nil)
	return data
end

local function child(p, key, data)
	local children = rawget(p, CHILDREN)
	if children == nil then
		children = {}
		rawset(p, CHILDREN, children)
	end
	local c = children[key]
	if c == nil then
		c = setmetatable({ [DATA] = data, [PARENT] = p, [KEY] = key, [ROOT] = rawget(p, ROOT),
			[GEN] = rawget(p, GEN) }, meta)
		children[key] = c
	end
	return c
end

function meta.__index(p, key)
	local v = current(p)[key]
	if type(v) == "table" then
		return child(p, key, v)
	end
	return v
end

function meta.__newindex(p)
	error("Error newindex, the key [" .. genkey(p) .. "]")
end

function meta.__len(p)
	return #current(p)
end

local function nextkey(p, key)
	local k = next(current(p), key)
	if k ~= nil then
		return k, p[k]
	end
end
corelib.next = nextkey

function meta.__pairs(p)
	return nextkey, p, nil
end

-- A root proxy over `data` (an unpacked version).
function corelib.box(data)
	local root = { data = data, gen = 1 }
	return setmetatable({ [DATA] = data, [KEY] = "", [ROOT] = root, [GEN] = 1 }, meta)
end

-- The next version for a root proxy and everything under it.
function corelib.update(p, data)
	local root = rawget(p, ROOT)
	root.data = data
	root.gen = root.gen + 1
end

-- Switch to the newest version now rather than on the next access.
function corelib.flush(p)
	current(p)
end

-- The proxy's current table (a plain table: not to be changed).
function corelib.data(p)
	return current(p)
end

local function clone(t)
	local r = {}
	for k, v in next, t do
		r[k] = type(v) == "table" and clone(v) or v
	end
	return r
end

-- A plain deep copy of `data`, or of what lies under the keys given.
function corelib.copy(data, ...)
	for i = 1, select("#", ...) do
		if type(data) ~= "table" then
			return data
		end
		data = data[(select(i, ...))]
		if data == nil then
			return -- nothing at all, as skynet's
		end
	end
	if type(data) == "table" then
		return clone(data)
	end
	return data
end

return corelib
