"""Benchmark the hot-reload toolkit (figures for docs/reload.md).

1. A dry run and a module reload in a service holding 100,000 objects (tables whose
   metatable is a class table of the module): the reload walks the whole state to
   re-point references, so its cost grows with what the service holds.
2. Service reload downtime under a steady stream of 10,000 msgs/s: the longest gap
   between two consecutive messages handled around the reload, and a count that shows
   no message was lost (the counter's state is carried by skynet.migrate/restore).
"""

from __future__ import annotations

import asyncio
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from skykernel.node.config import load_config  # noqa: E402
from skykernel.node.logger import Logger  # noqa: E402
from skykernel.node.node import Node  # noqa: E402
from skykernel.reload import reload_module, restart_service  # noqa: E402

OBJECTS = 100_000
RATE = 10_000  # messages per second

MODULE = """
local M = {}
local made = 0
local Obj = {}
Obj.__index = Obj
function Obj:value() return self.v %s end
function M.new(v) made = made + 1 return setmetatable({ v = v }, Obj) end
function M.made() return made end
M.Obj = Obj
return M
"""

HOLDER = ("""
local skynet = require "skynet"
local objects = require "objects"
local all = {}
skynet.start(function()
	for i = 1, OBJECTS do all[i] = objects.new(i) end
	skynet.dispatch("lua", function() skynet.retpack(all[10]:value(), objects.made()) end)
end)
""").replace("OBJECTS", str(OBJECTS))

COUNTER = """
local skynet = require "skynet"
require "skynet.manager"
local name = ...
local count, last, gap = 0, 0, 0
skynet.migrate(function() return { count = count, last = last, gap = gap } end)
skynet.start(function()
	skynet.restore(function(s) count, last, gap = s.count, s.last, s.gap end)
	skynet.dispatch("lua", function(session, _, cmd)
		if cmd == "tick" then
			local now = skynet.hpc()
			if last > 0 and now - last > gap then gap = now - last end
			last = now
			count = count + 1
		else
			skynet.retpack(count, gap / 1e6)
		end
	end)
	skynet.register(name)
end)
"""

PRODUCER = """
local skynet = require "skynet"
local per_tick, ticks, sink = ...
per_tick, ticks = tonumber(per_tick), tonumber(ticks)
skynet.start(function()
	skynet.fork(function()
		for _ = 1, ticks do
			for _ = 1, per_tick do skynet.send(sink, "lua", "tick") end
			skynet.sleep(1)
		end
		skynet.error("PRODUCER DONE", sink)
	end)
end)
"""


async def bench_module(node: Node) -> None:
    h = await node.newservice("holder")
    assert await node.call(h, "lua") == (10, OBJECTS)
    t0 = time.perf_counter()
    (r,) = await reload_module(node, h, "objects", MODULE.replace("%s", "* 2"), dry_run=True)
    dry = time.perf_counter() - t0
    assert r.status == "dry-run", r.describe()
    t0 = time.perf_counter()
    (r,) = await reload_module(node, h, "objects", MODULE.replace("%s", "* 2"))
    real = time.perf_counter() - t0
    assert r.status == "applied", r.describe()
    assert await node.call(h, "lua") == (20, OBJECTS)
    print(f"module reload, service holding {OBJECTS:,} objects: dry run {dry * 1e3:7.1f} ms, "
          f"reload {real * 1e3:7.1f} ms ({r.repointed} references re-pointed)")


async def stream(node: Node, name: str, restart: bool) -> tuple[float, float, int, int, int]:
    sink = await node.newservice("sink", name)
    seconds = 2
    ticks = seconds * 100
    per_tick = RATE // 100
    await node.newservice("producer", str(per_tick), str(ticks), name)
    await asyncio.sleep(seconds / 2)
    took, queued = 0.0, 0
    if restart:
        t0 = time.perf_counter()
        info = await restart_service(node, sink)
        took = time.perf_counter() - t0
        queued = info["queued"]
    while not any(ln.text == f"PRODUCER DONE {name}" for ln in node.logger.history):
        await asyncio.sleep(0.05)
    await node.wait_idle()
    count, gap_ms = await node.call(name, "lua", "count")
    return took, gap_ms, queued, count, per_tick * ticks


async def bench_restart(node: Node) -> None:
    _, base_gap, _, base_count, sent = await stream(node, ".steady", False)
    took, gap, queued, count, sent = await stream(node, ".reloaded", True)
    print(f"service reload under {RATE:,} msgs/s (100 msgs every 10 ms): reload call "
          f"{took * 1e3:.1f} ms; longest gap between two messages {gap:.1f} ms "
          f"(without a reload: {base_gap:.1f} ms); {queued} queued at the switch; "
          f"{count:,} of {sent:,} handled ({sent - count} lost; {base_count:,} without reload)")


async def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        os.chdir(tmp)
        Path("service").mkdir()
        Path("lualib").mkdir()
        Path("lualib/objects.lua").write_text(MODULE.replace("%s", ""))
        Path("service/holder.lua").write_text(HOLDER)
        Path("service/sink.lua").write_text(COUNTER)
        Path("service/producer.lua").write_text(PRODUCER)
        Path("config").write_text('start = ""\nluaservice = "./service/?.lua"\n'
                                  'lua_path = "./lualib/?.lua"\n')
        node = Node(load_config("config"), logger=Logger())
        await node.start()
        try:
            await bench_module(node)
            await bench_restart(node)
        finally:
            await node.shutdown()


if __name__ == "__main__":
    asyncio.run(main())
