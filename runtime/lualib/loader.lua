-- The service loader (skynet's lualib/loader.lua): finds a service file through the
-- luaservice patterns, sets SERVICE_NAME and SERVICE_PATH, runs preload, then the file.

local args, service_path, lua_path, preload = ...

local name, rest = args:match("^%s*(%S+)%s*(.-)%s*$")
local params = {}
for word in rest:gmatch("%S+") do
	params[#params + 1] = word
end

package.path = lua_path

local main, pattern
local tried = {}
for pat in service_path:gmatch("[^;]+") do
	local filename = pat:gsub("%?", (name:gsub("%%", "%%%%")))
	local f, err = loadfile(filename)
	if f then
		main, pattern = f, pat
		break
	end
	if err:find("^cannot open") then
		tried[#tried + 1] = "\n\tno file '" .. filename .. "'"
	else
		error(err, 0)
	end
end
if main == nil then
	error(string.format("can't find service %s:%s", name, table.concat(tried)), 0)
end

SERVICE_NAME = name
SERVICE_PATH = pattern:match("^(.-)[^/]*$") or "./"
local dir = pattern:match("^(.-)%?")
if dir and pattern:find("%?/init%.lua$") then
	-- a directory service requires its sibling modules by bare name
	SERVICE_PATH = dir .. name .. "/"
	package.path = SERVICE_PATH .. "?.lua;" .. package.path
end

require = require("skynet.core").require

if preload and preload ~= "" then
	local f, err = loadfile(preload)
	if f == nil then
		error(err, 0)
	end
	f(table.unpack(params))
end

-- skynet.memlimit in the main chunk takes effect once the chunk is done, as skynet's
-- service loader applies it (and says so); set later, it is never applied.
local function apply_memlimit(...)
	local registry = debug.getregistry()
	local limit = registry.memlimit
	if math.type(limit) == "integer" then
		registry.memlimit = nil
		local c = require "skynet.core"
		c.command("MEMLIMIT", limit)
		c.error(string.format("Set memory limit to %.2f M", limit / (1024 * 1024)))
	end
	return ...
end

return apply_memlimit(main(table.unpack(params)))
