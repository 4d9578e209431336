-- skynet.crypt_des: DES (FIPS 46-3) in ECB mode with skynet.crypt's two paddings, in pure
-- Lua, for skynet.crypt's desencode and desdecode. skynet.crypt checks the arguments.
--
-- The standard's tables are only read while this file loads, to build faster ones:
-- - the initial permutation moves bit c of input byte k to a place that depends on c,
--   shifted left by k - 1; so one 256-entry table of where a byte's bits go, shifted per
--   byte, does the whole permutation with eight lookups. The final permutation, its
--   inverse, has the same shape (a fixed shift per input byte);
-- - each round's f is eight lookups in S-boxes with the P permutation folded in. E is not
--   computed: R is widened to 34 bits (its last bit above, its first bit below), where
--   the eight 6-bit groups E would make sit 4 bits apart; the even groups and the odd
--   groups each fit one 32-bit key word, so a round XORs R with two words per round key.
-- Round keys come from PC1, the rotations and PC2 bit by bit; the last key's schedule is
-- kept, since a service usually encrypts many messages with one key.

local byte, char, pack, unpack, sub, rep, concat = string.byte, string.char, string.pack,
	string.unpack, string.sub, string.rep, table.concat

-- n-bit value `v` (bit 1 = its highest) permuted: output bit i is input bit tbl[i].
local function permute(v, tbl, n)
	local out = 0
	for i = 1, #tbl do
		out = out << 1 | (v >> (n - tbl[i]) & 1)
	end
	return out
end

local PC1 = {
	57, 49, 41, 33, 25, 17, 9, 1, 58, 50, 42, 34, 26, 18, 10, 2, 59, 51, 43, 35, 27, 19, 11, 3,
	60, 52, 44, 36, 63, 55, 47, 39, 31, 23, 15, 7, 62, 54, 46, 38, 30, 22, 14, 6, 61, 53, 45, 37,
	29, 21, 13, 5, 28, 20, 12, 4,
}
local PC2 = {
	14, 17, 11, 24, 1, 5, 3, 28, 15, 6, 21, 10, 23, 19, 12, 4, 26, 8, 16, 7, 27, 20, 13, 2,
	41, 52, 31, 37, 47, 55, 30, 40, 51, 45, 33, 48, 44, 49, 39, 56, 34, 53, 46, 42, 50, 36, 29, 32,
}
local ROTATE = { 1, 1, 2, 2, 2, 2, 2, 2, 1, 2, 2, 2, 2, 2, 2, 1 }

