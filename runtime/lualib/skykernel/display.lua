-- skykernel.display: rich output for a notebook (HTML, Markdown, JSON, images, any
-- mimebundle), as Jupyter's display_data.
--
-- In a cell, `display` is already in scope and its output takes its place among what
-- the cell prints. Anywhere else (a service's handler, a timer) `require "skykernel.display"`
-- sends each display to the notebook kernel's own service, `.jupyter`, which shows it
-- under the cell that ran last, as it does log lines. A node without a kernel (`skykernel
-- run`, a real skynet node) writes the text form to the log instead.
--
--   display(v, ...)            each value: its text form (a mimebundle table as is)
--   display.html(s)            text/html           display.markdown(s)  text/markdown
--   display.latex(s)           text/latex          display.svg(s)       image/svg+xml
--   display.json(v)            application/json (v: a table, encoded here)
--   display.image(bytes[, mime])  png, jpeg or gif bytes (the type is read from them)
--   display.mimetype(mime, data)  one type          display.bundle(t)    {mime = data, ...}
--
-- A bundle always gets a text/plain form, for front ends that show nothing else.

local type, tostring, pairs, select, error = type, tostring, pairs, select, error
local next, getmetatable, setmetatable = next, getmetatable, setmetatable
local string_format = string.format

local M = {}

local BINARY = { ["image/png"] = true, ["image/jpeg"] = true, ["image/gif"] = true }

local function text_of(v)
	if type(v) == "string" then
		return v
	end
	return require("skykernel.pretty").format(v)
end

local function is_mimetype(k)
	return type(k) == "string" and k:find("^[%w%-%.+]+/[%w%-%.+]+$") ~= nil
end

-- A mimebundle's JSON, {"data": {...}, "metadata": {...}} (binary types base64-encoded),
-- and its text/plain form.
local function encode(data, metadata)
	local json = require "skykernel.json"
	local out = {}
	for mime, value in pairs(data) do
		if not is_mimetype(mime) then
			error(string_format("display: %s is not a MIME type (like text/html)", tostring(mime)), 3)
		end
		if BINARY[mime] then
			if type(value) ~= "string" then
				error("display: " .. mime .. " wants the image's bytes (a string)", 3)
			end
			value = require("skynet.crypt").base64encode(value)
		elseif mime:find("json$") then
			-- a table is encoded here; a string is taken as JSON text (the kernel reads it)
		elseif type(value) ~= "string" then
			value = text_of(value)
		end
		out[mime] = value
	end
	if out["text/plain"] == nil then
		local kinds = {}
		for mime in pairs(out) do
			kinds[#kinds + 1] = mime
		end
		table.sort(kinds)
		out["text/plain"] = "<" .. table.concat(kinds, ", ") .. ">"
	end
	return json.encode({ data = out, metadata = metadata or {} }), out["text/plain"]
end

local IMAGE_TYPES = {
	{ "^\137PNG\r\n\26\n", "image/png" },
	{ "^\255\216\255", "image/jpeg" },
	{ "^GIF8[79]a", "image/gif" },
}

local function image_type(bytes)
	for _, t in pairs(IMAGE_TYPES) do
		if bytes:find(t[1]) then
			return t[2]
		end
	end
	if bytes:find("^%s*<%?xml") or bytes:find("^%s*<svg") then
		return "image/svg+xml"
	end
	return nil
end

-- A display object whose bundles go to emit(json, plain). The module is one of these.
function M.new(emit)
	local d = {}

	function d.bundle(data, metadata)
		if type(data) ~= "table" then
			error("display.bundle: a table of MIME type = data", 2)
		end
		emit(encode(data, metadata))
	end

	function d.mimetype(mime, data)
		d.bundle({ [mime] = data })
	end

	function d.html(s)
		d.bundle({ ["text/html"] = tostring(s), ["text/plain"] = "<HTML>" })
	end

	function d.markdown(s)
		d.bundle({ ["text/markdown"] = tostring(s), ["text/plain"] = tostring(s) })
	end

	function d.latex(s)
		d.bundle({ ["text/latex"] = tostring(s), ["text/plain"] = tostring(s) })
	end

	function d.svg(s)
		d.bundle({ ["image/svg+xml"] = tostring(s), ["text/plain"] = "<SVG image>" })
	end

	function d.json(v)
		d.bundle({ ["application/json"] = v, ["text/plain"] = text_of(v) })
	end

	function d.image(bytes, mime)
		if type(bytes) ~= "string" then
			error("display.image: the image's bytes (a string), e.g. io.open(f, 'rb'):read('a')", 2)
		end
		mime = mime or image_type(bytes)
		if mime == nil then
			error("display.image: not a png, jpeg, gif or svg image (pass its MIME type)", 2)
		end
		if mime == "image/svg+xml" then
			return d.svg(bytes)
		end
		d.bundle({ [mime] = bytes, ["text/plain"] = string_format("<%s image, %d bytes>", mime, #bytes) })
	end

	local function show(_, ...)
		for i = 1, select("#", ...) do
			local v = select(i, ...)
			local bundle = nil
			if type(v) == "table" and getmetatable(v) == nil then
				local k = next(v)
				if k ~= nil and is_mimetype(k) then
					bundle = v
				end
			end
			d.bundle(bundle or { ["text/plain"] = text_of(v) })
		end
	end

	return setmetatable(d, { __call = show })
end

-- Outside a cell: to the kernel's service, or the log where there is no kernel.
local function to_kernel(json, plain)
	local skynet = require "skynet"
	local kernel = skynet.localname(".jupyter")
	if kernel then
		skynet.send(kernel, "lua", "display", json)
	else
		skynet.error("display: " .. plain)
	end
end

local module = M.new(to_kernel)
module.new = M.new
module.encode = encode
return module
