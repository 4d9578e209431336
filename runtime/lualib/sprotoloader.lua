-- sprotoloader: schemas saved once and loaded by any service of the node.
--
-- skynet keeps them in a C array shared by all services (16 slots). skykernel's
-- services are separate Lua states, so the node holds the schema bytes of each slot
-- (sproto.core's saveproto/loadproto use the SPROTO bridge command) and a service that
-- loads a slot builds its own schema object from them, once per saved schema.

local parser = require "sprotoparser"
local core = require "sproto.core"
local sproto = require "sproto"

local loader = {}

-- save(bin, index): a binary schema (sprotoparser's output) into slot index (0-15,
-- default 0). A schema that does not load empties the slot, as in skynet.
function loader.save(bin, index)
	core.saveproto(core.newproto(bin), index)
end

-- register(filename, index): the same from a schema text file.
function loader.register(filename, index)
	local f = assert(io.open(filename), "Can't open sproto file")
	local text = f:read "a"
	f:close()
	loader.save(parser.parse(text), index)
end

function loader.load(index)
	local sp = core.loadproto(index)
	-- the slot owns the schema: no finalizer on this wrapper
	return sproto.sharenew(sp)
end

return loader
