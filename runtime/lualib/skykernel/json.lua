-- skykernel.json: a small JSON encoder (no decoder) for introspection replies.
--
-- Standard Lua only, so it can be injected into any skynet node. A table is an array
-- when its keys are exactly 1..n (an empty table is an array); otherwise an object whose
-- keys go through tostring. NaN and infinities become null; cycles raise an error.

local type, tostring, pairs, next, rawlen = type, tostring, pairs, next, rawlen
local string_format, string_gsub, table_concat = string.format, string.gsub, table.concat
local math_type, huge = math.type, math.huge

local json = {}

local ESCAPES = { ['"'] = '\\"', ["\\"] = "\\\\", ["\b"] = "\\b", ["\f"] = "\\f",
	["\n"] = "\\n", ["\r"] = "\\r", ["\t"] = "\\t" }

local function escape(c)
	return ESCAPES[c] or string_format("\\u%04x", c:byte())
end

local function quote(s)
	return '"' .. string_gsub(s, '[%c"\\]', escape) .. '"'
end

local encode

local function array_length(t)
	local n = rawlen(t)
	local count = 0
	for k in next, t do
		if math_type(k) ~= "integer" or k < 1 or k > n then
			return nil
		end
		count = count + 1
	end
	return count == n and n or nil
end

function encode(v, out, seen)
	local t = type(v)
	if t == "string" then
		out[#out + 1] = quote(v)
	elseif t == "number" then
		if v ~= v or v == huge or v == -huge then
			out[#out + 1] = "null"
		elseif math_type(v) == "integer" then
			out[#out + 1] = tostring(v)
		else
			out[#out + 1] = string_format("%.17g", v)
		end
	elseif t == "boolean" then
		out[#out + 1] = v and "true" or "false"
	elseif t == "table" then
		if seen[v] then
			error("json: cycle in value")
		end
		seen[v] = true
		local n = array_length(v)
		if n then
			out[#out + 1] = "["
			for i = 1, n do
				if i > 1 then
					out[#out + 1] = ","
				end
				encode(v[i], out, seen)
			end
			out[#out + 1] = "]"
		else
			out[#out + 1] = "{"
			local first = true
			for k, x in next, v do
				if not first then
					out[#out + 1] = ","
				end
				first = false
				out[#out + 1] = quote(tostring(k))
				out[#out + 1] = ":"
				encode(x, out, seen)
			end
			out[#out + 1] = "}"
		end
		seen[v] = nil
	else
		out[#out + 1] = "null"
	end
end

-- JSON text of v (nil, booleans, numbers, strings and tables of them).
function json.encode(v)
	local out = {}
	encode(v, out, {})
	return table_concat(out)
end

return json
