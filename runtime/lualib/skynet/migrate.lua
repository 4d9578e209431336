-- Service reload in place (docs/reload.md): what a service carries into its next state.
-- Loaded by skynet.lua on first use.

return function(skynet, internal)
	local c = internal.core
	local pack, unpack = skynet.packstring, skynet.unpack
	local migrate_func

	-- f() returns what the next state of this service receives (plain data, packed).
	function skynet.migrate(f)
		migrate_func = f
	end

	-- The node asks for it when the service is reloaded; nil when there is nothing.
	function c.migrate_export()
		if migrate_func then
			return pack(migrate_func())
		end
	end

	-- In a reloaded state, calls f(...) with what the old state's migrate function returned
	-- and answers true; in a fresh service, does nothing and answers false.
	function skynet.restore(f)
		local data = c.carried
		c.carried = nil
		if data == nil then
			return false
		end
		f(unpack(data))
		return true
	end
end
