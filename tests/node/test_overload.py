"""skynet's `May overload, message queue length = N` warning, as real skynet logs it."""

from __future__ import annotations

import realskynet
from conftest import Tree

from skykernel.node.luaversion import default_version

# The sink is held busy while each burst is queued, and the next burst waits until the
# last message of this one is handled: handshakes through skynet's env (readable while the
# sink spins), not sleeps, so a loaded machine gives the same lines.
MAIN = """
local skynet = require "skynet"
local function wait(key)
    while not skynet.getenv(key) do skynet.sleep(1) end
end
skynet.start(function()
    local sink = skynet.newservice("sink")
    for n, count in ipairs({ 5000, 3000 }) do
        skynet.send(sink, "lua", "busy", n)
        wait("busy" .. n)
        for i = 1, count do skynet.send(sink, "lua", "x", n, i, count) end
        skynet.setenv("sent" .. n, "1")
        wait("drained" .. n) -- the queue is empty: the threshold is back to 1024
    end
    skynet.error("END")
end)
"""

SINK = """
local skynet = require "skynet"
skynet.start(function()
    skynet.dispatch("lua", function(_, _, cmd, n, i, count)
        if cmd == "busy" then
            skynet.setenv("busy" .. n, "1")
            while not skynet.getenv("sent" .. n) do end
        elseif i == count then
            skynet.setenv("drained" .. n, "1")
        end
    end)
end)
"""


def _overloads(lines: list[str]) -> list[str]:
    return [ln for ln in lines if "May overload" in ln]


def test_a_growing_queue_is_reported_as_skynet_reports_it(tree: Tree) -> None:
    tree.write({"service/main.lua": MAIN, "service/sink.lua": SINK})
    lines = tree.run(config="thread = 2\n")
    # one line per burst: the first past 1024, once; the next after the queue emptied.
    # skynet master (Lua 5.5) logs them as errors
    prefix = "error: " if default_version() == "5.5" else ""
    assert _overloads(lines) == [f"{prefix}May overload, message queue length = 4999",
                                 f"{prefix}May overload, message queue length = 2999"]


def test_the_same_lines_as_real_skynet(tree: Tree, real_skynet: str) -> None:
    tree.write({"service/main.lua": MAIN, "service/sink.lua": SINK})
    config = realskynet.write_config(tree.root, "thread = 2\n")
    real = _overloads(realskynet.run(config, real_skynet, cwd=tree.root))
    lua = "5.5" if real_skynet == "master" else "5.4"
    ours = _overloads(tree.run(config=f'thread = 2\nlua = "{lua}"\n'))
    assert ours == real
