-- skynet.crypt: skynet's lua-crypt in pure Lua, byte for byte: hex, base64, the 64-bit
-- hashes and DH exchange of skynet's login protocol, DES, SHA-1.
--
-- Same results and same errors as the C module (docs/libraries.md): argument errors read
-- as lauxlib's (skynet/argcheck.lua), and the module's own errors carry the caller's
-- position, as luaL_error gives them. Integers are Lua's 64-bit ones; a 32-bit word is
-- kept masked to 0xffffffff, and unsigned 64-bit values live in signed integers (math.ult
-- compares them).
--
-- The heavy parts load the first time a service uses them, so a service pays only for
-- what it calls: MD5's transform (hmac64, hmac64_md5, hmac_hash) in skynet/crypt_md5.lua,
-- SHA-1 in skynet/crypt_sha1.lua, DES in skynet/crypt_des.lua.

local type, select, error, require, tostring = type, select, error, require, tostring
local byte, char, format, pack, unpack, sub, rep = string.byte, string.char, string.format,
	string.pack, string.unpack, string.sub, string.rep
local concat, tunpack = table.concat, table.unpack
local ult, mtype = math.ult, math.type

local argcheck = require "skynet.argcheck"
local checkstring, optinteger = argcheck.checkstring, argcheck.optinteger

local md5, sha1, des -- loaded on first use

local function need_md5()
	md5 = require "skynet.crypt_md5"
	return md5
end

local function need_sha1()
	sha1 = require "skynet.crypt_sha1"
	return sha1
end

local function need_des()
	des = require "skynet.crypt_des"
	return des
end

local crypt = {}

-- Bytes to string in slices: string.char and string.format take at most a few thousand
-- arguments comfortably.
local SLICE = 4096

