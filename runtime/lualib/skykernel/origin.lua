-- skykernel.origin: whose code a function is, the service's own or skynet's library.
--
-- The views open onto the user's code and fold skynet's internals below it; this module
-- draws that line. skynet's library is the folder `skynet.lua` was loaded from and the
-- `service/` folder beside it (skynet's own services: snaxd, launcher, ...); skykernel's
-- runtime has the same layout, so both count as internal. C functions are internal too.
-- Code from a cell (a chunk without a file) is the user's. Standard Lua and `debug` only;
-- `skynet` is found through package.loaded, never loaded here.

local type, pairs = type, pairs
local getinfo = debug.getinfo
local string_sub, string_match = string.sub, string.match

local M = {}

local roots -- prefixes of internal files, found once per state

local function file_of(f)
	local info = getinfo(f, "S")
	if info.what == "C" then
		return nil
	end
	local source = info.source
	if string_sub(source, 1, 1) == "@" then
		return string_sub(source, 2)
	end
	return nil -- a chunk without a file: a cell, a string loaded at run time
end

local function find_roots()
	local found = {}
	local loaded = package and package.loaded
	local skynet = loaded and loaded.skynet
	local anchor = type(skynet) == "table" and (skynet.dispatch or skynet.start)
	local file = type(anchor) == "function" and file_of(anchor)
	if file then
		local lualib = string_match(file, "^(.*[/\\])[^/\\]+$") or ""
		found[#found + 1] = lualib
		local base = string_match(lualib, "^(.*[/\\])[^/\\]+[/\\]$")
		if base then
			found[#found + 1] = base .. "service/"
		end
	end
	return found
end

-- Is this file part of skynet's library or skynet's own services?
function M.internal_file(file)
	if file == nil then
		return false
	end
	if roots == nil or #roots == 0 then
		roots = find_roots()
	end
	for i = 1, #roots do
		local root = roots[i]
		if root ~= "" and string_sub(file, 1, #root) == root then
			return true
		end
	end
	return false
end

-- Is f skynet's (or a C function), rather than the service's own code?
function M.internal(f)
	if type(f) ~= "function" then
		return false
	end
	local info = getinfo(f, "S")
	if info.what == "C" then
		return true
	end
	return M.internal_file(file_of(f))
end

-- The tables of package.loaded that are skykernel's own machinery (the views, the
-- notebook's RUN): what a search for the user's code must not walk into.
function M.own_modules()
	local own = {}
	local loaded = package and package.loaded
	if loaded then
		for name, m in pairs(loaded) do
			if type(name) == "string" and type(m) == "table"
				and (string_sub(name, 1, 10) == "skykernel." or name == "skynet.inject") then
				own[m] = true
			end
		end
	end
	return own
end

return M
