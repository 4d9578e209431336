"""skynet's service API where skykernel lacked it or had another shape: request/select,
trace, stat "time", memlimit, exit's to-be-closed variables, datacenter's corner cases,
mqueue, profile, stm, injectcode. Each program runs on real skynet (both builds, where
present) and on skykernel and must log the same lines; skykernel's run is also checked
on its own, so these tests mean something where real skynet is absent."""

from __future__ import annotations

import re

from conftest import Tree
from test_library_modules import compare, normalize, run_ours

from skykernel.node.luaversion import default_version

ECHO = """
local skynet = require "skynet"
skynet.start(function()
    skynet.dispatch("lua", function(session, source, cmd, a)
        if cmd == "sleep" then skynet.sleep(a) skynet.retpack("slept", a)
        elseif cmd == "fail" then error("fail")
        elseif cmd == "call" then skynet.retpack(skynet.call(a, "lua", "echo", 1))
        else skynet.retpack(cmd, a) end
    end)
end)
"""

# --- request / select ------------------------------------------------------------------

SELECT = {"service/echo.lua": ECHO, "service/main.lua": r"""
local skynet = require "skynet"
local function show(req, resp)
    if resp == nil then return "nil" end
    if resp == false then return "false" end
    return table.concat({ tostring(resp[1]), tostring(resp[2]), tostring(resp.n) }, ",")
end
local function stripped(err) return (tostring(err):gsub("^.-:%d+: ", "")) end
skynet.start(function()
    skynet.error("BEGIN")
    local e = skynet.newservice("echo")
    local r = skynet.request { e, "lua", "sleep", 20 } { e, "lua", "sleep", 10 }
        { e, "lua", "echo", "x" }
    skynet.error("chained", type(r), #r, getmetatable(r) ~= nil)
    local out = {}
    for req, resp in r:select() do out[#out + 1] = req[3] .. ":" .. show(req, resp) end
    skynet.error("in arrival order", table.concat(out, " "))
    r = skynet.request()
    r:add { e, "lua", "sleep", 100 }
    r:add { e, "lua", "echo", "y" }
    out = {}
    for req, resp in r:select(30) do out[#out + 1] = req[3] .. ":" .. show(req, resp) end
    skynet.error("timeout", table.concat(out, " "), r.timeout)
    out = {}
    for req, resp in skynet.request { e, "lua", "fail" } { e, "lua", "echo", "z" }:select() do
        out[#out + 1] = req[3] .. ":" .. show(req, resp)
    end
    table.sort(out)
    skynet.error("a failed request answers false", table.concat(out, " "))
    out = {}
    r = skynet.request { 0x7777, "lua", "echo" } { e, "lua", "echo", "w" }
    for req, resp in r:select() do out[#out + 1] = tostring(req[1]) .. ":" .. show(req, resp) end
    skynet.error("an invalid address comes first, alone", table.concat(out, " "))
    skynet.error("select twice", stripped(select(2, pcall(r.select, r))))
    skynet.error("add after select", stripped(select(2, pcall(r.add, r, { e, "lua", "x" }))))
    skynet.error("request of a non-table", stripped(select(2, pcall(skynet.request, 1))))
    r = skynet.request { e, "lua", "sleep", 10 } { e, "lua", "sleep", 20 }
    for req in r:select() do skynet.error("break after", req[4]) break end
    r:close()
    skynet.sleep(30)
    skynet.error("the answer after close is dropped")
    do
        local r2 <close> = skynet.request { e, "lua", "sleep", 10 } { e, "lua", "sleep", 20 }
        local iter, a, b, obj = r2:select()
        skynet.error("select returns", type(iter), a, b, obj == r2)
        for req in iter do skynet.error("to-be-closed first", req[4]) break end
    end
    skynet.sleep(30)
    local keys = {}
    for k in pairs(r) do keys[#keys + 1] = tostring(k) end
    table.sort(keys)
    skynet.error("fields", table.concat(keys, " "))
    skynet.error("END")
end)
"""}

SELECT_LINES = [
    "chained table 3 true",
    "in arrival order echo:echo,x,2 sleep:slept,10,2 sleep:slept,20,2",
    "timeout echo:echo,y,2 true",
    "a failed request answers false echo:echo,z,2 fail:false",
    "an invalid address comes first, alone 30583:nil 9:echo,w,2",
    "select twice assertion failed!",
    "add after select assertion failed!",
    "request of a non-table assertion failed!",
    "break after 10",
    "the answer after close is dropped",
    "select returns function nil nil true",
    "to-be-closed first 10",
    "fields 1 2 _request _resp _sessions _thread",
]


