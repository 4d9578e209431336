"""Small programs in the manner of skynet's own test services, for what the other
test_library_* files do not already run on both: skynet.queue, skynet.coroutine, forks and
wakeups, response closures, skynet.redirect, a service started from a function
(skynet.service), and the collector's mode. Each
runs on real skynet (both builds, where present) and on skykernel and logs the same lines."""

from __future__ import annotations

from conftest import Tree
from test_library_modules import compare, normalize, run_ours

QUEUE = {"service/main.lua": r"""
local skynet = require "skynet"
local queue = require "skynet.queue"
skynet.start(function()
    skynet.error("BEGIN")
    local cs = queue()
    local order = {}
    local function job(name, ti)
        order[#order + 1] = name .. " in"
        skynet.sleep(ti)
        order[#order + 1] = name .. " out"
        return name
    end
    for i, ti in ipairs { 5, 1, 3 } do
        skynet.fork(function() cs(job, "job" .. i, ti) end)
    end
    skynet.sleep(20)
    skynet.error("one at a time, in order:", table.concat(order, ", "))
    -- re-entrant: the holder may enter again
    skynet.error("nested", cs(function() return cs(function() return "inner" end) .. " outer" end))
    local ok, err = pcall(cs, function() error("in queue") end)
    skynet.error("error leaves the queue", ok, (tostring(err):match("in queue")))
    skynet.error("usable after", cs(function(a, b) return a + b end, 1, 2))
    skynet.error("END")
end)
"""}

QUEUE_LINES = [
    "one at a time, in order: job1 in, job1 out, job2 in, job2 out, job3 in, job3 out",
    "nested inner outer", "error leaves the queue false in queue", "usable after 3"]


def test_queue_as_on_skynet(tree: Tree, real_skynet: str) -> None:
    assert compare(tree, real_skynet, QUEUE) == QUEUE_LINES


def test_queue_on_skykernel(tree: Tree) -> None:
    tree.write(QUEUE)
    assert normalize(run_ours(tree)) == QUEUE_LINES


COROUTINE = {"service/main.lua": r"""
local skynet = require "skynet"
local coroutine = require "skynet.coroutine"
skynet.start(function()
    skynet.error("BEGIN")
    local co = coroutine.create(function(a)
        skynet.error("inside, status", coroutine.status(coroutine.running()))
        local b = coroutine.yield(a + 1)
        skynet.sleep(1) -- blocks in skynet: the resumer does not see this yield
        local c = coroutine.yield(b * 2)
        return "done", c
    end)
    skynet.error("resume 1", coroutine.resume(co, 1))
    skynet.error("status", coroutine.status(co))
    skynet.error("resume 2", coroutine.resume(co, 10))
    skynet.error("resume 3", coroutine.resume(co, "last"))
    skynet.error("status", coroutine.status(co))
    skynet.error("resume dead", coroutine.resume(co))
    local blocked
    local co2 = coroutine.create(function()
        skynet.sleep(10)
        return "slept"
    end)
    skynet.fork(function() blocked = { coroutine.resume(co2) } end)
    skynet.yield()
    skynet.error("while blocked", coroutine.status(co2))
    skynet.error("resume a blocked one", coroutine.resume(co2))
    skynet.sleep(20)
    skynet.error("after", tostring(blocked[1]), blocked[2], coroutine.status(co2))
    local w = coroutine.wrap(function(x) coroutine.yield(x) return "end" end)
    skynet.error("wrap", w("y"), w())
    skynet.error("plain coroutine", coroutine.resume(_G.coroutine.create(function() end)))
    skynet.error("END")
end)
"""}


def test_coroutine_as_on_skynet(tree: Tree, real_skynet: str) -> None:
    ours = compare(tree, real_skynet, COROUTINE)
    assert "while blocked blocked" in ours


def test_coroutine_on_skykernel(tree: Tree) -> None:
    tree.write(COROUTINE)
    lines = normalize(run_ours(tree))
    assert lines[:6] == ["inside, status running", "resume 1 true 2", "status suspended",
                         "resume 2 true 20", "resume 3 true done last", "status dead"]
    assert "while blocked blocked" in lines
    assert "after true slept dead" in lines
    assert "wrap y end" in lines


THREADS = {
    "service/slow.lua": """
local skynet = require "skynet"
skynet.start(function()
    skynet.dispatch("lua", function(session, source, cmd, ti)
        if cmd == "later" then
            local resp = skynet.response()
            skynet.fork(function()
                skynet.sleep(ti)
                skynet.error("slow test", resp("TEST"))
                skynet.error("slow answered", resp(true, "later", ti))
                skynet.error("slow test after", resp("TEST"))
                skynet.error("slow twice", pcall(resp, true))
            end)
        elseif cmd == "ignore" then
            skynet.ignoreret()
        elseif cmd == "context" then
            local session, address = skynet.context()
            skynet.retpack(session > 0, skynet.address(address))
        else
            skynet.retpack(skynet.sleep(ti))
        end
    end)
end)
""",
    "service/main.lua": r"""
local skynet = require "skynet"
skynet.start(function()
    skynet.error("BEGIN")
    local s = skynet.newservice("slow")
    skynet.error("main response later", skynet.call(s, "lua", "later", 2))
    skynet.sleep(1)
    skynet.error("main context", skynet.call(s, "lua", "context"))
    local co = coroutine.running()
    skynet.fork(function()
        skynet.error("main fork runs after the current message")
        skynet.wakeup(co)
    end)
    skynet.error("main before wait")
    skynet.wait(co)
    skynet.error("main woken")
    local t = skynet.fork(function() skynet.error("main never") end)
    skynet.killthread(t)
    skynet.fork(function() skynet.error("main sleep broken:", skynet.sleep(100, "tok")) end)
    skynet.yield()
    skynet.error("main wakeup", skynet.wakeup("tok"), skynet.wakeup("none"))
    skynet.yield()
    skynet.error("main tasks", skynet.task())
    local timer = skynet.timeout(1, function() skynet.error("main timeout fired") end)
    skynet.error("main timeout is a", type(timer))
    skynet.sleep(2)
    skynet.error("main rawcall", skynet.unpack(skynet.rawcall(s, "lua", skynet.pack("sleep", 0))))
    skynet.error("END")
end)
""",
}


