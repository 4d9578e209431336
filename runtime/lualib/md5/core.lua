-- md5.core: what skynet's C module of that name (lua-md5) gives, in pure Lua: sum (the
-- 16-byte MD5 digest), exor, and crypt / decrypt (MD5 in cipher-feedback mode, a seed
-- stored in front). `require "md5"` adds sumhexa and hmacmd5 to this same table, as
-- skynet's md5.lua does.

local type, select, error = type, select, error
local byte, char, format, pack, unpack, sub, rep = string.byte, string.char, string.format,
	string.pack, string.unpack, string.sub, string.rep
local concat, tunpack = table.concat, table.unpack

local argcheck = require "skynet.argcheck"
local checkstring, argerror = argcheck.checkstring, argcheck.argerror
local md5sum = require("skynet.crypt_md5").sum

local core = {}

-- the module's own description, as lua-md5 reports it
core._COPYRIGHT = "Copyright (C) 2003-2013 PUC-Rio"
core._DESCRIPTION = "Basic cryptographic facilities"
core._VERSION = "MD5 1.2"

function core.sum(...)
	local s = ...
	if type(s) ~= "string" then
		s = checkstring(1, 1, ...)
	end
	return md5sum(s)
end

-- a XOR b, for strings of equal length (n of them)
local function xor(a, b, n)
	local parts, k = {}, 0
	local i = 1
	while i <= n - 7 do
		k = k + 1
		parts[k] = pack("<i8", unpack("<i8", a, i) ~ unpack("<i8", b, i))
		i = i + 8
	end
	local out = {}
	for j = i, n do
		out[j - i + 1] = byte(a, j) ~ byte(b, j)
	end
	parts[k + 1] = char(tunpack(out, 1, n - i + 1))
	return concat(parts)
end

function core.exor(...)
	local s1, s2 = ...
	if type(s1) ~= "string" then
		s1 = checkstring(1, 1, ...)
	end
	if type(s2) ~= "string" then
		s2 = checkstring(1, 2, ...)
	end
	if #s1 ~= #s2 then
		argerror(1, 2, "lengths must be equal")
	end
	return xor(s1, s2, #s1)
end

local MAXKEY, BLOCKSIZE = 256, 16

-- The first block: the seed zero-padded to 16 bytes, then the key (argument 2).
local function initblock(seed, ...)
	local key = select(2, ...)
	if type(key) ~= "string" then
		key = checkstring(2, 2, ...)
	end
	if #key > MAXKEY then
		error(format("key too long (> %d)", MAXKEY), 3)
	end
	return seed .. rep("\0", BLOCKSIZE - #seed) .. key
end

-- Each 16-byte piece is XORed with MD5 of the block, whose first bytes then become that
-- piece of cipher text. `decode` says which side of the XOR is the cipher text.
local function stream(text, block, decode)
	local n = #text
	local parts = {}
	for i = 1, n, BLOCKSIZE do
		local piece = sub(text, i, i + BLOCKSIZE - 1)
		local m = #piece
		local out = xor(sub(md5sum(block), 1, m), piece, m)
		parts[#parts + 1] = out
		block = (decode and piece or out) .. sub(block, m + 1)
	end
	return concat(parts)
end

-- Without a seed, the seed is the current time as the C time_t's 8 bytes. (lua-md5 only
-- supplies it when the seed is absent and the key is there: with the message alone, its
-- seed check meets no argument 3.)
function core.crypt(...)
	local msg, _, seed = ...
	if type(msg) ~= "string" then
		msg = checkstring(1, 1, ...)
	end
	local n = select("#", ...)
	if n == 2 then
		seed = pack("<i8", os.time())
	elseif type(seed) ~= "string" then
		seed = checkstring(1, 3, ...)
	end
	if #seed > BLOCKSIZE then
		error(format("seed too long (> %d)", BLOCKSIZE), 2)
	end
	local block = initblock(seed, ...)
	return char(#seed) .. seed .. stream(msg, block, false)
end

function core.decrypt(...)
	local cypher = ...
	if type(cypher) ~= "string" then
		cypher = checkstring(1, 1, ...)
	end
	local lseed = byte(cypher, 1) or 0
	if #cypher < lseed + 1 or lseed > BLOCKSIZE then
		argerror(1, 1, "invalid cyphered string")
	end
	local block = initblock(sub(cypher, 2, lseed + 1), ...)
	return stream(sub(cypher, lseed + 2), block, true)
end

return core