def test_select_as_on_skynet(tree: Tree, real_skynet: str) -> None:
    assert compare(tree, real_skynet, SELECT) == SELECT_LINES


def test_select_on_skykernel(tree: Tree) -> None:
    tree.write(SELECT)
    assert normalize(run_ours(tree)) == SELECT_LINES


# --- trace -----------------------------------------------------------------------------

TRACE = {"service/echo.lua": ECHO, "service/main.lua": """
local skynet = require "skynet"
skynet.start(function()
    skynet.error("BEGIN")
    local e = skynet.newservice("echo")
    local e2 = skynet.newservice("echo")
    skynet.error("main tag before", skynet.tracetag())
    skynet.trace()
    skynet.error("main tag after", skynet.tracetag())
    skynet.call(e, "lua", "call", e2)
    skynet.call(e, "lua", "sleep", 1)
    skynet.trace("again")
    skynet.tracelog(skynet.tracetag(), "custom message")
    skynet.fork(function() skynet.error("main fork tag", skynet.tracetag()) end)
    skynet.sleep(1)
    skynet.error("main api", type(skynet.tracelog), type(skynet.traceproto),
        type(skynet.trace_timeout), type(skynet.tracecall))
    skynet.call(e, "debug", "TRACELOG", "lua", false)
    skynet.call(e, "lua", "echo")
    skynet.error("main untraced")
    skynet.sleep(1)
    skynet.error("END")
end)
"""}

# `<TRACE :00000008-1> 4228953006113 call : @./service/main.lua:8 @skynet.lua:1065 ...`:
# the time and skynet's own frames differ; the tag, the event and the first site do not
_TRACE = re.compile(r"^<TRACE (\S+)> \d+ (.*?)(?: : (\S+).*)?$")


def trace_lines(lines: list[str]) -> list[str]:
    out = []
    for ln in lines:
        m = _TRACE.match(ln)
        if m:
            tag, event, site = m.groups()
            ln = f"<TRACE {tag}> {event}" + (f" : {site}" if site and "service/" in site else "")
        out.append(ln)
    return out


def traced_by_service(tree: Tree, lines: list[str]) -> list[str]:
    return trace_lines(lines)


def test_trace_as_on_skynet(tree: Tree, real_skynet: str) -> None:
    tree.write(TRACE)
    from test_library_modules import run_real  # noqa: PLC0415 - the shared runner

    real = trace_lines(normalize(run_real(tree, real_skynet)))
    ours = trace_lines(normalize(run_ours(tree)))
    # services run on several threads here: each one's own lines, in order
    real_main = [ln for ln in real if "main" in ln or "@./service/main" in ln]
    ours_main = [ln for ln in ours if "main" in ln or "@./service/main" in ln]
    assert ours_main == real_main
    assert sorted(ours) == sorted(real)


def test_trace_on_skykernel(tree: Tree) -> None:
    tree.write(TRACE)
    lines = trace_lines(normalize(run_ours(tree)))
    assert lines[:4] == ["main tag before nil", "TRACE nil", "<TRACE :00000008-1> trace",
                         "main tag after :00000008-1"]
    assert "<TRACE :00000008-1> call : @./service/main.lua:10" in lines
    # the callee serves under the caller's tag, and so does the service it calls
    assert lines.count("<TRACE :00000008-1> request") == 3
    assert "<TRACE :00000008-1> call : @./service/echo.lua:7" in lines
    assert "<TRACE :00000008-1> sleep" in lines
    assert "<TRACE :00000008-2> trace again" in lines
    assert "<TRACE :00000008-2> custom message" in lines
    assert "main fork tag nil" in lines
    assert "Turn trace log false for lua" in lines
    # forced off: the request is not traced in the callee, the caller still logs its call
    after = lines[lines.index("Turn trace log false for lua"):]
    assert after.count("<TRACE :00000008-2> request") == 0


# --- stat "time", memlimit, exit -------------------------------------------------------

