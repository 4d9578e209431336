"""Time and threads in a service: timeouts, sleep/wakeup, fork, request:select, __close."""

from __future__ import annotations

from conftest import Tree

MAIN = 'local skynet = require "skynet"\n'


def test_timeouts_fire_in_deadline_order(tree: Tree) -> None:
    tree.write({"service/main.lua": MAIN + """
skynet.start(function()
    local order = {}
    for i = 1, 100 do order[i] = i end
    -- a fixed shuffle, so the test is deterministic
    local seed = 7
    for i = 100, 2, -1 do
        seed = (seed * 1103515245 + 12345) % 2147483648
        local j = seed % i + 1
        order[i], order[j] = order[j], order[i]
    end
    for _, i in ipairs(order) do
        skynet.timeout(i, function() skynet.error("in", i) end)
    end
    skynet.timeout(101, function() skynet.error("END") end)
end)
"""})
    lines = tree.run()
    fired = [ln for ln in lines if ln.startswith("in ")]
    assert fired == [f"in {i}" for i in range(1, 101)]


def test_timeouts_registered_in_reverse(tree: Tree) -> None:
    tree.write({"service/main.lua": MAIN + """
skynet.start(function()
    for i = 30, 1, -1 do skynet.timeout(i, function() skynet.error("in", i) end) end
    skynet.timeout(31, function() skynet.error("END") end)
end)
"""})
    fired = [ln for ln in tree.run() if ln.startswith("in ")]
    assert fired == [f"in {i}" for i in range(1, 31)]


def test_sleep_returns_break_on_wakeup_and_nil_on_timer(tree: Tree) -> None:
    tree.write({"service/main.lua": MAIN + """
skynet.start(function()
    local co
    skynet.fork(function()
        co = coroutine.running()
        skynet.error("woken:", tostring(skynet.sleep(10000)))
        skynet.error("timer:", tostring((skynet.sleep(1))))
    end)
    skynet.yield()
    skynet.error("wakeup", skynet.wakeup(co))
    skynet.error("wakeup nobody", tostring((skynet.wakeup({}))))
    local tok = {}
    skynet.fork(function() skynet.wait(tok) skynet.error("wait done") end)
    skynet.yield()
    skynet.wakeup(tok)
    skynet.sleep(3)
    skynet.error("END")
end)
"""})
    lines = tree.run()
    assert "wakeup true" in lines
    assert "wakeup nobody nil" in lines
    assert "woken: BREAK" in lines
    assert "timer: nil" in lines
    assert "wait done" in lines


def test_fork_runs_fifo_after_the_current_message(tree: Tree) -> None:
    tree.write({"service/main.lua": MAIN + """
skynet.start(function()
    for i = 1, 5 do skynet.fork(function(x) skynet.error("fork", x) end, i) end
    skynet.error("start done")
    skynet.fork(skynet.error, "END")
end)
"""})
    lines = [ln for ln in tree.run() if ln.startswith(("fork", "start", "END"))]
    assert lines == ["start done"] + [f"fork {i}" for i in range(1, 6)] + ["END"]


def test_session_numbers_are_shared_with_timers(tree: Tree) -> None:
    tree.write({"service/main.lua": MAIN + """
skynet.start(function()
    local a = skynet.genid()
    skynet.timeout(1, function() end)
    local b = skynet.genid()
    skynet.error("gap", b - a)
    skynet.sleep(1)
    skynet.error("after sleep", skynet.genid() - b)
    skynet.error("END")
end)
"""})
    lines = tree.run()
    assert "gap 2" in lines
    assert "after sleep 2" in lines


def test_deferred_response(tree: Tree) -> None:
    tree.write({
        "service/main.lua": MAIN + """
skynet.start(function()
    local s = skynet.newservice("later")
    skynet.fork(function() skynet.error("first", skynet.call(s, "lua", "get")) end)
    skynet.fork(function() skynet.error("second", pcall(skynet.call, s, "lua", "get")) end)
    skynet.sleep(5)
    skynet.send(s, "lua", "release")
    skynet.sleep(5)
    skynet.error("END")
end)
""",
        "service/later.lua": MAIN + """
local waiting = {}
skynet.start(function()
    skynet.dispatch("lua", function(session, source, cmd)
        if cmd == "get" then
            waiting[#waiting + 1] = skynet.response()
        else
            waiting[1](true, 42)
            waiting[2](false)
            skynet.error("test", waiting[1]("TEST"))
            skynet.error("twice", pcall(waiting[1], true, 1))
        end
    end)
end)
""",
    })
    lines = tree.run()
    assert "first 42" in lines
    assert any(ln.startswith("second false") and ln.endswith("call failed") for ln in lines)
    assert "test false" in lines
    assert any(ln.startswith("twice false") and "Can't response more than once" in ln
               for ln in lines)


def test_request_select_with_timeout(tree: Tree) -> None:
    tree.write({
        "service/main.lua": MAIN + """
skynet.start(function()
    local s = skynet.newservice("slow")
    local req = skynet.request()
    req:add { s, "lua", "wait", 1 }
    req:add { s, "lua", "wait", 500 }
    req { s, "lua", "wait", 2 }
    local got = {}
    for r, resp in req:select(50) do
        got[#got + 1] = r[4] .. "=" .. resp[1]
    end
    table.sort(got)
    skynet.error("got", table.concat(got, " "), "timeout", tostring(req.timeout))
    local req2 = skynet.request { s, "lua", "fail" } { s, "lua", "wait", 1 }
    local got2 = {}
    for r, resp in req2:select() do
        got2[#got2 + 1] = r[3] .. "=" .. (resp and resp[1] or tostring(resp))
    end
    table.sort(got2)
    skynet.error("failed", table.concat(got2, " "))
    skynet.error("END")
end)
""",
        "service/slow.lua": MAIN + """
skynet.start(function()
    skynet.dispatch("lua", function(session, source, cmd, ti)
        if cmd == "fail" then error("nope") end
        skynet.sleep(ti)
        skynet.ret(skynet.pack(ti * 10))
    end)
end)
""",
    })
    lines = tree.run()
    assert "got 1=10 2=20 timeout true" in lines
    assert "failed fail=false wait=10" in lines  # a failed request answers false, as skynet


def test_close_runs_on_error_exit_and_killthread(tree: Tree) -> None:
    tree.write({
        "service/main.lua": MAIN + """
local function closer(name)
    return setmetatable({}, { __close = function() skynet.error("closed", name) end })
end
skynet.start(function()
    local ok = pcall(function()
        local _ <close> = closer("on error")
        error("boom")
    end)
    local co = skynet.fork(function()
        local _ <close> = closer("on killthread")
        skynet.sleep(10000)
    end)
    skynet.yield()
    skynet.killthread(co)
    local child = skynet.newservice("child")
    skynet.send(child, "lua", "hold")
    skynet.sleep(2)
    skynet.send(child, "lua", "exit")
    skynet.sleep(2)
    skynet.error("END")
end)
""",
        "service/child.lua": MAIN + """
skynet.start(function()
    skynet.dispatch("lua", function(session, source, cmd)
        if cmd == "hold" then
            local function bye() skynet.error("closed on exit") end
            local _ <close> = setmetatable({}, { __close = bye })
            skynet.sleep(10000)
        else
            skynet.exit()
        end
    end)
end)
""",
    })
    lines = tree.run()
    assert "closed on error" in lines
    assert "closed on killthread" in lines
    assert "closed on exit" in lines
