"""The node side by side with real skynet: send, call, 8-way call, newservice, pack and
memory per live service, with the same Lua benchmark services on both, in one run.

Each round starts a fresh process per implementation and benchmark (rounds interleaved);
figures are medians, ratios are skykernel / skynet (>1: skykernel is faster; for memory,
skynet's KB / skykernel's KB). Both run `thread = 2` (this machine has 2 cores);
skykernel also runs `thread = 1` for sends and 8-way calls, to show how they scale.

    python bench/bench_node.py [ROUNDS]          (default 5)
    ONLY=send,call python bench/bench_node.py    (a subset)
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import sidebyside  # noqa: E402

BENCH = r"""
local skynet = require "skynet"

local BENCH = {}

function BENCH.send(n)
	local recv = skynet.newservice("bench_recv")
	local t0 = skynet.hpc()
	skynet.fork(function()
		for i = 1, n do skynet.send(recv, "lua", "inc", i) end
	end)
	skynet.call(recv, "lua", "expect", n)
	return n / ((skynet.hpc() - t0) / 1e9)
end

function BENCH.call(n)
	local echo = skynet.newservice("bench_echo")
	local t0 = skynet.hpc()
	for i = 1, n do skynet.call(echo, "lua", "echo", i) end
	return n / ((skynet.hpc() - t0) / 1e9)
end

function BENCH.call8(n)
	local echo = skynet.newservice("bench_echo")
	local each, left, me = n // 8, 8, coroutine.running()
	local t0 = skynet.hpc()
	for _ = 1, 8 do
		skynet.fork(function()
			for i = 1, each do skynet.call(echo, "lua", "echo", i) end
			left = left - 1
			if left == 0 then skynet.wakeup(me) end
		end)
	end
	skynet.wait(me)
	return each * 8 / ((skynet.hpc() - t0) / 1e9)
end

function BENCH.newservice(n)
	local t0 = skynet.hpc()
	for _ = 1, n do skynet.newservice("bench_trivial") end
	return n / ((skynet.hpc() - t0) / 1e9)
end

function BENCH.pack(n)
	local t = { id = 1, name = "abc", list = { 1, 2, 3, 4, 5 }, nested = { a = 1, b = true } }
	local t0 = skynet.hpc()
	for _ = 1, n do
		local msg, sz = skynet.pack(t)
		skynet.unpack(msg, sz)
		skynet.trash(msg, sz)
	end
	return n / ((skynet.hpc() - t0) / 1e9)
end

local function rss_kb()
	local f = assert(io.open("/proc/self/status"))
	local text = f:read("a")
	f:close()
	return tonumber(text:match("VmRSS:%s*(%d+)"))
end

function BENCH.memory(n)
	local before = rss_kb()
	for _ = 1, n do skynet.newservice("bench_trivial") end
	return (rss_kb() - before) / n
end

skynet.start(function()
	local which = skynet.getenv "bench"
	local value = BENCH[which](tonumber(skynet.getenv "bench_n"))
	skynet.error(string.format("RESULT %s|%.3f", which, value))
	skynet.error("END") -- the runner stops the process (an abort here would lose the log)
end)
"""

SERVICES = {
    "bench": BENCH,
    "bench_recv": r"""
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
    "bench_echo": r"""
local skynet = require "skynet"
skynet.start(function()
	skynet.dispatch("lua", function(session, source, cmd, i)
		skynet.ret(skynet.pack(i))
	end)
end)
""",
    "bench_trivial": r"""
local skynet = require "skynet"
skynet.start(function() end)
""",
}

#: benchmark: (N, unit, label)
CASES = {
    "send": (1_000_000, "msgs/s", "send, 1M messages"),
    "call": (200_000, "calls/s", "call, 200k sequential"),
    "call8": (200_000, "calls/s", "call, 200k over 8 forks"),
    "newservice": (2_000, "svc/s", "newservice, 2,000"),
    "pack": (200_000, "ops/s", "pack+unpack, 49 bytes"),
    "memory": (10_000, "KB each", "memory, 10,000 services"),
}
SCALING = ("send", "call8")
TARGETS = {"send": 1.0, "call": 1.0, "call8": 1.0, "newservice": 1.0, "pack": 0.5}


def config(case: str, n: int, threads: int) -> str:
    return (f'luaservice = "./service/?.lua"\nstart = "bench"\nharbor = 0\n'
            f'thread = {threads}\nbench = "{case}"\nbench_n = "{n}"\n')


def main() -> int:
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    only = os.environ.get("ONLY", ",".join(CASES)).split(",")
    builds = sidebyside.builds()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        runners = {}
        for case in only:
            n = CASES[case][0]
            cfg = sidebyside.write_tree(root / case, SERVICES, config(case, n, 2))
            for build in builds:
                runners[f"{case} {build}"] = (lambda c=cfg, b=build: sidebyside.run_real(c, b))
            runners[f"{case} skykernel"] = lambda c=cfg: sidebyside.run_skykernel(c)
            if case in SCALING:
                one = sidebyside.write_tree(root / f"{case}-1", SERVICES, config(case, n, 1))
                runners[f"{case} skykernel thread=1"] = lambda c=one: sidebyside.run_skykernel(c)
        runs = sidebyside.interleave(rounds, runners)

    def value(case: str, who: str) -> float:
        return sidebyside.median(runs[f"{case} {who}"], case)

    head = "".join(f"{'skynet ' + b:>16}{'ratio':>7}" for b in builds)
    print(f"{'benchmark (thread = 2)':<28}{'skykernel':>14}  {'':<8}{head}  target")
    for case in only:
        n, unit, label = CASES[case]
        ours = value(case, "skykernel")
        row = f"{label:<28}{ours:>14,.1f}  {unit:<8}"
        ratios = []
        for build in builds:
            theirs = value(case, build)
            ratio = theirs / ours if case == "memory" else ours / theirs
            ratios.append(ratio)
            row += f"{theirs:>16,.1f}{ratio:>6.2f}x"
        if case == "memory":
            verdict = "met" if ours <= 100 else "NOT met"
            row += f"  <= 100 KB: {verdict}"
        elif ratios:
            verdict = "met" if min(ratios) >= TARGETS[case] else "NOT met"
            row += f"  >= {TARGETS[case]}x: {verdict}"
        print(row)
    scaled = [c for c in SCALING if c in only]
    if scaled:
        print(f"\n{'skykernel scaling':<28}{'thread = 1':>14}{'thread = 2':>14}{'2 vs 1':>9}")
        for case in scaled:
            one, two = value(case, "skykernel thread=1"), value(case, "skykernel")
            print(f"{CASES[case][2]:<28}{one:>14,.1f}{two:>14,.1f}{two / one:>8.2f}x")
    print(f"\nmedians of {rounds} interleaved rounds; master is skynet on Lua 5.5, 1.8 on Lua 5.4")
    return 0


if __name__ == "__main__":
    sys.exit(main())
