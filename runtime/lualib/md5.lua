-- md5: skynet's md5 module, which is md5.core (md5/core.lua) plus two helpers set on the
-- same table: sumhexa (the digest in lowercase hex) and hmacmd5 (HMAC-MD5, in hex).

local byte, char, format, rep = string.byte, string.char, string.format, string.rep

local core = require "md5.core"

function core.sumhexa(k)
	k = core.sum(k)
	return format("%02x%02x%02x%02x%02x%02x%02x%02x%02x%02x%02x%02x%02x%02x%02x%02x",
		byte(k, 1, 16))
end

-- Every byte of `key` XOR `pad`, then `fill` up to 64 bytes.
local function keyblock(key, pad, fill)
	local out = { byte(key, 1, -1) }
	for i = 1, #out do
		out[i] = out[i] ~ pad
	end
	return char(table.unpack(out)) .. rep(fill, 64 - #key)
end

-- HMAC-MD5 of `data` under `key` (a key over 64 bytes is hashed first), as hex.
function core.hmacmd5(data, key)
	if #key > 64 then
		key = core.sum(key)
	end
	local inner = core.sum(keyblock(key, 0x36, "6") .. data)
	return core.sumhexa(keyblock(key, 0x5c, "\\") .. inner)
end

return core
