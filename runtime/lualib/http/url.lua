-- http.url: split a request target into path and query, and a query into its fields
-- (skynet's). `+` reads as a space and %XX as the byte; a repeated field becomes a list.

local url = {}

local string_char, tonumber, type = string.char, tonumber, type

local function decode(s)
	s = s:gsub("%+", " ")
	return (s:gsub("%%(%x%x)", function(hex)
		return string_char(tonumber(hex, 16))
	end))
end

function url.parse(u)
	local path, query = u:match "([^?]*)%??(.*)"
	if path then
		path = decode(path)
	end
	return path, query
end

function url.parse_query(q)
	local r = {}
	for k, v in q:gmatch "(.-)=([^&]*)&?" do
		local dk, dv = decode(k), decode(v)
		local old = r[dk]
		if old == nil then
			r[dk] = dv
		elseif type(old) == "table" then
			old[#old + 1] = dv
		else
			r[dk] = { old, dv }
		end
	end
	return r
end

return url