-- SP[j]: S-box j followed by P, indexed by its 6-bit input + 1.
-- IPB / FPB: where the bits of one byte go in the initial / final permutation (+1);
-- FPSHIFT[r]: the extra shift for byte r of the final permutation's input.
local SP1, SP2, SP3, SP4, SP5, SP6, SP7, SP8, IPB, FPB, FPSHIFT
do
	local IP = {
		58, 50, 42, 34, 26, 18, 10, 2, 60, 52, 44, 36, 28, 20, 12, 4,
		62, 54, 46, 38, 30, 22, 14, 6, 64, 56, 48, 40, 32, 24, 16, 8,
		57, 49, 41, 33, 25, 17, 9, 1, 59, 51, 43, 35, 27, 19, 11, 3,
		61, 53, 45, 37, 29, 21, 13, 5, 63, 55, 47, 39, 31, 23, 15, 7,
	}
	local P = {
		16, 7, 20, 21, 29, 12, 28, 17, 1, 15, 23, 26, 5, 18, 31, 10,
		2, 8, 24, 14, 32, 27, 3, 9, 19, 13, 30, 6, 22, 11, 4, 25,
	}
	-- the eight S-boxes, each 4 rows of 16
	local S = {
		14, 4, 13, 1, 2, 15, 11, 8, 3, 10, 6, 12, 5, 9, 0, 7,
		0, 15, 7, 4, 14, 2, 13, 1, 10, 6, 12, 11, 9, 5, 3, 8,
		4, 1, 14, 8, 13, 6, 2, 11, 15, 12, 9, 7, 3, 10, 5, 0,
		15, 12, 8, 2, 4, 9, 1, 7, 5, 11, 3, 14, 10, 0, 6, 13,

		15, 1, 8, 14, 6, 11, 3, 4, 9, 7, 2, 13, 12, 0, 5, 10,
		3, 13, 4, 7, 15, 2, 8, 14, 12, 0, 1, 10, 6, 9, 11, 5,
		0, 14, 7, 11, 10, 4, 13, 1, 5, 8, 12, 6, 9, 3, 2, 15,
		13, 8, 10, 1, 3, 15, 4, 2, 11, 6, 7, 12, 0, 5, 14, 9,

		10, 0, 9, 14, 6, 3, 15, 5, 1, 13, 12, 7, 11, 4, 2, 8,
		13, 7, 0, 9, 3, 4, 6, 10, 2, 8, 5, 14, 12, 11, 15, 1,
		13, 6, 4, 9, 8, 15, 3, 0, 11, 1, 2, 12, 5, 10, 14, 7,
		1, 10, 13, 0, 6, 9, 8, 7, 4, 15, 14, 3, 11, 5, 2, 12,

		7, 13, 14, 3, 0, 6, 9, 10, 1, 2, 8, 5, 11, 12, 4, 15,
		13, 8, 11, 5, 6, 15, 0, 3, 4, 7, 2, 12, 1, 10, 14, 9,
		10, 6, 9, 0, 12, 11, 7, 13, 15, 1, 3, 14, 5, 2, 8, 4,
		3, 15, 0, 6, 10, 1, 13, 8, 9, 4, 5, 11, 12, 7, 2, 14,

		2, 12, 4, 1, 7, 10, 11, 6, 8, 5, 3, 15, 13, 0, 14, 9,
		14, 11, 2, 12, 4, 7, 13, 1, 5, 0, 15, 10, 3, 9, 8, 6,
		4, 2, 1, 11, 10, 13, 7, 8, 15, 9, 12, 5, 6, 3, 0, 14,
		11, 8, 12, 7, 1, 14, 2, 13, 6, 15, 0, 9, 10, 4, 5, 3,

		12, 1, 10, 15, 9, 2, 6, 8, 0, 13, 3, 4, 14, 7, 5, 11,
		10, 15, 4, 2, 7, 12, 9, 5, 6, 1, 13, 14, 0, 11, 3, 8,
		9, 14, 15, 5, 2, 8, 12, 3, 7, 0, 4, 10, 1, 13, 11, 6,
		4, 3, 2, 12, 9, 5, 15, 10, 11, 14, 1, 7, 6, 0, 8, 13,

		4, 11, 2, 14, 15, 0, 8, 13, 3, 12, 9, 7, 5, 10, 6, 1,
		13, 0, 11, 7, 4, 9, 1, 10, 14, 3, 5, 12, 2, 15, 8, 6,
		1, 4, 11, 13, 12, 3, 7, 14, 10, 15, 6, 8, 0, 5, 9, 2,
		6, 11, 13, 8, 1, 4, 10, 7, 9, 5, 0, 15, 14, 2, 3, 12,

		13, 2, 8, 4, 6, 15, 11, 1, 10, 9, 3, 14, 5, 0, 12, 7,
		1, 15, 13, 8, 10, 3, 7, 4, 12, 5, 6, 11, 0, 14, 9, 2,
		7, 11, 4, 1, 9, 12, 14, 2, 0, 6, 10, 13, 15, 3, 5, 8,
		2, 1, 14, 7, 4, 10, 8, 13, 15, 12, 9, 0, 3, 5, 6, 11,
	}

	-- where S output bit q (1 = highest of 32) lands after P, as a shift
	local pshift = {}
	for i = 1, 32 do
		pshift[P[i]] = 32 - i
	end
	local sp = {}
	for j = 1, 8 do
		local t = {}
		for x = 0, 63 do
			-- row: the outer two bits; column: the middle four
			local s = S[(j - 1) * 64 + ((x >> 4 & 2) | (x & 1)) * 16 + (x >> 1 & 15) + 1]
			local v = 0
			for bit = 0, 3 do
				if s >> (3 - bit) & 1 == 1 then
					v = v | 1 << pshift[(j - 1) * 4 + bit + 1]
				end
			end
			t[x + 1] = v
		end
		sp[j] = t
	end
	SP1, SP2, SP3, SP4, SP5, SP6, SP7, SP8 = sp[1], sp[2], sp[3], sp[4], sp[5], sp[6], sp[7], sp[8]

	-- input bit q goes to output bit (counted from the lowest) IPTO[q]
	local ipto = {}
	for i = 1, 64 do
		ipto[IP[i]] = 64 - i
	end
	-- the final permutation undoes IP: its input bit i goes to output bit 64 - IP[i]
	IPB, FPB = {}, {}
	for b = 0, 255 do
		local ipv, fpv = 0, 0
		for bit = 1, 8 do
			if b >> (8 - bit) & 1 == 1 then
				ipv = ipv | 1 << ipto[bit]           -- byte 1 of the input
				fpv = fpv | 1 << (64 - IP[24 + bit]) -- byte 4 of the input
			end
		end
		IPB[b + 1], FPB[b + 1] = ipv, fpv
	end
	FPSHIFT = {}
	for r = 1, 8 do
		FPSHIFT[r] = IP[32] - IP[8 * r]
	end
