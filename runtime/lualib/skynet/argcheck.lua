-- skynet.argcheck: the argument errors lauxlib raises, for library functions that skynet
-- writes in C and skykernel in Lua (skynet.crypt, md5).
--
-- A program sees the same message either way: `bad argument #1 to 'hexencode' (string
-- expected, got nil)`, positioned at the caller's line, "no value" for a missing
-- argument, `calling 'f' on bad self` for a method call, and the `module.field` name
-- lauxlib finds in package.loaded when the call site gives none (a pcall, a tail call).
-- Only the error path comes here; the functions that use it test `type` inline first.
--
-- `level` says where the library function is, as `error` counts: 1 is the function that
-- calls in here (the library function itself), 2 its caller (a helper of the library
-- function calls with 2), and so on. The error points at the library function's caller.

local type, select, tostring, tonumber, rawget, rawequal, next, error =
	type, select, tostring, tonumber, rawget, rawequal, next, error
local format, find, sub = string.format, string.find, string.sub
local getinfo, getmetatable = debug.getinfo, debug.getmetatable
local tointeger = math.tointeger
local loaded = package.loaded

local M = {}

-- The name package.loaded gives `f`, two levels deep, as lauxlib's pushglobalfuncname.
local function globalname(f)
	local name
	for k, v in next, loaded do
		if type(k) == "string" then
			if rawequal(v, f) then
				name = k
				break
			end
			if type(v) == "table" then
				for k2, v2 in next, v do
					if type(k2) == "string" and rawequal(v2, f) then
						name = k .. "." .. k2
						break
					end
				end
				if name then
					break
				end
			end
		end
	end
	if name == nil then
		return "?"
	end
	return find(name, "^_G%.") and sub(name, 4) or name
end

-- level: of the library function, counted from argerror's caller.
local function argerror(level, arg, extramsg)
	level = level + 1
	local ar = getinfo(level, "nf")
	local name = ar.name
	if ar.namewhat == "method" then
		arg = arg - 1
		if arg == 0 then
			error(format("calling '%s' on bad self (%s)", name, extramsg), level + 1)
		end
	end
	if name == nil then
		name = globalname(ar.func)
	end
	error(format("bad argument #%d to '%s' (%s)", arg, name, extramsg), level + 1)
end
M.argerror = argerror

-- luaL_typeerror's name for a value: __name from its metatable, "no value" past the end.
local function typename(arg, ...)
	if arg > select("#", ...) then
		return "no value"
	end
	local v = select(arg, ...)
	local mt = getmetatable(v)
	local name = mt and rawget(mt, "__name")
	if type(name) == "string" then
		return name
	end
	return type(v)
end

-- luaL_checklstring: argument `arg` of `...` (all the library function's arguments) as a
-- string (a number converts), or the error.
function M.checkstring(level, arg, ...)
	local v = select(arg, ...)
	if type(v) == "number" then
		return tostring(v)
	end
	if type(v) == "string" then
		return v
	end
	argerror(level + 1, arg, "string expected, got " .. typename(arg, ...))
end

-- luaL_optinteger: nil or absent gives `default`; floats and numeric strings convert
-- when they hold an integer.
function M.optinteger(level, arg, default, ...)
	local v = select(arg, ...)
	if v == nil then
		return default
	end
	local n = tonumber(v)
	local i = n and tointeger(n)
	if i then
		return i
	end
	if n then
		argerror(level + 1, arg, "number has no integer representation")
	end
	argerror(level + 1, arg, "number expected, got " .. typename(arg, ...))
end

return M
