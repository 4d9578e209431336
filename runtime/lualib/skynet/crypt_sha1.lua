-- skynet.crypt_sha1: SHA-1 (FIPS 180) and HMAC-SHA1 (RFC 2104) in pure Lua, for
-- skynet.crypt's sha1 and hmac_sha1.
--
-- Words are 32-bit values in Lua's 64-bit integers and may carry garbage above bit 31
-- between steps: only right shifts (inside rotations) mask their operand, and the state
-- is masked when a block is added to it (crypt_md5.lua says why this is sound). The 80
-- steps are written out, renaming the five working variables instead of moving them,
-- and the message schedule lives in the sixteen block words, each overwritten once it is
-- no longer needed.

local unpack, pack, sub, rep = string.unpack, string.pack, string.sub, string.rep

local WORDS = ">I4I4I4I4I4I4I4I4I4I4I4I4I4I4I4I4"

local function transform(a, b, c, d, e, x0, x1, x2, x3, x4, x5, x6, x7, x8, x9, x10, x11,
		x12, x13, x14, x15)
	e = e + (a << 5 | (a & 0xffffffff) >> 27) + ((b & (c ~ d)) ~ d) + x0 + 0x5a827999; b = b << 30 | (b & 0xffffffff) >> 2
	d = d + (e << 5 | (e & 0xffffffff) >> 27) + ((a & (b ~ c)) ~ c) + x1 + 0x5a827999; a = a << 30 | (a & 0xffffffff) >> 2
	c = c + (d << 5 | (d & 0xffffffff) >> 27) + ((e & (a ~ b)) ~ b) + x2 + 0x5a827999; e = e << 30 | (e & 0xffffffff) >> 2
	b = b + (c << 5 | (c & 0xffffffff) >> 27) + ((d & (e ~ a)) ~ a) + x3 + 0x5a827999; d = d << 30 | (d & 0xffffffff) >> 2
	a = a + (b << 5 | (b & 0xffffffff) >> 27) + ((c & (d ~ e)) ~ e) + x4 + 0x5a827999; c = c << 30 | (c & 0xffffffff) >> 2
	e = e + (a << 5 | (a & 0xffffffff) >> 27) + ((b & (c ~ d)) ~ d) + x5 + 0x5a827999; b = b << 30 | (b & 0xffffffff) >> 2
	d = d + (e << 5 | (e & 0xffffffff) >> 27) + ((a & (b ~ c)) ~ c) + x6 + 0x5a827999; a = a << 30 | (a & 0xffffffff) >> 2
	c = c + (d << 5 | (d & 0xffffffff) >> 27) + ((e & (a ~ b)) ~ b) + x7 + 0x5a827999; e = e << 30 | (e & 0xffffffff) >> 2
	b = b + (c << 5 | (c & 0xffffffff) >> 27) + ((d & (e ~ a)) ~ a) + x8 + 0x5a827999; d = d << 30 | (d & 0xffffffff) >> 2
	a = a + (b << 5 | (b & 0xffffffff) >> 27) + ((c & (d ~ e)) ~ e) + x9 + 0x5a827999; c = c << 30 | (c & 0xffffffff) >> 2
	e = e + (a << 5 | (a & 0xffffffff) >> 27) + ((b & (c ~ d)) ~ d) + x10 + 0x5a827999; b = b << 30 | (b & 0xffffffff) >> 2
	d = d + (e << 5 | (e & 0xffffffff) >> 27) + ((a & (b ~ c)) ~ c) + x11 + 0x5a827999; a = a << 30 | (a & 0xffffffff) >> 2
	c = c + (d << 5 | (d & 0xffffffff) >> 27) + ((e & (a ~ b)) ~ b) + x12 + 0x5a827999; e = e << 30 | (e & 0xffffffff) >> 2
	b = b + (c << 5 | (c & 0xffffffff) >> 27) + ((d & (e ~ a)) ~ a) + x13 + 0x5a827999; d = d << 30 | (d & 0xffffffff) >> 2
	a = a + (b << 5 | (b & 0xffffffff) >> 27) + ((c & (d ~ e)) ~ e) + x14 + 0x5a827999; c = c << 30 | (c & 0xffffffff) >> 2
	e = e + (a << 5 | (a & 0xffffffff) >> 27) + ((b & (c ~ d)) ~ d) + x15 + 0x5a827999; b = b << 30 | (b & 0xffffffff) >> 2
	x0 = x13 ~ x8 ~ x2 ~ x0; x0 = x0 << 1 | (x0 & 0xffffffff) >> 31
	d = d + (e << 5 | (e & 0xffffffff) >> 27) + ((a & (b ~ c)) ~ c) + x0 + 0x5a827999; a = a << 30 | (a & 0xffffffff) >> 2
	x1 = x14 ~ x9 ~ x3 ~ x1; x1 = x1 << 1 | (x1 & 0xffffffff) >> 31
	c = c + (d << 5 | (d & 0xffffffff) >> 27) + ((e & (a ~ b)) ~ b) + x1 + 0x5a827999; e = e << 30 | (e & 0xffffffff) >> 2
	x2 = x15 ~ x10 ~ x4 ~ x2; x2 = x2 << 1 | (x2 & 0xffffffff) >> 31
	b = b + (c << 5 | (c & 0xffffffff) >> 27) + ((d & (e ~ a)) ~ a) + x2 + 0x5a827999; d = d << 30 | (d & 0xffffffff) >> 2
	x3 = x0 ~ x11 ~ x5 ~ x3; x3 = x3 << 1 | (x3 & 0xffffffff) >> 31
	a = a + (b << 5 | (b & 0xffffffff) >> 27) + ((c & (d ~ e)) ~ e) + x3 + 0x5a827999; c = c << 30 | (c & 0xffffffff) >> 2

	x4 = x1 ~ x12 ~ x6 ~ x4; x4 = x4 << 1 | (x4 & 0xffffffff) >> 31
	e = e + (a << 5 | (a & 0xffffffff) >> 27) + (b ~ c ~ d) + x4 + 0x6ed9eba1; b = b << 30 | (b & 0xffffffff) >> 2
	x5 = x2 ~ x13 ~ x7 ~ x5; x5 = x5 << 1 | (x5 & 0xffffffff) >> 31
	d = d + (e << 5 | (e & 0xffffffff) >> 27) + (a ~ b ~ c) + x5 + 0x6ed9eba1; a = a << 30 | (a & 0xffffffff) >> 2
	x6 = x3 ~ x14 ~ x8 ~ x6; x6 = x6 << 1 | (x6 & 0xffffffff) >> 31
	c = c + (d << 5 | (d & 0xffffffff) >> 27) + (e ~ a ~ b) + x6 + 0x6ed9eba1; e = e << 30 | (e & 0xffffffff) >> 2
	x7 = x4 ~ x15 ~ x9 ~ x7; x7 = x7 << 1 | (x7 & 0xffffffff) >> 31
	b = b + (c << 5 | (c & 0xffffffff) >> 27) + (d ~ e ~ a) + x7 + 0x6ed9eba1; d = d << 30 | (d & 0xffffffff) >> 2
	x8 = x5 ~ x0 ~ x10 ~ x8; x8 = x8 << 1 | (x8 & 0xffffffff) >> 31
	a = a + (b << 5 | (b & 0xffffffff) >> 27) + (c ~ d ~ e) + x8 + 0x6ed9eba1; c = c << 30 | (c & 0xffffffff) >> 2
	x9 = x6 ~ x1 ~ x11 ~ x9; x9 = x9 << 1 | (x9 & 0xffffffff) >> 31
	e = e + (a << 5 | (a & 0xffffffff) >> 27) + (b ~ c ~ d) + x9 + 0x6ed9eba1; b = b << 30 | (b & 0xffffffff) >> 2
	x10 = x7 ~ x2 ~ x12 ~ x10; x10 = x10 << 1 | (x10 & 0xffffffff) >> 31
	d = d + (e << 5 | (e & 0xffffffff) >> 27) + (a ~ b ~ c) + x10 + 0x6ed9eba1; a = a << 30 | (a & 0xffffffff) >> 2
	x11 = x8 ~ x3 ~ x13 ~ x11; x11 = x11 << 1 | (x11 & 0xffffffff) >> 31
	c = c + (d << 5 | (d & 0xffffffff) >> 27) + (e ~ a ~ b) + x11 + 0x6ed9eba1; e = e << 30 | (e & 0xffffffff) >> 2
	x12 = x9 ~ x4 ~ x14 ~ x12; x12 = x12 << 1 | (x12 & 0xffffffff) >> 31
	b = b + (c << 5 | (c & 0xffffffff) >> 27) + (d ~ e ~ a) + x12 + 0x6ed9eba1; d = d << 30 | (d & 0xffffffff) >> 2
	x13 = x10 ~ x5 ~ x15 ~ x13; x13 = x13 << 1 | (x13 & 0xffffffff) >> 31
	a = a + (b << 5 | (b & 0xffffffff) >> 27) + (c ~ d ~ e) + x13 + 0x6ed9eba1; c = c << 30 | (c & 0xffffffff) >> 2
	x14 = x11 ~ x6 ~ x0 ~ x14; x14 = x14 << 1 | (x14 & 0xffffffff) >> 31
	e = e + (a << 5 | (a & 0xffffffff) >> 27) + (b ~ c ~ d) + x14 + 0x6ed9eba1; b = b << 30 | (b & 0xffffffff) >> 2
	x15 = x12 ~ x7 ~ x1 ~ x15; x15 = x15 << 1 | (x15 & 0xffffffff) >> 31
	d = d + (e << 5 | (e & 0xffffffff) >> 27) + (a ~ b ~ c) + x15 + 0x6ed9eba1; a = a << 30 | (a & 0xffffffff) >> 2
	x0 = x13 ~ x8 ~ x2 ~ x0; x0 = x0 << 1 | (x0 & 0xffffffff) >> 31
	c = c + (d << 5 | (d & 0xffffffff) >> 27) + (e ~ a ~ b) + x0 + 0x6ed9eba1; e = e << 30 | (e & 0xffffffff) >> 2
	x1 = x14 ~ x9 ~ x3 ~ x1; x1 = x1 << 1 | (x1 & 0xffffffff) >> 31
	b = b + (c << 5 | (c & 0xffffffff) >> 27) + (d ~ e ~ a) + x1 + 0x6ed9eba1; d = d << 30 | (d & 0xffffffff) >> 2
	x2 = x15 ~ x10 ~ x4 ~ x2; x2 = x2 << 1 | (x2 & 0xffffffff) >> 31
	a = a + (b << 5 | (b & 0xffffffff) >> 27) + (c ~ d ~ e) + x2 + 0x6ed9eba1; c = c << 30 | (c & 0xffffffff) >> 2
	x3 = x0 ~ x11 ~ x5 ~ x3; x3 = x3 << 1 | (x3 & 0xffffffff) >> 31
	e = e + (a << 5 | (a & 0xffffffff) >> 27) + (b ~ c ~ d) + x3 + 0x6ed9eba1; b = b << 30 | (b & 0xffffffff) >> 2
	x4 = x1 ~ x12 ~ x6 ~ x4; x4 = x4 << 1 | (x4 & 0xffffffff) >> 31
	d = d + (e << 5 | (e & 0xffffffff) >> 27) + (a ~ b ~ c) + x4 + 0x6ed9eba1; a = a << 30 | (a & 0xffffffff) >> 2
	x5 = x2 ~ x13 ~ x7 ~ x5; x5 = x5 << 1 | (x5 & 0xffffffff) >> 31
	c = c + (d << 5 | (d & 0xffffffff) >> 27) + (e ~ a ~ b) + x5 + 0x6ed9eba1; e = e << 30 | (e & 0xffffffff) >> 2
	x6 = x3 ~ x14 ~ x8 ~ x6; x6 = x6 << 1 | (x6 & 0xffffffff) >> 31
	b = b + (c << 5 | (c & 0xffffffff) >> 27) + (d ~ e ~ a) + x6 + 0x6ed9eba1; d = d << 30 | (d & 0xffffffff) >> 2
	x7 = x4 ~ x15 ~ x9 ~ x7; x7 = x7 << 1 | (x7 & 0xffffffff) >> 31
	a = a + (b << 5 | (b & 0xffffffff) >> 27) + (c ~ d ~ e) + x7 + 0x6ed9eba1; c = c << 30 | (c & 0xffffffff) >> 2

	x8 = x5 ~ x0 ~ x10 ~ x8; x8 = x8 << 1 | (x8 & 0xffffffff) >> 31
	e = e + (a << 5 | (a & 0xffffffff) >> 27) + (((b | c) & d) | (b & c)) + x8 + 0x8f1bbcdc; b = b << 30 | (b & 0xffffffff) >> 2
	x9 = x6 ~ x1 ~ x11 ~ x9; x9 = x9 << 1 | (x9 & 0xffffffff) >> 31
	d = d + (e << 5 | (e & 0xffffffff) >> 27) + (((a | b) & c) | (a & b)) + x9 + 0x8f1bbcdc; a = a << 30 | (a & 0xffffffff) >> 2
	x10 = x7 ~ x2 ~ x12 ~ x10; x10 = x10 << 1 | (x10 & 0xffffffff) >> 31
	c = c + (d << 5 | (d & 0xffffffff) >> 27) + (((e | a) & b) | (e & a)) + x10 + 0x8f1bbcdc; e = e << 30 | (e & 0xffffffff) >> 2
	x11 = x8 ~ x3 ~ x13 ~ x11; x11 = x11 << 1 | (x11 & 0xffffffff) >> 31
	b = b + (c << 5 | (c & 0xffffffff) >> 27) + (((d | e) & a) | (d & e)) + x11 + 0x8f1bbcdc; d = d << 30 | (d & 0xffffffff) >> 2
	x12 = x9 ~ x4 ~ x14 ~ x12; x12 = x12 << 1 | (x12 & 0xffffffff) >> 31
	a = a + (b << 5 | (b & 0xffffffff) >> 27) + (((c | d) & e) | (c & d)) + x12 + 0x8f1bbcdc; c = c << 30 | (c & 0xffffffff) >> 2
	x13 = x10 ~ x5 ~ x15 ~ x13; x13 = x13 << 1 | (x13 & 0xffffffff) >> 31
	e = e + (a << 5 | (a & 0xffffffff) >> 27) + (((b | c) & d) | (b & c)) + x13 + 0x8f1bbcdc; b = b << 30 | (b & 0xffffffff) >> 2
	x14 = x11 ~ x6 ~ x0 ~ x14; x14 = x14 << 1 | (x14 & 0xffffffff) >> 31
	d = d + (e << 5 | (e & 0xffffffff) >> 27) + (((a | b) & c) | (a & b)) + x14 + 0x8f1bbcdc; a = a << 30 | (a & 0xffffffff) >> 2
	x15 = x12 ~ x7 ~ x1 ~ x15; x15 = x15 << 1 | (x15 & 0xffffffff) >> 31
	c = c + (d << 5 | (d & 0xffffffff) >> 27) + (((e | a) & b) | (e & a)) + x15 + 0x8f1bbcdc; e = e << 30 | (e & 0xffffffff) >> 2
	x0 = x13 ~ x8 ~ x2 ~ x0; x0 = x0 << 1 | (x0 & 0xffffffff) >> 31
	b = b + (c << 5 | (c & 0xffffffff) >> 27) + (((d | e) & a) | (d & e)) + x0 + 0x8f1bbcdc; d = d << 30 | (d & 0xffffffff) >> 2
	x1 = x14 ~ x9 ~ x3 ~ x1; x1 = x1 << 1 | (x1 & 0xffffffff) >> 31
	a = a + (b << 5 | (b & 0xffffffff) >> 27) + (((c | d) & e) | (c & d)) + x1 + 0x8f1bbcdc; c = c << 30 | (c & 0xffffffff) >> 2
	x2 = x15 ~ x10 ~ x4 ~ x2; x2 = x2 << 1 | (x2 & 0xffffffff) >> 31
	e = e + (a << 5 | (a & 0xffffffff) >> 27) + (((b | c) & d) | (b & c)) + x2 + 0x8f1bbcdc; b = b << 30 | (b & 0xffffffff) >> 2
	x3 = x0 ~ x11 ~ x5 ~ x3; x3 = x3 << 1 | (x3 & 0xffffffff) >> 31
	d = d + (e << 5 | (e & 0xffffffff) >> 27) + (((a | b) & c) | (a & b)) + x3 + 0x8f1bbcdc; a = a << 30 | (a & 0xffffffff) >> 2
	x4 = x1 ~ x12 ~ x6 ~ x4; x4 = x4 << 1 | (x4 & 0xffffffff) >> 31
	c = c + (d << 5 | (d & 0xffffffff) >> 27) + (((e | a) & b) | (e & a)) + x4 + 0x8f1bbcdc; e = e << 30 | (e & 0xffffffff) >> 2
	x5 = x2 ~ x13 ~ x7 ~ x5; x5 = x5 << 1 | (x5 & 0xffffffff) >> 31
	b = b + (c << 5 | (c & 0xffffffff) >> 27) + (((d | e) & a) | (d & e)) + x5 + 0x8f1bbcdc; d = d << 30 | (d & 0xffffffff) >> 2
	x6 = x3 ~ x14 ~ x8 ~ x6; x6 = x6 << 1 | (x6 & 0xffffffff) >> 31
	a = a + (b << 5 | (b & 0xffffffff) >> 27) + (((c | d) & e) | (c & d)) + x6 + 0x8f1bbcdc; c = c << 30 | (c & 0xffffffff) >> 2
	x7 = x4 ~ x15 ~ x9 ~ x7; x7 = x7 << 1 | (x7 & 0xffffffff) >> 31
	e = e + (a << 5 | (a & 0xffffffff) >> 27) + (((b | c) & d) | (b & c)) + x7 + 0x8f1bbcdc; b = b << 30 | (b & 0xffffffff) >> 2
	x8 = x5 ~ x0 ~ x10 ~ x8; x8 = x8 << 1 | (x8 & 0xffffffff) >> 31
	d = d + (e << 5 | (e & 0xffffffff) >> 27) + (((a | b) & c) | (a & b)) + x8 + 0x8f1bbcdc; a = a << 30 | (a & 0xffffffff) >> 2
	x9 = x6 ~ x1 ~ x11 ~ x9; x9 = x9 << 1 | (x9 & 0xffffffff) >> 31
	c = c + (d << 5 | (d & 0xffffffff) >> 27) + (((e | a) & b) | (e & a)) + x9 + 0x8f1bbcdc; e = e << 30 | (e & 0xffffffff) >> 2
	x10 = x7 ~ x2 ~ x12 ~ x10; x10 = x10 << 1 | (x10 & 0xffffffff) >> 31
	b = b + (c << 5 | (c & 0xffffffff) >> 27) + (((d | e) & a) | (d & e)) + x10 + 0x8f1bbcdc; d = d << 30 | (d & 0xffffffff) >> 2
	x11 = x8 ~ x3 ~ x13 ~ x11; x11 = x11 << 1 | (x11 & 0xffffffff) >> 31
	a = a + (b << 5 | (b & 0xffffffff) >> 27) + (((c | d) & e) | (c & d)) + x11 + 0x8f1bbcdc; c = c << 30 | (c & 0xffffffff) >> 2

	x12 = x9 ~ x4 ~ x14 ~ x12; x12 = x12 << 1 | (x12 & 0xffffffff) >> 31
	e = e + (a << 5 | (a & 0xffffffff) >> 27) + (b ~ c ~ d) + x12 + 0xca62c1d6; b = b << 30 | (b & 0xffffffff) >> 2
	x13 = x10 ~ x5 ~ x15 ~ x13; x13 = x13 << 1 | (x13 & 0xffffffff) >> 31
	d = d + (e << 5 | (e & 0xffffffff) >> 27) + (a ~ b ~ c) + x13 + 0xca62c1d6; a = a << 30 | (a & 0xffffffff) >> 2
	x14 = x11 ~ x6 ~ x0 ~ x14; x14 = x14 << 1 | (x14 & 0xffffffff) >> 31
	c = c + (d << 5 | (d & 0xffffffff) >> 27) + (e ~ a ~ b) + x14 + 0xca62c1d6; e = e << 30 | (e & 0xffffffff) >> 2
	x15 = x12 ~ x7 ~ x1 ~ x15; x15 = x15 << 1 | (x15 & 0xffffffff) >> 31
	b = b + (c << 5 | (c & 0xffffffff) >> 27) + (d ~ e ~ a) + x15 + 0xca62c1d6; d = d << 30 | (d & 0xffffffff) >> 2
	x0 = x13 ~ x8 ~ x2 ~ x0; x0 = x0 << 1 | (x0 & 0xffffffff) >> 31
	a = a + (b << 5 | (b & 0xffffffff) >> 27) + (c ~ d ~ e) + x0 + 0xca62c1d6; c = c << 30 | (c & 0xffffffff) >> 2
	x1 = x14 ~ x9 ~ x3 ~ x1; x1 = x1 << 1 | (x1 & 0xffffffff) >> 31
	e = e + (a << 5 | (a & 0xffffffff) >> 27) + (b ~ c ~ d) + x1 + 0xca62c1d6; b = b << 30 | (b & 0xffffffff) >> 2
	x2 = x15 ~ x10 ~ x4 ~ x2; x2 = x2 << 1 | (x2 & 0xffffffff) >> 31
	d = d + (e << 5 | (e & 0xffffffff) >> 27) + (a ~ b ~ c) + x2 + 0xca62c1d6; a = a << 30 | (a & 0xffffffff) >> 2
	x3 = x0 ~ x11 ~ x5 ~ x3; x3 = x3 << 1 | (x3 & 0xffffffff) >> 31
	c = c + (d << 5 | (d & 0xffffffff) >> 27) + (e ~ a ~ b) + x3 + 0xca62c1d6; e = e << 30 | (e & 0xffffffff) >> 2
	x4 = x1 ~ x12 ~ x6 ~ x4; x4 = x4 << 1 | (x4 & 0xffffffff) >> 31
	b = b + (c << 5 | (c & 0xffffffff) >> 27) + (d ~ e ~ a) + x4 + 0xca62c1d6; d = d << 30 | (d & 0xffffffff) >> 2
	x5 = x2 ~ x13 ~ x7 ~ x5; x5 = x5 << 1 | (x5 & 0xffffffff) >> 31
	a = a + (b << 5 | (b & 0xffffffff) >> 27) + (c ~ d ~ e) + x5 + 0xca62c1d6; c = c << 30 | (c & 0xffffffff) >> 2
	x6 = x3 ~ x14 ~ x8 ~ x6; x6 = x6 << 1 | (x6 & 0xffffffff) >> 31
	e = e + (a << 5 | (a & 0xffffffff) >> 27) + (b ~ c ~ d) + x6 + 0xca62c1d6; b = b << 30 | (b & 0xffffffff) >> 2
	x7 = x4 ~ x15 ~ x9 ~ x7; x7 = x7 << 1 | (x7 & 0xffffffff) >> 31
	d = d + (e << 5 | (e & 0xffffffff) >> 27) + (a ~ b ~ c) + x7 + 0xca62c1d6; a = a << 30 | (a & 0xffffffff) >> 2
	x8 = x5 ~ x0 ~ x10 ~ x8; x8 = x8 << 1 | (x8 & 0xffffffff) >> 31
	c = c + (d << 5 | (d & 0xffffffff) >> 27) + (e ~ a ~ b) + x8 + 0xca62c1d6; e = e << 30 | (e & 0xffffffff) >> 2
	x9 = x6 ~ x1 ~ x11 ~ x9; x9 = x9 << 1 | (x9 & 0xffffffff) >> 31
	b = b + (c << 5 | (c & 0xffffffff) >> 27) + (d ~ e ~ a) + x9 + 0xca62c1d6; d = d << 30 | (d & 0xffffffff) >> 2
	x10 = x7 ~ x2 ~ x12 ~ x10; x10 = x10 << 1 | (x10 & 0xffffffff) >> 31
	a = a + (b << 5 | (b & 0xffffffff) >> 27) + (c ~ d ~ e) + x10 + 0xca62c1d6; c = c << 30 | (c & 0xffffffff) >> 2
	x11 = x8 ~ x3 ~ x13 ~ x11; x11 = x11 << 1 | (x11 & 0xffffffff) >> 31
	e = e + (a << 5 | (a & 0xffffffff) >> 27) + (b ~ c ~ d) + x11 + 0xca62c1d6; b = b << 30 | (b & 0xffffffff) >> 2
	x12 = x9 ~ x4 ~ x14 ~ x12; x12 = x12 << 1 | (x12 & 0xffffffff) >> 31
	d = d + (e << 5 | (e & 0xffffffff) >> 27) + (a ~ b ~ c) + x12 + 0xca62c1d6; a = a << 30 | (a & 0xffffffff) >> 2
	x13 = x10 ~ x5 ~ x15 ~ x13; x13 = x13 << 1 | (x13 & 0xffffffff) >> 31
	c = c + (d << 5 | (d & 0xffffffff) >> 27) + (e ~ a ~ b) + x13 + 0xca62c1d6; e = e << 30 | (e & 0xffffffff) >> 2
	x14 = x11 ~ x6 ~ x0 ~ x14; x14 = x14 << 1 | (x14 & 0xffffffff) >> 31
	b = b + (c << 5 | (c & 0xffffffff) >> 27) + (d ~ e ~ a) + x14 + 0xca62c1d6; d = d << 30 | (d & 0xffffffff) >> 2
	x15 = x12 ~ x7 ~ x1 ~ x15; x15 = x15 << 1 | (x15 & 0xffffffff) >> 31
	a = a + (b << 5 | (b & 0xffffffff) >> 27) + (c ~ d ~ e) + x15 + 0xca62c1d6; c = c << 30 | (c & 0xffffffff) >> 2

	return a, b, c, d, e