end
local FS1, FS2, FS3, FS4, FS5, FS6, FS7, FS8 = FPSHIFT[1], FPSHIFT[2], FPSHIFT[3],
	FPSHIFT[4], FPSHIFT[5], FPSHIFT[6], FPSHIFT[7], FPSHIFT[8]

-- One 8-byte block through the 16 rounds of `ks`; the output as a 64-bit integer.
local function block(ks, b1, b2, b3, b4, b5, b6, b7, b8)
	local v = IPB[b1 + 1] | IPB[b2 + 1] << 1 | IPB[b3 + 1] << 2 | IPB[b4 + 1] << 3
		| IPB[b5 + 1] << 4 | IPB[b6 + 1] << 5 | IPB[b7 + 1] << 6 | IPB[b8 + 1] << 7
	local l, r = v >> 32, v & 0xffffffff
	for i = 1, 32, 4 do
		local w = (r & 1) << 33 | r << 1 | r >> 31
		local e, o = w ~ ks[i], w ~ ks[i + 1]
		l = l ~ SP1[(o >> 28 & 63) + 1] ~ SP2[(e >> 24 & 63) + 1] ~ SP3[(o >> 20 & 63) + 1]
			~ SP4[(e >> 16 & 63) + 1] ~ SP5[(o >> 12 & 63) + 1] ~ SP6[(e >> 8 & 63) + 1]
			~ SP7[(o >> 4 & 63) + 1] ~ SP8[(e & 63) + 1]
		w = (l & 1) << 33 | l << 1 | l >> 31
		e, o = w ~ ks[i + 2], w ~ ks[i + 3]
		r = r ~ SP1[(o >> 28 & 63) + 1] ~ SP2[(e >> 24 & 63) + 1] ~ SP3[(o >> 20 & 63) + 1]
			~ SP4[(e >> 16 & 63) + 1] ~ SP5[(o >> 12 & 63) + 1] ~ SP6[(e >> 8 & 63) + 1]
			~ SP7[(o >> 4 & 63) + 1] ~ SP8[(e & 63) + 1]
	end
	-- the halves swap once more before the final permutation
	local u = r << 32 | l
	return FPB[(u >> 56) + 1] << FS1 | FPB[(u >> 48 & 255) + 1] << FS2
		| FPB[(u >> 40 & 255) + 1] << FS3 | FPB[(u >> 32 & 255) + 1] << FS4
		| FPB[(u >> 24 & 255) + 1] << FS5 | FPB[(u >> 16 & 255) + 1] << FS6
		| FPB[(u >> 8 & 255) + 1] << FS7 | FPB[(u & 255) + 1] << FS8