LIFECYCLE = {
    "service/child.lua": """
local skynet = require "skynet"
local mode = ...
local function closer(name)
    return setmetatable({}, { __close = function(_, e)
        skynet.error("close", name, tostring(e))
    end })
end
if mode == "mem" then
    skynet.memlimit(1024 * 1024)
    local ok, err = pcall(skynet.memlimit, 2048 * 1024)
    skynet.error("second memlimit", ok, (tostring(err):gsub("^.-:%d+: ", "")))
elseif mode == "mem2" then
    skynet.start(function()
        skynet.memlimit(3 * 1024 * 1024)
        skynet.error("memlimit in start: noted, never applied")
    end)
    return
end
skynet.start(function()
    local a <close> = closer("start-a")
    local b <close> = closer("start-b")
    skynet.fork(function()
        local f <close> = closer("fork")
        skynet.sleep(1000)
    end)
    skynet.dispatch("lua", function(session, source, cmd)
        local h <close> = closer("handler " .. cmd)
        if cmd == "exit" then
            skynet.exit()
        end
        skynet.sleep(1000)
    end)
    skynet.yield()
    if mode == "exitmain" then
        skynet.exit()
    end
    skynet.error("start returns")
end)
""",
    "service/main.lua": """
local skynet = require "skynet"
skynet.start(function()
    skynet.error("BEGIN")
    local t = skynet.stat "time"
    skynet.error("stat time", math.type(t), t >= 0 and t < 1)
    local x = 0
    for i = 1, 3000000 do x = x + i end
    local t2 = skynet.stat "time"
    skynet.error("stat time grows within a message", t2 > t, math.type(t2), t2 < 5)
    skynet.sleep(1)
    skynet.error("stat time starts again with each message", skynet.stat "time" < t2)
    skynet.error("stat cpu", math.type(skynet.stat "cpu"), "unknown", skynet.stat "bogus")
    skynet.newservice("child", "mem")
    skynet.newservice("child", "mem2")
    skynet.error("--- exit in the start coroutine")
    skynet.newservice("child", "exitmain")
    skynet.sleep(10)
    skynet.error("--- exit in a handler")
    local c = skynet.newservice("child", "x")
    skynet.send(c, "lua", "hold")
    skynet.sleep(5)
    skynet.send(c, "lua", "exit")
    skynet.sleep(10)
    skynet.error("END")
end)
""",
}


def lifecycle_expected(lines: list[str]) -> None:
    assert lines[:5] == [
        "stat time float true", "stat time grows within a message true float true",
        "stat time starts again with each message true", "stat cpu float unknown 0",
        "second memlimit false attempt to call a nil value"]
    assert lines[5:7] == ["Set memory limit to 1.00 M", "start returns"]
    assert "memlimit in start: noted, never applied" in lines
    assert lines.count("Set memory limit to 1.00 M") == 1
    # exit in the start coroutine: the others close first, then (after KILL) its own,
    # innermost first, with no error object
    i = lines.index("--- exit in the start coroutine")
    assert lines[i + 1:i + 4] == ["close fork nil", "close start-b nil", "close start-a nil"]
    j = lines.index("--- exit in a handler")
    rest = lines[j + 1:]
    assert rest[:3] == ["start returns", "close start-b nil", "close start-a nil"]
    assert sorted(rest[3:5]) == ["close fork nil", "close handler hold nil"]
    assert rest[5] == "close handler exit nil"


def test_stat_memlimit_and_exit_as_on_skynet(tree: Tree, real_skynet: str) -> None:
    tree.write(LIFECYCLE)
    from test_library_modules import run_real  # noqa: PLC0415

    real = normalize(run_real(tree, real_skynet))
    lifecycle_expected(real)  # what this test claims is skynet's, checked on skynet
    ours = normalize(run_ours(tree))
    lifecycle_expected(ours)


def test_stat_memlimit_and_exit_on_skykernel(tree: Tree) -> None:
    tree.write(LIFECYCLE)
    lifecycle_expected(normalize(run_ours(tree)))


# --- datacenter -----------------------------------------------------------------------

DATACENTER = {"service/main.lua": """
local skynet = require "skynet"
local datacenter = require "skynet.datacenter"
local function show(ok, ...)
    return ok and table.concat({ tostring(ok), ... }, " ") or "false (call failed)"
end
skynet.start(function()
    skynet.error("BEGIN")
    skynet.error("get nothing", datacenter.get("x"))
    skynet.fork(function() skynet.error("wait a", show(pcall(datacenter.wait, "a"))) end)
    skynet.fork(function() skynet.error("wait b.c", show(pcall(datacenter.wait, "b", "c"))) end)
    skynet.fork(function()
        skynet.error("wait d.e (never answered)", pcall(datacenter.wait, "d", "e"))
    end)
    skynet.fork(function() skynet.error("wait f", show(pcall(datacenter.wait, "f"))) end)
    skynet.sleep(5)
    skynet.error("set a.x.y (below a wait: it fails)", datacenter.set("a", "x", "y", 1))
    skynet.sleep(1)
    skynet.error("set b.c", datacenter.set("b", "c", 2))
    skynet.sleep(1)
    skynet.error("set d (above a wait: it waits on)", datacenter.set("d", 3))
    skynet.sleep(1)
    skynet.error("set f.g", datacenter.set("f", "g", 4))
    skynet.sleep(1)
    skynet.error("get", type(datacenter.get("a")), datacenter.get("a", "x", "y"),
        datacenter.get("f", "g"))
    skynet.error("set through a value", show(pcall(datacenter.set, "d", "e", 5)))
    skynet.error("get through a value", show(pcall(datacenter.get, "d", "e")))
    skynet.error("set nil", datacenter.set("b", "c", nil), datacenter.get("b", "c"))
    skynet.fork(function() skynet.error("wait q", show(pcall(datacenter.wait, "q"))) end)
    skynet.sleep(1)
    skynet.error("wait under a waited leaf", show(pcall(datacenter.wait, "q", "r")))
    skynet.error("set q", datacenter.set("q", 9))
    skynet.sleep(1)
    skynet.fork(function() skynet.error("wait s.t", show(pcall(datacenter.wait, "s", "t"))) end)
    skynet.sleep(1)
    skynet.error("wait on a waited branch", show(pcall(datacenter.wait, "s")))
    skynet.error("set s.t", datacenter.set("s", "t", 10))
    skynet.sleep(1)
    skynet.error("wait for what exists", datacenter.wait("f", "g"), type(datacenter.wait("f")))
    skynet.error("END")
end)
"""}

