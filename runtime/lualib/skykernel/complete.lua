-- skykernel.complete: names for completion and inspection, computed where they live.
--
-- Injected into the target service by the kernel, so completion sees the service's own
-- globals and the cell's persistent variables, and the same code works on a real node.

local complete = {}

local KEYWORDS = {
	"and", "break", "do", "else", "elseif", "end", "false", "for", "function", "goto", "if",
	"in", "local", "nil", "not", "or", "repeat", "return", "then", "true", "until", "while",
}

local function resolve(env, path)
	local v = env
	for name in path:gmatch("[^%.:]+") do
		if type(v) ~= "table" and type(v) ~= "string" then
			return nil
		end
		local ok, nv = pcall(function() return v[name] end)
		if not ok then
			return nil
		end
		v = nv
	end
	return v
end

local function keys_of(v, methods_only, out, seen)
	seen = seen or {}
	if type(v) == "string" then
		v = string
	end
	if type(v) ~= "table" or seen[v] then
		return out
	end
	seen[v] = true
	for k, x in pairs(v) do
		if type(k) == "string" and (not methods_only or type(x) == "function") then
			out[k] = true
		end
	end
	local mt = getmetatable(v)
	if type(mt) == "table" and type(mt.__index) == "table" then
		keys_of(mt.__index, methods_only, out, seen)
	end
	return out
end

-- Candidates for the identifier path ending `text` (like `skynet.ca` or `obj:me`), in env.
function complete.names(env, text)
	local base, sep, partial = text:match("^(.-)([%.:]?)([%w_]*)$")
	local names = {}
	if sep == "" then
		keys_of(env, false, names)
		local mt = getmetatable(env)
		if mt and type(mt.__index) == "table" then
			keys_of(mt.__index, false, names)
		end
		for _, k in ipairs(KEYWORDS) do
			names[k] = true
		end
	else
		keys_of(resolve(env, base), sep == ":", names)
	end
	local out = {}
	for k in pairs(names) do
		if k:sub(1, #partial) == partial then
			out[#out + 1] = k
		end
	end
	table.sort(out)
	return table.concat(out, "\n"), #text - #partial
end

-- A short description of what `path` names in env: value, type, and for functions
-- their source and upvalues; for tables a summary of keys.
function complete.describe(env, path)
	local v = resolve(env, path)
	local pretty = require "skykernel.pretty"
	local lines = { path .. " : " .. type(v) }
	if type(v) == "function" then
		local info = debug.getinfo(v, "Su")
		if info.what == "C" then
			lines[#lines + 1] = "builtin function"
		else
			lines[#lines + 1] = string.format("defined at %s:%d", info.short_src, info.linedefined)
			lines[#lines + 1] = string.format("parameters: %d%s", info.nparams, info.isvararg and ", ..." or "")
			for i = 1, info.nups do
				local name, uv = debug.getupvalue(v, i)
				lines[#lines + 1] = string.format("  upvalue %s : %s = %s", name, type(uv),
					pretty.format(uv, { max_depth = 1, max_items = 8, max_chars = 120 }))
			end
		end
	elseif type(v) == "table" then
		local n, keys = 0, {}
		for k in pairs(v) do
			n = n + 1
			if #keys < 20 then
				keys[#keys + 1] = tostring(k)
			end
		end
		table.sort(keys)
		lines[#lines + 1] = string.format("%d keys: %s%s", n, table.concat(keys, ", "), n > 20 and ", ..." or "")
	else
		lines[#lines + 1] = pretty.format(v, { max_chars = 2000 })
	end
	return table.concat(lines, "\n")
end

return complete