end

local last_key, last_enc, last_dec

-- The round keys of an 8-byte key, each as its even and odd 6-bit groups, in encryption
-- and decryption order.
local function schedule(key)
	if key == last_key then
		return last_enc, last_dec
	end
	local cd = permute(unpack(">i8", key), PC1, 64)
	local c, d = cd >> 28, cd & 0xfffffff
	local enc, dec = {}, {}
	for round = 1, 16 do
		local s = ROTATE[round]
		c = (c << s | c >> (28 - s)) & 0xfffffff
		d = (d << s | d >> (28 - s)) & 0xfffffff
		local k = permute(c << 28 | d, PC2, 56)
		-- group g (1..8) is k >> (48 - 6g); in the widened R it sits at 32 - 4g
		local even = (k >> 36 & 63) << 24 | (k >> 24 & 63) << 16 | (k >> 12 & 63) << 8
			| (k & 63) -- groups 2, 4, 6, 8
		local odd = (k >> 42 & 63) << 28 | (k >> 30 & 63) << 20 | (k >> 18 & 63) << 12
			| (k >> 6 & 63) << 4 -- groups 1, 3, 5, 7
		enc[2 * round - 1], enc[2 * round] = even, odd
		dec[33 - 2 * round], dec[34 - 2 * round] = even, odd
	end
	last_key, last_enc, last_dec = key, enc, dec
	return enc, dec
end

local ISO7816_4 = 0 -- skynet.crypt's padding modes: 0x80 then zeros, or PKCS#7

-- `text` encrypted with `key` (8 bytes), padded by `mode` (0 or 1), 8 to 8n + 8 bytes.
local function encode(key, text, mode)
	local ks = schedule(key)
	local n = #text
	local parts, k = {}, 0
	local i = 1
	while i <= n - 7 do
		k = k + 1
		parts[k] = pack(">i8", block(ks, byte(text, i, i + 7)))
		i = i + 8
	end
	local rest = sub(text, i)
	local tail
	if mode == ISO7816_4 then
		tail = rest .. "\x80" .. rep("\0", 7 - #rest)
	else
		local pad = 8 - #rest
		tail = rest .. rep(char(pad), pad)
	end
	parts[k + 1] = pack(">i8", block(ks, byte(tail, 1, 8)))
	return concat(parts)
end

-- How many bytes of padding end `plain` (mode 0 or 1), or nil when it is not valid.
local function padding(plain, mode)
	local n = #plain
	if mode == ISO7816_4 then
		for i = n, n - 7, -1 do
			local c = byte(plain, i)
			if c == 0x80 then
				return n - i + 1
			elseif c ~= 0 then
				return nil
			end
		end
		return nil
	end
	local pad = byte(plain, n)
	if pad < 1 or pad > 8 then
		return nil
	end
	for i = n - pad + 1, n - 1 do
		if byte(plain, i) ~= pad then
			return nil
		end
	end
	return pad
end

-- `text` (a non-empty multiple of 8 bytes) decrypted with `key`, its padding removed;
-- nil when the padding is not valid.
local function decode(key, text, mode)
	local _, ks = schedule(key)
	local parts = {}
	for i = 1, #text, 8 do
		parts[(i + 7) // 8] = pack(">i8", block(ks, byte(text, i, i + 7)))
	end
	local plain = concat(parts)
	local pad = padding(plain, mode)
	return pad and sub(plain, 1, #plain - pad)
end

return { encode = encode, decode = decode }