def test_threads_and_responses_as_on_skynet(tree: Tree, real_skynet: str) -> None:
    ours = compare(tree, real_skynet, THREADS, tagged=True)
    assert "slow test after false" in ours


def test_threads_and_responses_on_skykernel(tree: Tree) -> None:
    tree.write(THREADS)
    lines = normalize(run_ours(tree))
    main = [ln for ln in lines if ln.startswith("main")]
    assert main == [
        "main response later later 2", "main context true :00000008", "main before wait",
        "main fork runs after the current message", "main woken", "main wakeup true",
        "main sleep broken: BREAK", "main tasks 0", "main timeout is a thread",
        "main timeout fired", "main rawcall"]
    assert [ln for ln in lines if ln.startswith("slow")] == [
        "slow test true", "slow answered true", "slow test after false",
        "slow twice false Can't response more than once"]


SERVICE = {"service/main.lua": r"""
local skynet = require "skynet"
local service = require "skynet.service"
skynet.start(function()
    skynet.error("BEGIN")
    local function counter()
        local skynet = require "skynet"
        local n = 0
        skynet.start(function()
            skynet.dispatch("lua", function(_, _, add)
                n = n + add
                skynet.retpack(n)
            end)
        end)
    end
    local a = service.new("counter", counter)
    local b = service.new("counter", counter)
    skynet.error("one service per name", a == b)
    skynet.error("counts", skynet.call(a, "lua", 2), skynet.call(b, "lua", 3))
    skynet.error("query", service.query("counter") == a)
    local up = 1
    skynet.error("with an upvalue", pcall(service.new, "bad", function() return up end))
    skynet.error("END")
end)
"""}


def test_skynet_service_as_on_skynet(tree: Tree, real_skynet: str) -> None:
    ours = compare(tree, real_skynet, SERVICE)
    assert ours == ["one service per name true", "counts 2 5", "query true",
                    "with an upvalue false assertion failed!"]



REDIRECT = {
    "service/listener.lua": r"""
local skynet = require "skynet"
local names = {}
skynet.start(function()
    skynet.dispatch("lua", function(session, source, what, main, other)
        if what == "names" then
            names[main], names[other] = "main", "other"
            skynet.ret()
            return
        end
        skynet.ignoreret()
        skynet.error("listener", what, "session", session, "from", names[source])
    end)
end)
""",
    "service/main.lua": r"""
local skynet = require "skynet"
skynet.start(function()
    skynet.error("BEGIN")
    local listener = skynet.newservice("listener")
    local other = skynet.newservice("listener")
    skynet.call(listener, "lua", "names", skynet.self(), other)
    -- sent in another's name, with a session of its choosing, in order with the sends
    -- around it
    skynet.send(listener, "lua", "first")
    skynet.error("redirect returns", skynet.redirect(listener, other, "lua", 7,
        skynet.pack("redirected")))
    -- from 0: from the sender itself (how a gate's client packets reach an agent)
    skynet.redirect(listener, 0, "lua", 8, skynet.pack("from zero"))
    skynet.send(listener, "lua", "last")
    skynet.sleep(10)
    skynet.error("END")
end)
""",
}

REDIRECT_LINES = [
    "redirect returns 7", "listener first session 0 from main",
    "listener redirected session 7 from other", "listener from zero session 8 from main",
    "listener last session 0 from main"]


def test_redirect_as_on_skynet(tree: Tree, real_skynet: str) -> None:
    assert compare(tree, real_skynet, REDIRECT) == REDIRECT_LINES


def test_redirect_on_skykernel(tree: Tree) -> None:
    tree.write(REDIRECT)
    assert normalize(run_ours(tree)) == REDIRECT_LINES


GCMODE = {
    "service/main.lua": r"""
local skynet = require "skynet"
-- collectgarbage(mode) returns the mode it replaces
local loading = collectgarbage("generational")
skynet.start(function()
    skynet.error("BEGIN")
    skynet.error("while loading", loading)
    skynet.error("in the start function", collectgarbage("incremental"))
    skynet.error("a service's own choice stays", collectgarbage("generational"))
    skynet.error("another service", skynet.call(skynet.newservice("gcmode"), "lua"))
    skynet.error("END")
end)
""",
    "service/gcmode.lua": r"""
local skynet = require "skynet"
skynet.start(function()
    skynet.dispatch("lua", function()
        skynet.ret(skynet.pack(collectgarbage("generational")))
    end)
end)
""",
}

GCMODE_LINES = [
    "while loading generational", "in the start function generational",
    "a service's own choice stays incremental", "another service generational"]


def test_collector_mode_as_on_skynet(tree: Tree, real_skynet: str) -> None:
    assert compare(tree, real_skynet, GCMODE) == GCMODE_LINES


def test_collector_mode_on_skykernel(tree: Tree) -> None:
    tree.write(GCMODE)
    assert normalize(run_ours(tree)) == GCMODE_LINES