DATACENTER_LINES = [
    "get nothing", "wait a false (call failed)", "set a.x.y (below a wait: it fails)",
    "wait b.c true 2", "set b.c", "set d (above a wait: it waits on)", "wait f false (call failed)",
    "set f.g", "get table 1 4", "set through a value false (call failed)",
    "get through a value false (call failed)", "set nil 2 nil",
    "wait under a waited leaf false (call failed)",
    "wait q true 9", "set q", "wait on a waited branch false (call failed)", "wait s.t true 10",
    "set s.t", "wait for what exists 4 table",
]


def test_datacenter_as_on_skynet(tree: Tree, real_skynet: str) -> None:
    ours = compare(tree, real_skynet, DATACENTER)
    assert sorted(ours) == sorted(DATACENTER_LINES)


def test_datacenter_on_skykernel(tree: Tree) -> None:
    tree.write(DATACENTER)
    assert sorted(normalize(run_ours(tree))) == sorted(DATACENTER_LINES)


# --- mqueue, profile, stm, injectcode --------------------------------------------------

LIBS = {
    "service/q.lua": """
local skynet = require "skynet"
local mqueue = require "skynet.mqueue"
skynet.start(function()
    mqueue.register(function(cmd, a)
        if cmd == "sleep" then skynet.sleep(a) return "slept", a end
        if cmd == "fail" then error("qfail") end
        return cmd, a, mqueue.size()
    end)
end)
""",
    "service/reader.lua": """
local skynet = require "skynet"
local stm = require "skynet.stm"
local obj
skynet.start(function()
    skynet.dispatch("lua", function(_, _, cmd, copy)
        if cmd == "bind" then
            obj = stm.newcopy(copy)
            skynet.retpack()
        else
            skynet.retpack(obj(function(msg, sz, ud) return ud, skynet.unpack(msg, sz) end, "UD"))
        end
    end)
end)
""",
    "service/main.lua": r"""
local skynet = require "skynet"
local mqueue = require "skynet.mqueue"
local profile = require "skynet.profile"
local stm = require "skynet.stm"
local injectcode = require "skynet.injectcode"
local function stripped(err) return (tostring(err):gsub("^.-:%d+: ", ""):gsub("0x%x+", "PTR")) end
local function burn(n) local x = 0 for i = 1, n do x = x + i end return x end
skynet.start(function()
    skynet.error("BEGIN")
    -- mqueue: one at a time, in order, even when one blocks
    local q = skynet.newservice("q")
    local done = {}
    for i = 1, 3 do
        skynet.fork(function()
            local r = table.concat({ mqueue.call(q, "sleep", 5 - i) }, ",")
            done[#done + 1] = i .. "=" .. r
        end)
    end
    skynet.sleep(30)
    skynet.error("mqueue order", table.concat(done, " "))
    skynet.error("mqueue error", stripped(select(2, pcall(mqueue.call, q, "fail"))))
    skynet.error("mqueue call", mqueue.call(q, "x", 2))
    -- profile: the time a coroutine ran, not the time it waited
    profile.start()
    burn(2000000)
    skynet.sleep(20)
    local t = profile.stop()
    skynet.error("profile", math.type(t), t > 0.0001, t < 0.15)
    skynet.error("stop again", stripped(select(2, pcall(profile.stop))))
    profile.start()
    skynet.error("start twice", stripped(select(2, pcall(profile.start))))
    profile.stop()
    skynet.error("start bad", stripped(select(2, pcall(profile.start, 1))))
    local co = coroutine.create(function(a) local b = coroutine.yield(a + 1) return b * 2 end)
    profile.start(co)
    skynet.error("timed resume", coroutine.resume(co, 1))
    skynet.error("timed resume", coroutine.resume(co, 5))
    skynet.error("co profile", math.type(profile.stop(co)))
    local w = profile.wrap(function(a) coroutine.yield(a) error("werr") end)
    skynet.error("wrap", w(7), stripped(select(2, pcall(w))), stripped(select(2, pcall(w))))
    skynet.error("resume is profile's", coroutine.resume == profile.resume,
        coroutine.wrap == profile.wrap)
    -- stm: a writer's versions, read in another service
    local writer = stm.new(skynet.pack(1, "a"))
    local reader = skynet.newservice("reader")
    skynet.call(reader, "lua", "bind", stm.copy(writer))
    skynet.error("stm read", skynet.call(reader, "lua", "read"))
    skynet.error("stm unchanged", skynet.call(reader, "lua", "read"))
    writer(skynet.pack(2, "b"))
    writer(skynet.packstring(3, "c"))
    skynet.error("stm latest", skynet.call(reader, "lua", "read"))
    local here = stm.newcopy(stm.copy(writer))
    skynet.error("stm here", here(skynet.unpack))
    skynet.error("stm bad new", stripped(select(2, pcall(stm.new, {}))))
    skynet.error("stm bad read", stripped(select(2, pcall(here, 42))))
    writer = nil
    collectgarbage()
    collectgarbage()
    skynet.sleep(1)
    skynet.error("stm after the writer went", skynet.call(reader, "lua", "read"),
        here(skynet.unpack))
    -- injectcode: run code as if inside a function, locals and upvalues by name
    local up = 10
    local function target(a, ...)
        local b = a * 2 + up - up -- up is an upvalue of target
        local r = table.pack(injectcode("b = b + up; up = up + 1; return a, b, ...", nil, 0))
        return b, table.concat({ tostring(r[1]), tostring(r[2]), tostring(r[3]),
            tostring(r[4]) }, ",")
    end
    skynet.error("injectcode", target(3, "va"))
    skynet.error("injectcode upvalue", up)
    skynet.error("injectcode error", (select(2, injectcode("error('x', 0)"))))
    skynet.error("injectcode syntax", (select(2, injectcode("return +"))))
    skynet.error("END")
end)
""",
}

