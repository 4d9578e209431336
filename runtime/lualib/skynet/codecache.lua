-- skynet.codecache: the node's code cache as skynet exposes it (mode, clear), plus what
-- skynet cannot say: generations, stale services, and purge (a documented extension).
-- The cache belongs to the node; this module only asks it through node commands.

local c = require "skynet.core"
local seri = require "skynet.seri"

local codecache = {}

-- mode() returns this service's mode; mode("ON"|"EXIST"|"OFF") sets it.
function codecache.mode(m)
	if m == nil then
		return c.cache_mode
	end
	if m ~= "ON" and m ~= "EXIST" and m ~= "OFF" then
		error(string.format("Invalid codecache mode %s", tostring(m)), 2)
	end
	c.cache_mode = m
	return m
end

-- Starts generation N+1 for the whole node; returns its number (skynet returns nothing).
function codecache.clear()
	return c.command("CODECACHE", "clear")
end

local function ask(op)
	return (seri.unpack(c.command("GENERATIONS", op)))
end

-- The current generation number.
function codecache.generation()
	return ask("current")
end

-- { {generation=, current=, bytes=, files={{filename=, digest=, size=, bytes=}...},
--    services={":0000000b", ...}}, ... } oldest first.
function codecache.generations()
	return ask("list")
end

-- { {address=, filename=, generation=, digest=, disk=digest|false}, ... }: code that
-- services run although the file on disk now differs.
function codecache.stale()
	return ask("stale")
end

-- Frees every old generation no live service holds.
-- Returns { freed = {gen...}, bytes = n,
--           pinned = { {generation = g, services = {":addr", ...}}, ... } }.
function codecache.purge()
	return ask("purge")
end

return codecache