end

-- Every full block of `s` from `pos` up to `last`, then the state.
local function blocks(h0, h1, h2, h3, h4, s, pos, last)
	while pos <= last do
		local a, b, c, d, e = transform(h0, h1, h2, h3, h4, unpack(WORDS, s, pos))
		h0, h1, h2, h3, h4 = (h0 + a) & 0xffffffff, (h1 + b) & 0xffffffff,
			(h2 + c) & 0xffffffff, (h3 + d) & 0xffffffff, (h4 + e) & 0xffffffff
		pos = pos + 64
	end
	return h0, h1, h2, h3, h4
end

-- The 20-byte digest of `s`.
local function sha1(s)
	local n = #s
	local full = n - n % 64
	local h0, h1, h2, h3, h4 = blocks(0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476,
		0xc3d2e1f0, s, 1, full)
	-- the rest, 0x80, zeros up to 56 bytes mod 64, the length in bits (64-bit big-endian)
	local tail = sub(s, full + 1) .. "\x80" .. rep("\0", (55 - n) % 64) .. pack(">I8", n * 8)
	h0, h1, h2, h3, h4 = blocks(h0, h1, h2, h3, h4, tail, 1, #tail)
	return pack(">I4I4I4I4I4", h0, h1, h2, h3, h4)
end

local KEY = "<I8I8I8I8I8I8I8I8"

-- A 64-byte key block XORed with `pad` (a byte repeated in a 64-bit word).
local function keyblock(key, pad)
	local k0, k1, k2, k3, k4, k5, k6, k7 = unpack(KEY, key)
	return pack(KEY, k0 ~ pad, k1 ~ pad, k2 ~ pad, k3 ~ pad, k4 ~ pad, k5 ~ pad, k6 ~ pad,
		k7 ~ pad)
end

-- HMAC-SHA1: a key longer than a block is hashed first; a shorter one is zero-padded.
local function hmac_sha1(key, text)
	if #key > 64 then
		key = sha1(key)
	end
	key = key .. rep("\0", 64 - #key)
	local inner = sha1(keyblock(key, 0x3636363636363636) .. text)
	return sha1(keyblock(key, 0x5c5c5c5c5c5c5c5c) .. inner)
end

return { sha1 = sha1, hmac_sha1 = hmac_sha1 }