LIBS_LINES = [
    "mqueue order 1=slept,4 2=slept,3 3=slept,2",
    "mqueue error qfail",
    "mqueue call x 2 0",
    "profile float true true",
    "stop again Call profile.start() before profile.stop()",
    "start twice Thread PTR start profile more than once",
    "start bad bad argument #1 to 'skynet.profile.start' (thread expected, got number)",
    "timed resume true 2",
    "timed resume true 10",
    "co profile float",
    "wrap 7 werr attempt to call a string value",
    "resume is profile's true true",
    "stm read true UD 1 a",
    "stm unchanged false",
    "stm latest true UD 3 c",
    "stm here true 3 c",
    "stm bad new bad argument #1 to 'skynet.stm.new' (string expected, got table)",
    "stm bad read bad argument #? to '?' (function expected, got number)",
    "stm after the writer went false false",
    "injectcode 16 true,3,16,va",
    "injectcode upvalue 11",
    "injectcode error x",
    "injectcode syntax (debug):3: unexpected symbol near '+'",
]


def arg_numbers(lines: list[str]) -> list[str]:
    """Lua 5.4 numbers a __call's arguments from the object, 5.5 from the first one."""
    return [re.sub(r"bad argument #\d to '\?'", "bad argument #? to '?'", ln) for ln in lines]


def test_mqueue_profile_stm_injectcode_as_on_skynet(tree: Tree, real_skynet: str) -> None:
    tree.write(LIBS)
    from test_library_modules import run_real  # noqa: PLC0415

    real = arg_numbers(normalize(run_real(tree, real_skynet)))
    assert real == LIBS_LINES
    assert arg_numbers(normalize(run_ours(tree))) == real


def test_mqueue_profile_stm_injectcode_on_skykernel(tree: Tree) -> None:
    tree.write(LIBS)
    lines = normalize(run_ours(tree))
    assert arg_numbers(lines) == LIBS_LINES
    # numbered as real skynet's C numbers it: 1.8 (Lua 5.4) counts the reader object
    number = 1 if default_version() == "5.5" else 2
    assert f"stm bad read bad argument #{number} to '?' (function expected, got number)" \
        in lines
