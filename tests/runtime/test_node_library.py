"""The service library beyond the core: queue, coroutine, service, datacenter, env, loader."""

from __future__ import annotations

from conftest import Tree

MAIN = 'local skynet = require "skynet"\n'

ECHO = MAIN + """
skynet.start(function()
    skynet.dispatch("lua", function(session, source, cmd, ti, ...)
        if ti then skynet.sleep(ti) end
        skynet.ret(skynet.pack(cmd, ...))
    end)
end)
"""


def test_queue_is_a_fifo_critical_section_and_reentrant(tree: Tree) -> None:
    tree.write({"service/main.lua": MAIN + """
local queue = require "skynet.queue"
skynet.start(function()
    local cs = queue()
    local done = 0
    for i = 1, 5 do
        skynet.fork(function()
            cs(function()
                skynet.error("enter", i)
                skynet.sleep(6 - i)  -- later ones sleep less: only the queue keeps order
                cs(function() skynet.error("nested", i) end)
                skynet.error("leave", i)
            end)
            done = done + 1
            if done == 5 then skynet.error("END") end
        end)
    end
end)
"""})
    lines = [ln for ln in tree.run() if ln.startswith(("enter", "leave", "nested"))]
    expected = []
    for i in range(1, 6):
        expected += [f"enter {i}", f"nested {i}", f"leave {i}"]
    assert lines == expected


def test_queue_releases_on_error(tree: Tree) -> None:
    tree.write({"service/main.lua": MAIN + """
local queue = require "skynet.queue"
skynet.start(function()
    local cs = queue()
    local ok, err = pcall(cs, function() error("inside") end)
    skynet.error("first", ok, (tostring(err):match("inside")))
    skynet.error("second", cs(function() return "entered" end))
    skynet.error("END")
end)
"""})
    lines = tree.run()
    assert "first false inside" in lines
    assert "second entered" in lines


def test_skynet_coroutine_blocks_inside_and_yields_to_resumer(tree: Tree) -> None:
    tree.write({"service/main.lua": MAIN + """
local co = require "skynet.coroutine"
skynet.start(function()
    local echo = skynet.newservice("echo")
    local inner = co.create(function(a)
        local r = skynet.call(echo, "lua", "pong", 3)
        local b = co.yield(a .. "+" .. r)
        skynet.sleep(1)
        return "last " .. b
    end)
    skynet.fork(function()
        skynet.sleep(1)
        skynet.error("status while calling", co.status(inner))
    end)
    skynet.error("resume 1", co.resume(inner, "x"))
    skynet.error("status", co.status(inner))
    skynet.error("resume 2", co.resume(inner, "y"))
    skynet.error("status", co.status(inner))
    skynet.error("plain", co.resume(coroutine.create(function() end)))
    local gen = co.wrap(function() for i = 1, 3 do co.yield(i) end end)
    skynet.error("wrap", gen(), gen(), gen())
    skynet.error("END")
end)
""", "service/echo.lua": ECHO})
    lines = tree.run()
    assert "status while calling blocked" in lines
    assert "resume 1 true x+pong" in lines
    assert "status suspended" in lines
    assert "resume 2 true last y" in lines
    assert "status dead" in lines
    assert "plain false cannot resume none skynet coroutine" in lines
    assert "wrap 1 2 3" in lines


def test_skynet_service_new_runs_a_dumped_function_once(tree: Tree) -> None:
    tree.write({"service/main.lua": MAIN + """
local service = require "skynet.service"
skynet.start(function()
    local function body(greeting)
        local skynet = require "skynet"
        skynet.start(function()
            skynet.error("cell started", SERVICE_NAME, greeting)
            skynet.dispatch("lua", function(_, _, x) skynet.ret(skynet.pack(greeting .. x)) end)
        end)
    end
    local a = service.new("greeter", body, "hello")
    local b = service.new("greeter", body, "ignored")
    skynet.error("same", a == b)
    skynet.error("reply", skynet.call(a, "lua", " world"))
    skynet.error("query", service.query("greeter") == a)
    skynet.error("END")
end)
"""})
    lines = tree.run()
    assert lines.count("cell started service_cell hello") == 1
    assert "same true" in lines
    assert "reply hello world" in lines
    assert "query true" in lines


def test_directory_service_requires_sibling_by_bare_name(tree: Tree) -> None:
    tree.write({
        "service/main.lua": MAIN + """
skynet.start(function()
    local foo = skynet.newservice("foo")
    skynet.error("foo says", skynet.call(foo, "lua", "hi"))
    skynet.error("END")
end)
""",
        "service/foo/init.lua": MAIN + """
local bar = require "bar"
skynet.start(function()
    skynet.error("foo", SERVICE_NAME, SERVICE_PATH)
    skynet.dispatch("lua", function() skynet.ret(skynet.pack(bar.answer())) end)
end)
""",
        "service/foo/bar.lua": "return { answer = function() return 'bar here' end }\n",
    })
    lines = tree.run()
    assert "foo says bar here" in lines
    assert "foo foo ./service/foo/" in lines


