-- sproto: skynet's lualib/sproto.lua API over skykernel's pure-Lua core (sproto.core).
--
-- A sproto object wraps a schema; a host object reads packets for one side of an RPC
-- link and its attach() builds requests for the other side. Packets are a `package`
-- header struct (type = protocol tag, session, ud) followed by the request or response
-- struct, the two 0-packed together.
--
-- Calls into the core are not tail calls, so an error the core raises names the line
-- here, as skynet's (C errors report the Lua line that called them) do.

local core = require "sproto.core"
local assert, setmetatable, tonumber, error = assert, setmetatable, tonumber, error

local c_encode, c_decode, c_pack, c_unpack, c_default, c_protocol, c_querytype =
	core.encode, core.decode, core.pack, core.unpack, core.default, core.protocol, core.querytype
local RESPONSE_NIL = core.RESPONSE_NIL

local sproto = {}
local host = {}

local weak_mt = { __mode = "kv" }
local sproto_mt = { __index = sproto }
local sproto_nogc = { __index = sproto }
local host_mt = { __index = host }

function sproto_mt:__gc()
	core.deleteproto(self.__cobj)
end

local function wrap(cobj, mt)
	return setmetatable({
		__cobj = cobj,
		__tcache = setmetatable({}, weak_mt),
		__pcache = setmetatable({}, weak_mt),
	}, mt)
end

function sproto.new(bin)
	local cobj = assert(core.newproto(bin))
	return wrap(cobj, sproto_mt)
end

-- For a schema object another owner keeps (sprotoloader): no finalizer.
function sproto.sharenew(cobj)
	return wrap(cobj, sproto_nogc)
end

function sproto.parse(ptext)
	local parser = require "sprotoparser"
	local pbin = parser.parse(ptext)
	return sproto.new(pbin)
end

function sproto:host(packagename)
	packagename = packagename or "package"
	local obj = {
		__proto = self,
		__package = assert(c_querytype(self.__cobj, packagename), "type package not found"),
		__session = {},
	}
	return setmetatable(obj, host_mt)
end

local function querytype(self, typename)
	local st = self.__tcache[typename]
	if not st then
		st = assert(c_querytype(self.__cobj, typename), "type not found")
		self.__tcache[typename] = st
	end
	return st
end

function sproto:exist_type(typename)
	if self.__tcache[typename] then
		return true
	end
	return c_querytype(self.__cobj, typename) ~= nil
end

function sproto:encode(typename, tbl)
	local st = querytype(self, typename)
	local s = c_encode(st, tbl)
	return s
end

function sproto:decode(typename, ...)
	local st = querytype(self, typename)
	local t, sz = c_decode(st, ...)
	return t, sz
end

function sproto:pencode(typename, tbl)
	local st = querytype(self, typename)
	local s = c_pack(c_encode(st, tbl))
	return s
end

function sproto:pdecode(typename, ...)
	local st = querytype(self, typename)
	local t, sz = c_decode(st, c_unpack(...))
	return t, sz
end

-- A protocol by name or by tag; cached under both.
local function queryproto(self, pname)
	local p = self.__pcache[pname]
	if not p then
		local tag, req, resp = c_protocol(self.__cobj, pname)
		assert(tag, pname .. " not found")
		if tonumber(pname) then
			pname, tag = tag, pname
		end
		p = {
			request = req,
			response = resp,
			name = pname,
			tag = tag,
		}
		self.__pcache[pname] = p
		self.__pcache[tag] = p
	end
	return p
end
sproto.queryproto = queryproto

function sproto:exist_proto(pname)
	if self.__pcache[pname] then
		return true
	end
	return c_protocol(self.__cobj, pname) ~= nil
end

function sproto:request_encode(protoname, tbl)
	local p = queryproto(self, protoname)
	if p.request then
		local s = c_encode(p.request, tbl)
		return s, p.tag
	end
	return "", p.tag
end

function sproto:response_encode(protoname, tbl)
	local p = queryproto(self, protoname)
	if p.response then
		local s = c_encode(p.response, tbl)
		return s
	end
	return ""
end

function sproto:request_decode(protoname, ...)
	local p = queryproto(self, protoname)
	if p.request then
		local t = c_decode(p.request, ...)
		return t, p.name
	end
	return nil, p.name
end

function sproto:response_decode(protoname, ...)
	local p = queryproto(self, protoname)
	local response = p.response
	if response and response ~= RESPONSE_NIL then -- `response nil` decodes to nothing
		local t, sz = c_decode(response, ...)
		return t, sz
	end
end

sproto.pack = c_pack
sproto.unpack = c_unpack

-- default(typename) or default(protoname, "REQUEST" | "RESPONSE")
function sproto:default(typename, which)
	if which == nil then
		local t = c_default(querytype(self, typename))
		return t
	end
	local p = queryproto(self, typename)
	if which == "REQUEST" then
		if p.request then
			local t = c_default(p.request)
			return t
		end
	elseif which == "RESPONSE" then
		if p.response then
			local t = c_default(p.response)
			return t
		end
	else
		error "Invalid type"
	end
end

-- One header table for every host: each use sets all three fields first.
local header_tmp = {}

local function gen_response(self, response, session)
	return function(args, ud)
		header_tmp.type = nil
		header_tmp.session = session
		header_tmp.ud = ud
		local header = c_encode(self.__package, header_tmp)
		if response then
			local content = c_encode(response, args)
			local s = c_pack(header .. content)
			return s
		end
		local s = c_pack(header)
		return s
	end
end

-- dispatch(packet): "REQUEST", name, args, response function (if a session), ud
--                or "RESPONSE", session, args, ud
function host:dispatch(...)
	local bin = c_unpack(...)
	header_tmp.type = nil
	header_tmp.session = nil
	header_tmp.ud = nil
	local header, size = c_decode(self.__package, bin, header_tmp)
	local content = bin:sub(size + 1)
	if header.type then
		local proto = queryproto(self.__proto, header.type)
		local result
		if proto.request then
			result = c_decode(proto.request, content)
		end
		if header_tmp.session then
			return "REQUEST", proto.name, result,
				gen_response(self, proto.response, header_tmp.session), header.ud
		end
		return "REQUEST", proto.name, result, nil, header.ud
	end
	local session = assert(header_tmp.session, "session not found")
	local response = assert(self.__session[session], "Unknown session")
	self.__session[session] = nil
	if response == true then
		return "RESPONSE", session, nil, header.ud
	end
	local result = c_decode(response, content)
	return "RESPONSE", session, result, header.ud
end

-- attach(sp): a function(name, args, session, ud) that builds a request packet and, with
-- a session, remembers which response type to expect.
function host:attach(sp)
	return function(name, args, session, ud)
		local proto = queryproto(sp, name)
		header_tmp.type = proto.tag
		header_tmp.session = session
		header_tmp.ud = ud
		local header = c_encode(self.__package, header_tmp)
		if session then
			self.__session[session] = proto.response or true
		end
		if proto.request then
			local content = c_encode(proto.request, args)
			local s = c_pack(header .. content)
			return s
		end
		local s = c_pack(header)
		return s
	end
end

return sproto
