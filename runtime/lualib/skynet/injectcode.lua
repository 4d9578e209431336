-- skynet.injectcode: run Lua source as if it were written inside a function that is
-- running (or suspended) right now, seeing its locals and upvalues by name.
--
--   injectcode(source [, co [, level [, ext]]]) -> pcall's results
--
-- `co` is the coroutine (the running one by default) and `level` the stack level in it
-- (0: in the running coroutine, the function calling injectcode; in a suspended one, the
-- function it stopped in). The source sees that function's locals (copies, written back
-- once it returns) and its upvalues (the variables themselves), the entries of `ext` as
-- extra upvalues, and the function's varargs as `...`. skynet's remote debugger
-- evaluates what you type this way.

local debug, type, load, pairs = debug, type, load, pairs
local getinfo, getlocal, setlocal = debug.getinfo, debug.getlocal, debug.setlocal
local getupvalue, setupvalue, upvaluejoin = debug.getupvalue, debug.setupvalue, debug.upvaluejoin
local coroutine_running = coroutine.running
local table_concat, table_pack, table_unpack = table.concat, table.pack, table.unpack
local pcall = pcall

-- The names become locals of a wrapper chunk, so upvalues of the inner function that runs
-- the source; its second function reads the locals back.
local function wrapper_source(names, local_slots, source)
	return "local " .. table_concat(names, ",") .. "\nreturn function(...)\n" .. source ..
		"\nend,\nfunction()\nreturn {" .. table_concat(local_slots) .. "}\nend\n"
end

return function(source, co, level, ext)
	local here = coroutine_running()
	co = co or here
	level = level or 0
	-- In the running coroutine, level 0 is this function's caller (2 from here).
	local at = co == here and level + 2 or level
	local info = co == here and getinfo(at, "f") or getinfo(co, at, "f")
	if info == nil then
		return false, "Invalid level"
	end
	local f = info.func
	local names, local_slots, local_value, upvalue_index = {}, {}, {}, {}
	if ext then
		for name in pairs(ext) do
			names[#names + 1] = name
		end
	end
	local i = 1
	while true do
		local name, value
		if co == here then
			name, value = getlocal(at, i)
		else
			name, value = getlocal(co, at, i)
		end
		if name == nil then
			break
		end
		if name:byte() ~= 40 then -- "(": a temporary, not a variable
			names[#names + 1] = name
			local_slots[#local_slots + 1] = "[" .. i .. "]=" .. name .. ","
			local_value[name] = value
		end
		i = i + 1
	end
	i = 1
	while true do
		local name = getupvalue(f, i)
		if name == nil then
			break
		end
		upvalue_index[name] = i
		names[#names + 1] = name
		i = i + 1
	end
	local varargs = {}
	i = 1
	while true do
		local name, value
		if co == here then
			name, value = getlocal(at, -i)
		else
			name, value = getlocal(co, at, -i)
		end
		if name == nil then
			break
		end
		varargs[i] = value
		i = i + 1
	end
	local chunk, err = load(wrapper_source(names, local_slots, source), "=(debug)")
	if chunk == nil then
		return false, err
	end
	local func, update = chunk()
	i = 1
	while true do
		local name = getupvalue(func, i)
		if name == nil then
			break
		end
		if ext and ext[name] ~= nil then
			setupvalue(func, i, ext[name])
		end
		if local_value[name] ~= nil then
			setupvalue(func, i, local_value[name])
		end
		local up = upvalue_index[name]
		if up then
			upvaluejoin(func, i, f, up)
		end
		i = i + 1
	end
	local r = table_pack(pcall(func, table_unpack(varargs, 1, #varargs)))
	if not r[1] then
		return false, r[2]
	end
	for slot, value in pairs(update()) do
		if co == here then
			setlocal(at, slot, value)
		else
			setlocal(co, at, slot, value)
		end
	end
	return table_unpack(r, 1, r.n)
end
