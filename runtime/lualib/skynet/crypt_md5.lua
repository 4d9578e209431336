-- skynet.crypt_md5: MD5 (RFC 1321) in pure Lua, for `md5` and `skynet.crypt`.
--
-- `transform` is MD5's compression function over one 64-byte block: it returns the four
-- state words after the 64 steps, without adding the input state back, because
-- skynet.crypt's hmac64 uses it that way; `sum` adds them, as MD5 does.
--
-- Words are 32-bit values held in Lua's 64-bit integers. Bits above bit 31 may hold
-- garbage between steps: additions, left shifts and bitwise operators never carry garbage
-- down into the low 32 bits, so only a right shift (inside each rotation) needs its
-- operand masked, and the results are masked once at the end. The 64 steps are written
-- out: a loop over tables of constants took half the memory and ran three times as slow.

local unpack, pack, sub, rep = string.unpack, string.pack, string.sub, string.rep

local WORDS = "<I4I4I4I4I4I4I4I4I4I4I4I4I4I4I4I4"

local function transform(a, b, c, d, x0, x1, x2, x3, x4, x5, x6, x7, x8, x9, x10, x11, x12,
		x13, x14, x15)
	a = a + (d ~ (b & (c ~ d))) + x0 + 0xd76aa478; a = b + (a << 7 | (a & 0xffffffff) >> 25)
	d = d + (c ~ (a & (b ~ c))) + x1 + 0xe8c7b756; d = a + (d << 12 | (d & 0xffffffff) >> 20)
	c = c + (b ~ (d & (a ~ b))) + x2 + 0x242070db; c = d + (c << 17 | (c & 0xffffffff) >> 15)
	b = b + (a ~ (c & (d ~ a))) + x3 + 0xc1bdceee; b = c + (b << 22 | (b & 0xffffffff) >> 10)
	a = a + (d ~ (b & (c ~ d))) + x4 + 0xf57c0faf; a = b + (a << 7 | (a & 0xffffffff) >> 25)
	d = d + (c ~ (a & (b ~ c))) + x5 + 0x4787c62a; d = a + (d << 12 | (d & 0xffffffff) >> 20)
	c = c + (b ~ (d & (a ~ b))) + x6 + 0xa8304613; c = d + (c << 17 | (c & 0xffffffff) >> 15)
	b = b + (a ~ (c & (d ~ a))) + x7 + 0xfd469501; b = c + (b << 22 | (b & 0xffffffff) >> 10)
	a = a + (d ~ (b & (c ~ d))) + x8 + 0x698098d8; a = b + (a << 7 | (a & 0xffffffff) >> 25)
	d = d + (c ~ (a & (b ~ c))) + x9 + 0x8b44f7af; d = a + (d << 12 | (d & 0xffffffff) >> 20)
	c = c + (b ~ (d & (a ~ b))) + x10 + 0xffff5bb1; c = d + (c << 17 | (c & 0xffffffff) >> 15)
	b = b + (a ~ (c & (d ~ a))) + x11 + 0x895cd7be; b = c + (b << 22 | (b & 0xffffffff) >> 10)
	a = a + (d ~ (b & (c ~ d))) + x12 + 0x6b901122; a = b + (a << 7 | (a & 0xffffffff) >> 25)
	d = d + (c ~ (a & (b ~ c))) + x13 + 0xfd987193; d = a + (d << 12 | (d & 0xffffffff) >> 20)
	c = c + (b ~ (d & (a ~ b))) + x14 + 0xa679438e; c = d + (c << 17 | (c & 0xffffffff) >> 15)
	b = b + (a ~ (c & (d ~ a))) + x15 + 0x49b40821; b = c + (b << 22 | (b & 0xffffffff) >> 10)

	a = a + (c ~ (d & (b ~ c))) + x1 + 0xf61e2562; a = b + (a << 5 | (a & 0xffffffff) >> 27)
	d = d + (b ~ (c & (a ~ b))) + x6 + 0xc040b340; d = a + (d << 9 | (d & 0xffffffff) >> 23)
	c = c + (a ~ (b & (d ~ a))) + x11 + 0x265e5a51; c = d + (c << 14 | (c & 0xffffffff) >> 18)
	b = b + (d ~ (a & (c ~ d))) + x0 + 0xe9b6c7aa; b = c + (b << 20 | (b & 0xffffffff) >> 12)
	a = a + (c ~ (d & (b ~ c))) + x5 + 0xd62f105d; a = b + (a << 5 | (a & 0xffffffff) >> 27)
	d = d + (b ~ (c & (a ~ b))) + x10 + 0x02441453; d = a + (d << 9 | (d & 0xffffffff) >> 23)
	c = c + (a ~ (b & (d ~ a))) + x15 + 0xd8a1e681; c = d + (c << 14 | (c & 0xffffffff) >> 18)
	b = b + (d ~ (a & (c ~ d))) + x4 + 0xe7d3fbc8; b = c + (b << 20 | (b & 0xffffffff) >> 12)
	a = a + (c ~ (d & (b ~ c))) + x9 + 0x21e1cde6; a = b + (a << 5 | (a & 0xffffffff) >> 27)
	d = d + (b ~ (c & (a ~ b))) + x14 + 0xc33707d6; d = a + (d << 9 | (d & 0xffffffff) >> 23)
	c = c + (a ~ (b & (d ~ a))) + x3 + 0xf4d50d87; c = d + (c << 14 | (c & 0xffffffff) >> 18)
	b = b + (d ~ (a & (c ~ d))) + x8 + 0x455a14ed; b = c + (b << 20 | (b & 0xffffffff) >> 12)
	a = a + (c ~ (d & (b ~ c))) + x13 + 0xa9e3e905; a = b + (a << 5 | (a & 0xffffffff) >> 27)
	d = d + (b ~ (c & (a ~ b))) + x2 + 0xfcefa3f8; d = a + (d << 9 | (d & 0xffffffff) >> 23)
	c = c + (a ~ (b & (d ~ a))) + x7 + 0x676f02d9; c = d + (c << 14 | (c & 0xffffffff) >> 18)
	b = b + (d ~ (a & (c ~ d))) + x12 + 0x8d2a4c8a; b = c + (b << 20 | (b & 0xffffffff) >> 12)

	a = a + (b ~ c ~ d) + x5 + 0xfffa3942; a = b + (a << 4 | (a & 0xffffffff) >> 28)
	d = d + (a ~ b ~ c) + x8 + 0x8771f681; d = a + (d << 11 | (d & 0xffffffff) >> 21)
	c = c + (d ~ a ~ b) + x11 + 0x6d9d6122; c = d + (c << 16 | (c & 0xffffffff) >> 16)
	b = b + (c ~ d ~ a) + x14 + 0xfde5380c; b = c + (b << 23 | (b & 0xffffffff) >> 9)
	a = a + (b ~ c ~ d) + x1 + 0xa4beea44; a = b + (a << 4 | (a & 0xffffffff) >> 28)
	d = d + (a ~ b ~ c) + x4 + 0x4bdecfa9; d = a + (d << 11 | (d & 0xffffffff) >> 21)
	c = c + (d ~ a ~ b) + x7 + 0xf6bb4b60; c = d + (c << 16 | (c & 0xffffffff) >> 16)
	b = b + (c ~ d ~ a) + x10 + 0xbebfbc70; b = c + (b << 23 | (b & 0xffffffff) >> 9)
	a = a + (b ~ c ~ d) + x13 + 0x289b7ec6; a = b + (a << 4 | (a & 0xffffffff) >> 28)
	d = d + (a ~ b ~ c) + x0 + 0xeaa127fa; d = a + (d << 11 | (d & 0xffffffff) >> 21)
	c = c + (d ~ a ~ b) + x3 + 0xd4ef3085; c = d + (c << 16 | (c & 0xffffffff) >> 16)
	b = b + (c ~ d ~ a) + x6 + 0x04881d05; b = c + (b << 23 | (b & 0xffffffff) >> 9)
	a = a + (b ~ c ~ d) + x9 + 0xd9d4d039; a = b + (a << 4 | (a & 0xffffffff) >> 28)
	d = d + (a ~ b ~ c) + x12 + 0xe6db99e5; d = a + (d << 11 | (d & 0xffffffff) >> 21)
	c = c + (d ~ a ~ b) + x15 + 0x1fa27cf8; c = d + (c << 16 | (c & 0xffffffff) >> 16)
	b = b + (c ~ d ~ a) + x2 + 0xc4ac5665; b = c + (b << 23 | (b & 0xffffffff) >> 9)

	a = a + (c ~ (b | ~d)) + x0 + 0xf4292244; a = b + (a << 6 | (a & 0xffffffff) >> 26)
	d = d + (b ~ (a | ~c)) + x7 + 0x432aff97; d = a + (d << 10 | (d & 0xffffffff) >> 22)
	c = c + (a ~ (d | ~b)) + x14 + 0xab9423a7; c = d + (c << 15 | (c & 0xffffffff) >> 17)
	b = b + (d ~ (c | ~a)) + x5 + 0xfc93a039; b = c + (b << 21 | (b & 0xffffffff) >> 11)
	a = a + (c ~ (b | ~d)) + x12 + 0x655b59c3; a = b + (a << 6 | (a & 0xffffffff) >> 26)
	d = d + (b ~ (a | ~c)) + x3 + 0x8f0ccc92; d = a + (d << 10 | (d & 0xffffffff) >> 22)
	c = c + (a ~ (d | ~b)) + x10 + 0xffeff47d; c = d + (c << 15 | (c & 0xffffffff) >> 17)
	b = b + (d ~ (c | ~a)) + x1 + 0x85845dd1; b = c + (b << 21 | (b & 0xffffffff) >> 11)
	a = a + (c ~ (b | ~d)) + x8 + 0x6fa87e4f; a = b + (a << 6 | (a & 0xffffffff) >> 26)
	d = d + (b ~ (a | ~c)) + x15 + 0xfe2ce6e0; d = a + (d << 10 | (d & 0xffffffff) >> 22)
	c = c + (a ~ (d | ~b)) + x6 + 0xa3014314; c = d + (c << 15 | (c & 0xffffffff) >> 17)
	b = b + (d ~ (c | ~a)) + x13 + 0x4e0811a1; b = c + (b << 21 | (b & 0xffffffff) >> 11)
	a = a + (c ~ (b | ~d)) + x4 + 0xf7537e82; a = b + (a << 6 | (a & 0xffffffff) >> 26)
	d = d + (b ~ (a | ~c)) + x11 + 0xbd3af235; d = a + (d << 10 | (d & 0xffffffff) >> 22)
	c = c + (a ~ (d | ~b)) + x2 + 0x2ad7d2bb; c = d + (c << 15 | (c & 0xffffffff) >> 17)
	b = b + (d ~ (c | ~a)) + x9 + 0xeb86d391; b = c + (b << 21 | (b & 0xffffffff) >> 11)

	return a & 0xffffffff, b & 0xffffffff, c & 0xffffffff, d & 0xffffffff
end

-- Every full block of `s` from `pos`, then the state.
local function blocks(a, b, c, d, s, pos, last)
	while pos <= last do
		local a2, b2, c2, d2 = transform(a, b, c, d, unpack(WORDS, s, pos))
		a, b, c, d = (a + a2) & 0xffffffff, (b + b2) & 0xffffffff, (c + c2) & 0xffffffff,
			(d + d2) & 0xffffffff
		pos = pos + 64
	end
	return a, b, c, d
end

-- The 16-byte digest of `s`.
local function sum(s)
	local n = #s
	local full = n - n % 64
	local a, b, c, d = blocks(0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476, s, 1, full)
	-- the rest, 0x80, zeros up to 56 bytes mod 64, the length in bits (64-bit little-endian)
	local tail = sub(s, full + 1) .. "\x80" .. rep("\0", (55 - n) % 64) .. pack("<I8", n * 8)
	a, b, c, d = blocks(a, b, c, d, tail, 1, #tail)
	return pack("<I4I4I4I4", a, b, c, d)
end

return { transform = transform, sum = sum }