local function chars(codes, n)
	if n <= SLICE then
		return char(tunpack(codes, 1, n))
	end
	local parts = {}
	for i = 1, n, SLICE do
		parts[#parts + 1] = char(tunpack(codes, i, i + SLICE - 1 < n and i + SLICE - 1 or n))
	end
	return concat(parts)
end

-- hex ------------------------------------------------------------------------------------

-- 64 bytes at a time, as sixteen 32-bit words: each word's eight nibbles are spread to
-- the eight bytes of an integer (in place, by halves), and each nibble n becomes its digit
-- by adding '0', plus 39 more where n + 6 carries into bit 4 (n >= 10). One pack writes
-- the 128 digits. The rest (under 64 bytes) goes through string.format.
local HEXIN, HEXOUT = ">" .. rep("I4", 16), ">" .. rep("I8", 16)

local function hexslow(s, i, j)
	return format(rep("%02x", j - i + 1), byte(s, i, j))
end

function crypt.hexencode(...)
	local s = ...
	if type(s) ~= "string" then
		s = checkstring(1, 1, ...)
	end
	local n = #s
	local full = n - n % 64
	if full == 0 then
		return hexslow(s, 1, n)
	end
	local parts = {}
	for i = 1, full, 64 do
		local w = { unpack(HEXIN, s, i) }
		for j = 1, 16 do
			local x = w[j]
			x = (x | x << 16) & 0x0000ffff0000ffff
			x = (x | x << 8) & 0x00ff00ff00ff00ff
			x = (x | x << 4) & 0x0f0f0f0f0f0f0f0f
			w[j] = x + 0x3030303030303030 + ((x + 0x0606060606060606) >> 4 & 0x0101010101010101) * 39
		end
		parts[#parts + 1] = pack(HEXOUT, tunpack(w, 1, 16))
	end
	parts[#parts + 1] = hexslow(s, full + 1, n)
	return concat(parts)
end

-- skynet reads a digit as its value and any other byte c as (c - 'a' + 10) & 0xff,
-- accepting up to 16: lowercase a-f, and also 'W'..'`' and 'g' (as 0..9 and 16).
-- Uppercase hex is rejected.
local function hexvalue(c)
	if c >= 48 and c <= 57 then
		return c - 48
	end
	return (c - 87) & 0xff
end

function crypt.hexdecode(...)
	local s = ...
	if type(s) ~= "string" then
		s = checkstring(1, 1, ...)
	end
	local n = #s
	if n & 1 == 1 then
		error(format("Invalid hex text size %d", n), 2)
	end
	local out = {}
	for i = 1, n, 2 do
		local hi, lo = byte(s, i, i + 1)
		hi, lo = hexvalue(hi), hexvalue(lo)
		if hi > 16 or lo > 16 then
			error("Invalid hex text", 2)
		end
		out[(i + 1) >> 1] = (hi << 4 | lo) & 0xff
	end
	return chars(out, n >> 1)
end

-- base64 ---------------------------------------------------------------------------------

local ALPHABET = { byte("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/", 1, 64) }

-- 48 bytes at a time, as eight 48-bit words: each word's eight 6-bit groups are spread to
-- the eight bytes of an integer, and each byte v becomes its character by adding 'A',
-- then +6 from v = 26 on (a-z), -75 from 52 (0-9), -15 from 62 ('+'), +3 at 63 ('/');
-- "v >= c" for all eight bytes at once is bit 7 of v + 128 - c. The rest goes 3 by 3.
local B64IN, B64OUT = ">" .. rep("I6", 8), ">" .. rep("I8", 8)

function crypt.base64encode(...)
	local s = ...
	if type(s) ~= "string" then
		s = checkstring(1, 1, ...)
	end
	local n = #s
	local full = n - n % 48
	local parts = {}
	for i = 1, full, 48 do
		local w = { unpack(B64IN, s, i) }
		for j = 1, 8 do
			local x = w[j]
			x = x & 0x0000000000ffffff | x << 8 & 0x00ffffff00000000
			x = x & 0x00000fff00000fff | x << 4 & 0x0fff00000fff0000
			x = x & 0x003f003f003f003f | x << 2 & 0x3f003f003f003f00
			w[j] = x + 0x4141414141414141
				+ ((x + 0x6666666666666666) >> 7 & 0x0101010101010101) * 6
				- ((x + 0x4c4c4c4c4c4c4c4c) >> 7 & 0x0101010101010101) * 75
				- ((x + 0x4242424242424242) >> 7 & 0x0101010101010101) * 15
				+ ((x + 0x4141414141414141) >> 7 & 0x0101010101010101) * 3
		end
		parts[#parts + 1] = pack(B64OUT, tunpack(w, 1, 8))
	end
	local out, k = {}, 0
	local i = full + 1
	while i <= n - 2 do
		local a, b, c = byte(s, i, i + 2)
		local v = a << 16 | b << 8 | c
		out[k + 1], out[k + 2], out[k + 3], out[k + 4] = ALPHABET[(v >> 18) + 1],
			ALPHABET[(v >> 12 & 63) + 1], ALPHABET[(v >> 6 & 63) + 1], ALPHABET[(v & 63) + 1]
		k = k + 4
		i = i + 3
	end
	local rest = n - i + 1
	if rest == 1 then
		local v = byte(s, i)
		out[k + 1], out[k + 2], out[k + 3], out[k + 4] = ALPHABET[(v >> 2) + 1],
			ALPHABET[(v & 3) * 16 + 1], 61, 61
		k = k + 4
	elseif rest == 2 then
		local a, b = byte(s, i, i + 1)
		local v = a << 8 | b
		out[k + 1], out[k + 2], out[k + 3], out[k + 4] = ALPHABET[(v >> 10) + 1],
			ALPHABET[(v >> 4 & 63) + 1], ALPHABET[(v & 15) * 4 + 1], 61
		k = k + 4
	end
	parts[#parts + 1] = chars(out, k)
	return concat(parts)
end

-- A byte's value in base64, -2 for '=', -1 for anything else (skipped, as skynet does).
local function b64value(c)
	if c >= 65 and c <= 90 then
		return c - 65
	elseif c >= 97 and c <= 122 then
		return c - 71
	elseif c >= 48 and c <= 57 then
		return c + 4
	elseif c == 43 then
		return 62
	elseif c == 47 then
		return 63
	elseif c == 61 then
		return -2
	end
	return -1
end

-- skynet's reading: bytes outside the alphabet are skipped; the rest go in groups of
-- four, and the end of the text fills a started group with '='. One or two '=' may end
-- a group (the unused bits zero) and decoding goes on after it; three or four are an
-- error, so "QUJD\n" (a trailing newline starts a group) fails while "QQ" decodes.
function crypt.base64decode(...)
	local s = ...
	if type(s) ~= "string" then
		s = checkstring(1, 1, ...)
	end
	local n = #s
	local out, k = {}, 0
	local i = 1
	local c = {}
	while i <= n do
		local padding, j = 0, 0
		while j < 4 do
			-- past the end, the missing characters count as '='
			local v = i > n and -2 or b64value(byte(s, i))
			i = i + 1
			if v ~= -1 then
				j = j + 1
				c[j] = v
				if v == -2 then
					padding = padding + 1
				end
			end
		end
		local c1, c2, c3, c4 = c[1], c[2], c[3], c[4]
		if padding == 0 then
			local v = c1 << 18 | c2 << 12 | c3 << 6 | c4
			out[k + 1], out[k + 2], out[k + 3] = v >> 16, v >> 8 & 0xff, v & 0xff
			k = k + 3
		elseif padding == 1 then
			if c4 ~= -2 or c3 & 3 ~= 0 then
				error("Invalid base64 text", 2)
			end
			local v = c1 << 10 | c2 << 4 | c3 >> 2
			out[k + 1], out[k + 2] = v >> 8, v & 0xff
			k = k + 2
		elseif padding == 2 then
			if c4 ~= -2 or c3 ~= -2 or c2 & 15 ~= 0 then
				error("Invalid base64 text", 2)
			end
			k = k + 1
			out[k] = c1 << 2 | c2 >> 4
		else
			error("Invalid base64 text", 2)
		end
	end
	return chars(out, k)
end

-- xor ------------------------------------------------------------------------------------

-- Each byte of `s1` XOR the byte of `s2` at the same place, `s2` repeated as needed.
function crypt.xor_str(...)
	local s1, s2 = ...
	if type(s1) ~= "string" then
		s1 = checkstring(1, 1, ...)
	end
	if type(s2) ~= "string" then
		s2 = checkstring(1, 2, ...)
	end
	local n, m = #s1, #s2
	if m == 0 then
		error("Can't xor empty string", 2)
	end
	if m < n then
		s2 = rep(s2, n // m + 1)
	end
	local parts, k = {}, 0
	local i = 1
	while i <= n - 7 do
		k = k + 1
		parts[k] = pack("<i8", unpack("<i8", s1, i) ~ unpack("<i8", s2, i))
		i = i + 8
	end
	local out = {}
	for j = i, n do
		out[j - i + 1] = byte(s1, j) ~ byte(s2, j)
	end
	parts[k + 1] = char(tunpack(out, 1, n - i + 1))
	return concat(parts)
end

-- the login protocol's 64-bit hashes ----------------------------------------------------

-- djb2 and JS hash of `s`, two 32-bit words.
local function hash(s)
	local djb, js = 5381, 1315423911
	for i = 1, #s do
		local c = byte(s, i)
		djb = (djb + (djb << 5) + c) & 0xffffffff
		js = js ~ ((js << 5) + c + (js >> 2) & 0xffffffff)
	end
	return djb, js
end

function crypt.hashkey(...)
	local s = ...
	if type(s) ~= "string" then
		s = checkstring(1, 1, ...)
	end
	return pack("<I4I4", hash(s))
end

-- The 64 MD5 steps on a block of the words x0 x1 y0 y1, without MD5's padding and
-- without adding the initial state back; the result is c^d, a^b.
local function hmac(x0, x1, y0, y1)
	local a, b, c, d = (md5 or need_md5()).transform(0x67452301, 0xefcdab89, 0x98badcfe,
		0x10325476, x1, x0, y1, y0, x1, x0, y1, y0, x1, x0, y1, y0, x1, x0, y1, y0)
	return pack("<I4I4", c ~ d, a ~ b)
end

-- Two 8-byte arguments as four 32-bit little-endian words, checked as skynet's read64.
-- `...` are the library function's arguments; errors point at its caller.
local function read64(...)
	local x, y = ...
	if type(x) ~= "string" then
		x = checkstring(2, 1, ...)
	end
	if #x ~= 8 then
		error("Invalid uint64 x", 3)
	end
	if type(y) ~= "string" then
		y = checkstring(2, 2, ...)
	end
	if #y ~= 8 then
		error("Invalid uint64 y", 3)
	end
	local x0, x1 = unpack("<I4I4", x)
	local y0, y1 = unpack("<I4I4", y)
	return x0, x1, y0, y1
end

function crypt.hmac64(...)
	local x0, x1, y0, y1 = read64(...)
	return hmac(x0, x1, y0, y1)
end

-- MD5 of (x .. y) three times, its two halves XORed (one block, padding included).
function crypt.hmac64_md5(...)
	local x0, x1, y0, y1 = read64(...)
	local a, b, c, d = (md5 or need_md5()).transform(0x67452301, 0xefcdab89, 0x98badcfe,
		0x10325476, x0, x1, y0, y1, x0, x1, y0, y1, x0, x1, y0, y1, 0x80, 0, 384, 0)
	return pack("<I4I4", (a + 0x67452301 ~ c + 0x98badcfe) & 0xffffffff,
		(b + 0xefcdab89 ~ d + 0x10325476) & 0xffffffff)
end

function crypt.hmac_hash(...)
	local key, text = ...
	if type(key) ~= "string" then
		key = checkstring(1, 1, ...)
	end
	if #key ~= 8 then
		error("Invalid uint64 key", 2)
	end
	if type(text) ~= "string" then
		text = checkstring(1, 2, ...)
	end
	local k0, k1 = unpack("<I4I4", key)
	local h0, h1 = hash(text)
	return hmac(h0, h1, k0, k1)
end

-- Diffie-Hellman over the prime 2^64 - 59, generator 5 -----------------------------------

local P = 0xffffffffffffffc5 -- wraps to -59: 2^64 - 59 as an unsigned value

-- a * b mod P for unsigned 64-bit a, b: the 128-bit product from 32-bit halves, then
-- folded with 2^64 = 59 (mod P).
local function mulmod(a, b)
	local a0, a1, b0, b1 = a & 0xffffffff, a >> 32, b & 0xffffffff, b >> 32
	local lo, hi = a0 * b0, a1 * b1
	local m1 = a0 * b1
	local mid = m1 + a1 * b0
	if ult(mid, m1) then
		hi = hi + (1 << 32)
	end
	local lo2 = lo + (mid << 32)
	if ult(lo2, lo) then
		hi = hi + 1
	end
	lo, hi = lo2, hi + (mid >> 32)
	-- hi * 59 is below 2^70: its own high part h and low part l
	local t1, t0 = (hi >> 32) * 59, (hi & 0xffffffff) * 59
	local l, h = (t1 << 32) + t0, t1 >> 32
	if ult(l, t0) then
		h = h + 1
	end
	local s = l + lo
	if ult(s, lo) then
		h = h + 1
	end
	local r = s + h * 59
	if ult(r, s) then
		r = r + 59
	end
	if not ult(r, P) then
		r = r - P
	end
	return r
end

-- a^b mod P as skynet computes it: a above P is reduced first, an exponent of 1 returns
-- a as it is (so P^1 is P), and b is never 0 here.
local function powmodp(a, b)
	if ult(P, a) then
		a = a - P
	end
	if b == 1 then
		return a
	end
	local top = 63
	while b >> top == 0 do
		top = top - 1
	end
	local r = a
	for bit = top - 1, 0, -1 do
		r = mulmod(r, r)
		if b >> bit & 1 == 1 then
			r = mulmod(r, a)
		end
	end
	return r
end

function crypt.dhexchange(...)
	local x = ...
	if type(x) ~= "string" then
		x = checkstring(1, 1, ...)
	end
	if #x ~= 8 then
		error("Invalid dh uint64 key", 2)
	end
	local v = unpack("<i8", x)
	if v == 0 then
		error("Can't be 0", 2)
	end
	return pack("<i8", powmodp(5, v))
end

function crypt.dhsecret(...)
	local x0, x1, y0, y1 = read64(...)
	local x, y = x1 << 32 | x0, y1 << 32 | y0
	if x == 0 or y == 0 then
		error("Can't be 0", 2)
	end
	return pack("<i8", powmodp(x, y))
end

-- randomkey ------------------------------------------------------------------------------

-- A generator of the service's own (xoshiro256**), seeded from /dev/urandom, so keys do
-- not follow a seed a program gives math.random.
local s0, s1, s2, s3

local function seed()
	local f = io and io.open("/dev/urandom", "rb")
	local bytes = f and f:read(32)
	if f then
		f:close()
	end
	if bytes and #bytes == 32 then
		s0, s1, s2, s3 = unpack("<i8i8i8i8", bytes)
	else
		s0, s1 = math.random(0), os.time() ~ (tonumber(sub(tostring({}), 8)) or 0)
		s2, s3 = math.random(0), math.floor(os.clock() * 1e9)
	end
	if s0 | s1 | s2 | s3 == 0 then
		s0 = 1
	end
end

local function random64()
	if s0 == nil then
		seed()
	end
	local r = s1 * 5
	r = (r << 7 | r >> 57) * 9
	local t = s1 << 17
	s2 = s2 ~ s0
	s3 = s3 ~ s1
	s1 = s1 ~ s2
	s0 = s0 ~ s3
	s2 = s2 ~ t
	s3 = s3 << 45 | s3 >> 19
	return r
end

-- Eight random bytes. As in skynet, when they XOR to 0 the first byte's low bit is set
-- (which changes nothing when it was set already).
function crypt.randomkey()
	local r = random64()
	local x = r ~ r >> 32
	x = x ~ x >> 16
	x = x ~ x >> 8
	if x & 0xff == 0 then
		r = r | 1
	end
	return pack("<i8", r)
end

-- DES ------------------------------------------------------------------------------------

crypt.padding = { iso7816_4 = 0, pkcs7 = 1 }

-- The padding mode argument: an integer, cut to a C int as skynet does, 0 or 1.
local function padmode(...)
	local mode = select(3, ...)
	if mode == nil then
		return 0
	end
	if mtype(mode) ~= "integer" then
		mode = optinteger(2, 3, 0, ...)
	end
	return (mode + 0x80000000 & 0xffffffff) - 0x80000000
end

local function deskey(...)
	local key = ...
	if type(key) ~= "string" then
		key = checkstring(2, 1, ...)
	end
	if #key ~= 8 then
		error(format("Invalid key size %d, need 8 bytes", #key), 3)
	end
	return key
end

function crypt.desencode(...)
	local key = deskey(...)
	local text = select(2, ...)
	if type(text) ~= "string" then
		text = checkstring(1, 2, ...)
	end
	local mode = padmode(...)
	if mode ~= 0 and mode ~= 1 then
		error(format("Invalid padding mode %d", mode), 2)
	end
	return (des or need_des()).encode(key, text, mode)
end

function crypt.desdecode(...)
	local key = deskey(...)
	local text = select(2, ...)
	if type(text) ~= "string" then
		text = checkstring(1, 2, ...)
	end
	local n = #text
	if n & 7 ~= 0 or n == 0 then
		error(format("Invalid des crypt text length %d", n), 2)
	end
	local mode = padmode(...)
	if mode ~= 0 and mode ~= 1 then
		error(format("Invalid padding mode %d", mode), 2)
	end
	local plain = (des or need_des()).decode(key, text, mode)
	if plain == nil then
		error("Invalid des crypt text", 2)
	end
	return plain
end

-- SHA-1 ----------------------------------------------------------------------------------

function crypt.sha1(...)
	local s = ...
	if type(s) ~= "string" then
		s = checkstring(1, 1, ...)
	end
	return (sha1 or need_sha1()).sha1(s)
end

function crypt.hmac_sha1(...)
	local key, text = ...
	if type(key) ~= "string" then
		key = checkstring(1, 1, ...)
	end
	if type(text) ~= "string" then
		text = checkstring(1, 2, ...)
	end
	return (sha1 or need_sha1()).hmac_sha1(key, text)
end

return crypt
