-- snax.interface: runs a snax service file (or a hotfix patch) and collects its methods.
--
-- A snax file defines `init`, `exit`, `hotfix` (system methods) as globals and fills the
-- tables `accept` (post: no reply) and `response` (req: a reply). The result is a list of
-- { id, group, name, f }: ids 1..4 are the system methods, then one per method in the
-- order the file defines them, so both ends of a snax call agree on ids by loading the
-- same file.

local skynet = require "skynet"

local type, pairs, ipairs, error, setmetatable, getmetatable = type, pairs, ipairs, error, setmetatable,
	getmetatable
local string_format = string.format

local SYSTEM = { "init", "exit", "hotfix", "profile" }

-- Where snax files are found: the config's `snax` patterns, else `luaservice`'s.
local function search_path()
	return skynet.getenv "snax" or skynet.getenv "luaservice" or "./service/?.lua"
end

local function method_table(funcs, group)
	local seen = {}
	return setmetatable({}, {
		__newindex = function(_, name, f)
			if type(name) ~= "string" then
				error(string_format("%s method only support string", group), 2)
			end
			if type(f) ~= "function" then
				error(string_format("%s.%s must be function", group, name), 2)
			end
			if seen[name] then
				error(string_format("%s.%s duplicate definition", group, name), 2)
			end
			seen[name] = true
			funcs[#funcs + 1] = { #funcs + 1, group, name, f }
		end,
	})
end

-- name: the snax service name; G: the environment the file runs in (its globals end up
-- there); loader(filename, mode, env): how to load a candidate file (default loadfile).
return function(name, G, loader)
	loader = loader or loadfile
	assert(getmetatable(G) == nil, "snax: the environment must have no metatable")
	local funcs = {}
	local system = {}
	for i, v in ipairs(SYSTEM) do
		system[v] = i
		funcs[i] = { i, "system", v }
	end
	local globals = {}
	local env = { accept = method_table(funcs, "accept"), response = method_table(funcs, "response") }
	setmetatable(env, { __index = globals })

	local main, pattern
	local errs = {}
	for pat in search_path():gmatch "[^;]+" do
		local filename = pat:gsub("%?", (name:gsub("%%", "%%%%")))
		local f, err = loader(filename, "bt", G)
		if f then
			main, pattern = f, pat
			break
		end
		errs[#errs + 1] = err
	end
	if main == nil then
		error(table.concat(errs, "\n"), 0)
	end

	setmetatable(G, {
		__index = env,
		__newindex = function(_, k, v)
			local index = system[k]
			if index then
				if type(v) ~= "function" then
					error(string_format("%s must be function", k), 2)
				end
				funcs[index][4] = v
			else
				globals[k] = v
			end
		end,
	})
	local ok, err = xpcall(main, debug.traceback)
	setmetatable(G, nil)
	if not ok then
		error(err, 0)
	end
	for k, v in pairs(globals) do
		G[k] = v
	end
	return funcs, pattern
end
