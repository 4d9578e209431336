-- skykernel.upvalue_index: the live upvalues of a service's functions, by name.
--
-- Hot fixes join a patch's upvalues to live ones of the same name; that is only safe
-- when the name means one variable. Both snax.hotfix and module reload ask this index,
-- which counts, per name, how many distinct variables (debug.upvalueid) carry it.

local type, next = type, next
local getupvalue, upvalueid = debug.getupvalue, debug.upvalueid

local M = {}

-- name -> { func, index, id, value, ambiguous = count of variables when more than one }.
-- `follow(f)` says whether to walk into a function found as an upvalue value (default:
-- always); tables among the roots are walked through their values.
function M.build(roots, follow)
	local index, seen = {}, {}
	local walk_table
	local function walk_func(f)
		if seen[f] then
			return
		end
		seen[f] = true
		local i = 1
		while true do
			local name, value = getupvalue(f, i)
			if name == nil then
				return
			end
			local id = upvalueid(f, i)
			local known = index[name]
			if known == nil then
				index[name] = { func = f, index = i, id = id, value = value }
			elseif known.id ~= id then
				known.ambiguous = (known.ambiguous or 1) + 1
			end
			if type(value) == "function" and (follow == nil or follow(value)) then
				walk_func(value)
			end
			i = i + 1
		end
	end
	function walk_table(t)
		if seen[t] then
			return
		end
		seen[t] = true
		for _, v in next, t do
			local tv = type(v)
			if tv == "function" then
				walk_func(v)
			elseif tv == "table" then
				walk_table(v)
			end
		end
	end
	for _, root in next, roots do
		if type(root) == "function" then
			walk_func(root)
		elseif type(root) == "table" then
			walk_table(root)
		end
	end
	return index
end

return M