def test_service_name_and_path(tree: Tree) -> None:
    tree.write({"service/main.lua": MAIN + """
local args = table.pack(...)
skynet.start(function()
    skynet.error("I am", SERVICE_NAME, SERVICE_PATH, table.unpack(args, 1, args.n))
    skynet.error("END")
end)
"""})
    assert "I am main ./service/ a b" in tree.run("main a b")


def test_datacenter_wait_then_set(tree: Tree) -> None:
    tree.write({"service/main.lua": MAIN + """
local datacenter = require "skynet.datacenter"
skynet.start(function()
    skynet.fork(function()
        skynet.error("waited", datacenter.wait("cfg", "port"))
    end)
    skynet.sleep(2)
    datacenter.set("cfg", "port", 8001)
    skynet.error("get", datacenter.get("cfg", "port"), tostring((datacenter.get("nope"))))
    skynet.sleep(2)
    skynet.error("END")
end)
"""})
    lines = tree.run()
    assert "waited 8001" in lines
    assert "get 8001 nil" in lines


def test_rarer_api_loads_on_first_use_and_a_service_can_still_override_it(tree: Tree) -> None:
    tree.write({"service/main.lua": MAIN + """
skynet.now = function() return 7 end  -- set before first use: the service's own wins
skynet.start(function()
    local loaded = tostring(package.loaded["skynet.env"])
    skynet.error("before", loaded, tostring(rawget(skynet, "getenv")))
    skynet.error("getenv", skynet.getenv "custom", type(package.loaded["skynet.env"]))
    skynet.error("now", skynet.now(), tostring(package.loaded["skynet.time"]))
    skynet.error("absent", tostring(skynet.nosuch), tostring(skynet[1]), tostring(skynet["a b"]))
    -- the lazily loaded parts write skynet.lua's own locals
    local function mine() end
    local prev = skynet.dispatch_unknown_request(mine)
    skynet.error("unknown", type(prev), skynet.dispatch_unknown_request(prev) == mine)
    skynet.yield()
    skynet.error("END")
end)
"""})
    lines = tree.run(config='custom = "yes"\n')
    assert "before nil nil" in lines
    assert "getenv yes function" in lines  # the module (its installer) is loaded now
    assert "now 7 nil" in lines
    assert "absent nil nil nil" in lines
    assert "unknown function true" in lines


def test_a_burst_of_sends_is_not_held_after_it_left(tree: Tree) -> None:
    tree.write({
        "service/sink.lua": MAIN + """
skynet.start(function() skynet.dispatch("lua", function() end) end)
""",
        "service/main.lua": MAIN + """
skynet.start(function()
    local sink = skynet.newservice("sink")
    collectgarbage()
    local before = collectgarbage("count")
    local pad = string.rep("x", 1000)
    for i = 1, 2000 do
        skynet.send(sink, "lua", pad .. i) -- 2 MB of distinct messages
    end
    skynet.sleep(1) -- the outbox has gone to the node
    collectgarbage()
    local kept = collectgarbage("count") - before
    skynet.error("kept", kept < 100 and "little" or ("KB " .. kept))
    skynet.error("END")
end)
"""})
    assert "kept little" in tree.run()


def test_getenv_setenv_refuses_existing_key(tree: Tree) -> None:
    tree.write({"service/main.lua": MAIN + """
skynet.start(function()
    skynet.error("from config", skynet.getenv "custom", tostring(skynet.getenv "nope"))
    skynet.setenv("fresh", 42)
    skynet.error("fresh", skynet.getenv "fresh", math.type(skynet.getenv "fresh"))
    local ok, err = pcall(skynet.setenv, "custom", "x")
    skynet.error("overwrite", ok, err:match("Can't setenv exist key : custom"))
    skynet.error("END")
end)
"""})
    lines = tree.run(config='custom = "yes"\n')
    assert "from config yes nil" in lines
    assert "fresh 42 nil" in lines  # the env holds strings, as skynet's does
    assert "overwrite false Can't setenv exist key : custom" in lines


def test_memlimit_stops_only_the_greedy_service(tree: Tree) -> None:
    tree.write({
        "service/main.lua": MAIN + """
skynet.start(function()
    local hog = skynet.newservice("hog")
    skynet.error("hog", pcall(skynet.call, hog, "lua", "eat"))
    skynet.error("hog still serves", skynet.call(hog, "lua", "small"))
    skynet.error("END")
end)
""",
        "service/hog.lua": MAIN + """
skynet.memlimit(4 * 1024 * 1024)
skynet.start(function()
    skynet.dispatch("lua", function(_, _, cmd)
        if cmd == "eat" then
            local ok, err = pcall(function()
                local t = {}
                for i = 1, 1e8 do t[i] = string.rep("x", 64) .. i end
            end)
            skynet.error("eat", ok, err)
            collectgarbage()
            error(err)
        end
        skynet.ret(skynet.pack("ok"))
    end)
end)
""",
    })
    lines = tree.run()
    assert "eat false not enough memory" in lines
    assert any(ln.startswith("hog false") and ln.endswith("call failed") for ln in lines)
    assert "hog still serves ok" in lines
