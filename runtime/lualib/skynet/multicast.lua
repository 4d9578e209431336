-- skynet.multicast: publish to every service subscribed to a channel (multicastd keeps
-- the channels).
--
--   local ch = multicast.new { channel = id, dispatch = function(ch, source, ...) end }
--   ch:subscribe(); ch:publish(...); ch:unsubscribe(); ch:delete()
--
-- skynet publishes one C copy that every subscriber reads; here the packed message is
-- one string that multicastd redirects to each subscriber, which unpacks its own copy.
local skynet = require "skynet"

local assert, setmetatable, pcall = assert, setmetatable, pcall
local string_format = string.format

local multicastd
local multicast = {}
local dispatch = {} -- channel id -> the subscribed channel object

local chan = {}
local chan_meta = {
	__index = chan,
	__gc = function(self)
		-- a finalizer never sends by itself (it may run inside a send): a fork does
		if self.__subscribe then
			skynet.fork(chan.unsubscribe, self)
		end
	end,
	__tostring = function(self)
		return string_format("[Multicast:%x]", self.channel)
	end,
}

-- new{ channel = id (nil: a new channel), pack, unpack, dispatch }
function multicast.new(conf)
	assert(multicastd, "Init first")
	local self = {}
	conf = conf or self
	self.channel = conf.channel
	if self.channel == nil then
		self.channel = skynet.call(multicastd, "lua", "NEW")
	end
	self.__pack = conf.pack or skynet.pack
	self.__unpack = conf.unpack or skynet.unpack
	self.__dispatch = conf.dispatch
	return setmetatable(self, chan_meta)
end

function chan:delete()
	local c = assert(self.channel)
	skynet.send(multicastd, "lua", "DEL", c)
	self.channel = nil
	self.__subscribe = nil
end

function chan:publish(...)
	local c = assert(self.channel)
	skynet.call(multicastd, "lua", "PUB", c, (self.__pack(...)))
end

function chan:subscribe()
	local c = assert(self.channel)
	if self.__subscribe then
		return
	end
	skynet.call(multicastd, "lua", "SUB", c)
	self.__subscribe = true
	dispatch[c] = self
end

function chan:unsubscribe()
	if not self.__subscribe then
		return
	end
	local c = assert(self.channel)
	skynet.send(multicastd, "lua", "USUB", c)
	self.__subscribe = nil
	dispatch[c] = nil
end

-- A published message: the channel id comes as the session, and needs no answer.
local function dispatch_subscribe(channel, source, _, msg, sz)
	skynet.ignoreret()
	local self = dispatch[channel]
	if self and self.__subscribe then
		local ok, err = pcall(self.__dispatch, self, source, self.__unpack(msg, sz))
		assert(ok, err)
	end -- unsubscribed since it was sent: dropped
end

skynet.init(function()
	multicastd = skynet.uniqueservice "multicastd"
	skynet.register_protocol {
		name = "multicast",
		id = skynet.PTYPE_MULTICAST,
		unpack = function(msg, sz)
			return msg, msg, sz or #msg
		end,
		dispatch = dispatch_subscribe,
	}
end)

return multicast
