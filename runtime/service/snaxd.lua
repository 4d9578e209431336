-- snaxd: runs one snax service file (`snaxd NAME`): system methods init/exit/hotfix/
-- profile, accept.* (posts) and response.* (requests), dispatched by method id.
local skynet = require "skynet"
local snax_interface = require "snax.interface"
local snax = require "skynet.snax"
local hotfix = require "snax.hotfix"
local profile = require "skynet.profile"
local traceback = debug.traceback

local snax_name = tostring(...)
local func, pattern = snax_interface(snax_name, _ENV)
hotfix.funcs = func -- what a notebook's %%hotfix patches (docs/reload.md)
SERVICE_PATH = pattern:match("^(.-)[^/]*$") or "./"
SERVICE_NAME = snax_name

local profile_table = {}

local function update_stat(name, ti)
	local t = profile_table[name]
	if t == nil then
		t = { count = 0, time = 0 }
		profile_table[name] = t
	end
	t.count = t.count + 1
	t.time = t.time + ti
end

local function return_f(f, ...)
	return skynet.ret(skynet.pack(f(...)))
end

-- Each method's count and CPU time (skynet.profile: the time it ran, not the time it
-- waited), what `snax.profile_info` and the debug INFO command report.
local function timing(method, ...)
	local ok, err
	profile.start()
	if method[2] == "accept" then
		ok, err = xpcall(method[4], traceback, ...)
	else
		ok, err = xpcall(return_f, traceback, method[4], ...)
	end
	update_stat(method[3], profile.stop())
	assert(ok, err)
end

skynet.start(function()
	local init = false
	local function dispatcher(session, source, id, ...)
		local method = func[id]
		if method == nil then
			error(string.format("snax %s: no method %s", snax_name, tostring(id)))
		end
		if method[2] == "system" then
			local command = method[3]
			if command == "hotfix" then
				skynet.ret(skynet.pack(hotfix(func, ...)))
			elseif command == "profile" then
				skynet.ret(skynet.pack(profile_table))
			elseif command == "init" then
				assert(not init, "Already init")
				local initfunc = method[4] or function() end
				initfunc(...)
				skynet.ret()
				skynet.info_func(function()
					return profile_table
				end)
				init = true
			else
				assert(init, "Never init")
				assert(command == "exit")
				local exitfunc = method[4] or function() end
				exitfunc(...)
				skynet.ret()
				init = false
				skynet.exit()
			end
		else
			assert(init, "Init first")
			timing(method, ...)
		end
	end
	skynet.dispatch("snax", dispatcher)
	function snax.enablecluster()
		skynet.dispatch("lua", dispatcher)
	end
end)
