-- lpeg.dump: lpeg.ptree and lpeg.pcode. LPeg's C prints its tree and virtual machine code
-- only in a debugging build; this LPeg prints its own tree, and the Lua source a pattern
-- compiles to. Both go through `print`.

return function(I)

I.sources[debug.getinfo(1, "S").source] = true

local format, concat, char = string.format, table.concat, string.char
local tostring, type, print, ipairs = tostring, type, print, ipairs

local M = {}

local function setstring(w)
	local parts = {}
	local c = 0
	while c <= 255 do
		if (w[(c >> 6) + 1] >> (c & 63)) & 1 == 1 then
			local a = c
			while c < 255 and (w[((c + 1) >> 6) + 1] >> ((c + 1) & 63)) & 1 == 1 do
				c = c + 1
			end
			local function show(x)
				if x > 32 and x < 127 then
					return char(x)
				end
				return format("\\%d", x)
			end
			parts[#parts + 1] = a == c and show(a) or show(a) .. "-" .. show(c)
		end
		c = c + 1
	end
	return "[" .. concat(parts) .. "]"
end

local function value(v)
	if type(v) == "string" then
		return format("%q", v)
	end
	return tostring(v)
end

local function tree(t, indent, lines, rulenames)
	local tag = t.tag
	local pad = ("  "):rep(indent)
	local line
	if tag == "str" then
		line = "str " .. format("%q", t.s)
	elseif tag == "set" then
		line = "set " .. setstring(t)
	elseif tag == "any" then
		line = "any " .. t.n
	elseif tag == "utfr" then
		line = format("utfR %d %d", t.from, t.to)
	elseif tag == "rep" then
		line = format("rep (at least %d)", t.n)
	elseif tag == "opt" then
		line = format("rep (at most %d)", t.n)
	elseif tag == "behind" then
		line = format("behind %d", t.n)
	elseif tag == "cap" then
		line = "capture " .. t.kind
		if t.kind == "const" then
			local vals = {}
			for k = 1, t.nv do
				vals[k] = value(t.vals[k])
			end
			line = line .. " " .. concat(vals, ", ")
		elseif t.v ~= nil then
			line = line .. " " .. value(t.v)
		end
	elseif tag == "cmt" then
		line = "match-time capture " .. tostring(t.f)
	elseif tag == "open" then
		line = "open call " .. value(t.key)
	elseif tag == "call" then
		line = "call " .. value(t.rule.key)
	else
		line = tag
	end
	lines[#lines + 1] = pad .. line
	if tag == "grammar" then
		for _, rule in ipairs(t.rules) do
			lines[#lines + 1] = pad .. "  rule " .. value(rule.key) .. (rule.used and "" or " (unused)")
			tree(rule.body, indent + 2, lines, rulenames)
		end
		return
	end
	if tag == "cap" and t.p.tag == "true" then
		return
	end
	if t.p then
		tree(t.p, indent + 1, lines, rulenames)
	end
	if t.q then
		tree(t.q, indent + 1, lines, rulenames)
	end
end

function M.ptree(t)
	local lines = {}
	tree(t, 0, lines, {})
	print(concat(lines, "\n"))
end

function M.pcode(p, codegen)
	print(codegen.source(p))
end

return M

end
