"""Node benchmarks in the shapes of ../shared/reference/baseline.md (real skynet, 2 cores).

Each benchmark is Lua services on an in-process node, timed inside Lua with skynet.hpc,
median of several rounds; printed with the ratio to real skynet's default-config figure.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from skykernel.node.config import load_config  # noqa: E402
from skykernel.node.logger import Logger  # noqa: E402
from skykernel.node.node import Node  # noqa: E402

SKYNET = {"send": 214_000, "call": 89_600, "newservice": 2_374, "memory_kb": 50.4}
TARGET = {"send": 214_000, "call": 90_000, "newservice": 2_400, "memory_kb": 100}

SERVICES = {
    "recv.lua": """
local skynet = require "skynet"
local n, want, done = 0, 0, nil
skynet.start(function()
  skynet.dispatch("lua", function(session, source, cmd, i)
    if cmd == "inc" then
      n = n + 1
      if n == want then done(true) end
    elseif cmd == "expect" then
      n, want = 0, i
      done = skynet.response()
    end
  end)
end)
""",
    "echo.lua": """
local skynet = require "skynet"
skynet.start(function()
  skynet.dispatch("lua", function(session, source, cmd, i)
    skynet.ret(skynet.pack(i))
  end)
end)
""",
    "trivial.lua": """
local skynet = require "skynet"
skynet.start(function() end)
""",
    # A service that has used every part of the API that loads on first use: what a
    # service pays once it needs all of skynet (trivial.lua is what one that does not pays).
    "everything.lua": """
local skynet = require "skynet"
skynet.start(function()
  for key in ("killthread request response exit now getenv mqlen rawsend uniqueservice "
      .. "migrate"):gmatch("%S+") do
    assert(skynet[key], key)
  end
end)
""",
    "driver.lua": """
local skynet = require "skynet"
local N = tonumber((...)) or 0
local CMD = {}
function CMD.send(n)
  local recv = skynet.newservice("recv")
  local t0 = skynet.hpc()
  skynet.fork(function()
    for i = 1, n do skynet.send(recv, "lua", "inc", i) end
  end)
  skynet.call(recv, "lua", "expect", n)
  return (skynet.hpc() - t0) / 1e9
end
function CMD.call(n)
  local echo = skynet.newservice("echo")
  local t0 = skynet.hpc()
  for i = 1, n do skynet.call(echo, "lua", "echo", i) end
  return (skynet.hpc() - t0) / 1e9
end
function CMD.newservice(n)
  local t0 = skynet.hpc()
  for i = 1, n do skynet.newservice("trivial") end
  return (skynet.hpc() - t0) / 1e9
end
skynet.start(function()
  skynet.dispatch("lua", function(_, _, cmd, n)
    skynet.ret(skynet.pack(CMD[cmd](n)))
  end)
end)
""",
}


def write_tree(root: str) -> None:
    """The benchmark services and a config, in root, which becomes the current directory."""
    os.chdir(root)
    Path("service").mkdir()
    for name, text in SERVICES.items():
        Path("service", name).write_text(text)
    Path("config").write_text('luaservice = "./service/?.lua"\nharbor = 0\nstart = "trivial"\n')


def rss_kb() -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


async def round_(kind: str, n: int) -> float:
    node = Node(load_config("config"), logger=Logger())
    await node.start()
    driver = await node.newservice("driver")
    (seconds,) = await node.call(driver, "lua", kind, n)
    await node.shutdown()
    return n / seconds


async def memory(n: int, service: str) -> float:
    node = Node(load_config("config"), logger=Logger())
    await node.start()
    before = rss_kb()
    for _ in range(n):
        node.launch(service)
    await node.wait_idle()
    after = rss_kb()
    await node.shutdown()
    return (after - before) / n


def report(name: str, value: float, unit: str, key: str, higher_is_better: bool = True) -> None:
    ratio = value / SKYNET[key] if higher_is_better else SKYNET[key] / value
    ok = value >= TARGET[key] if higher_is_better else value <= TARGET[key]
    print(f"{name:<28} {value:>12,.1f} {unit:<10} {ratio:5.2f}x skynet {SKYNET[key]:,} "
          f"(target {TARGET[key]:,}: {'met' if ok else 'NOT met'})")


def main() -> None:
    rounds = int(os.environ.get("ROUNDS", "5"))
    with tempfile.TemporaryDirectory() as tmp:
        write_tree(tmp)
        results = {}
        only = os.environ.get("ONLY", "send,call,newservice,memory").split(",")
        for kind, n in (("send", 1_000_000), ("call", 200_000), ("newservice", 2_000)):
            if kind not in only:
                continue
            vals = []
            for _ in range(rounds):
                vals.append(asyncio.run(round_(kind, n)))
            results[kind] = statistics.median(vals)
        labels = {"send": ("send (1M messages)", "msgs/s"),
                  "call": ("call (200k sequential)", "calls/s"),
                  "newservice": ("newservice (2,000)", "svc/s")}
        for kind, value in results.items():
            report(labels[kind][0], value, labels[kind][1], kind)
        if "memory" in only:
            # each measurement in a fresh process: freed memory a process keeps would hide
            # what new services cost
            def measure(service: str) -> float:
                return statistics.median(
                    float(subprocess.run([sys.executable, __file__, "--memory", service],
                                         check=True, capture_output=True, text=True
                                         ).stdout.split()[-1])
                    for _ in range(3))

            report("memory, 10,000 services", measure("trivial"), "KB RSS each", "memory_kb",
                   higher_is_better=False)
            everything = measure("everything")
            print(f"{'  ... having used all the API':<28} {everything:>12,.1f} KB RSS    "
                  "(a figure: the lazily loaded parts included)")


def memory_in_this_process(service: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        write_tree(tmp)
        print(asyncio.run(memory(10_000, service)))  # the shape: 10,000 live services


if __name__ == "__main__":
    if sys.argv[1:2] == ["--memory"]:
        memory_in_this_process(sys.argv[2])
    else:
        main()
