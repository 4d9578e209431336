"""The node side by side with real skynet: send, call, 8-way call, newservice, pack and
memory per live service, with the same Lua benchmark services on both, in one run.

Each round starts a fresh process per implementation and benchmark (rounds interleaved);
figures are medians, ratios are skykernel / skynet (>1: skykernel is faster; for memory,
skynet's KB / skykernel's KB). Both run `thread = 2` (this machine has 2 cores);
skykernel also runs `thread = 1` for sends and 8-way calls, to show how they scale.

    python bench/bench_node.py [ROUNDS]          (default 5)
    ONLY=send,call python bench/bench_node.py    (a subset)
    LUA=5.4,5.5 python bench/bench_node.py       (skykernel on each Lua, side by side;
                                                  default: $SKYKERNEL_LUA, else 5.4)
    BEFORE=/tmp/before python bench/bench_node.py (that checkout too, in the same rounds:
                                                  see bench/sidebyside.py)
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(1, str(Path(__file__).resolve().parent.parent))  # skykernel, from a checkout

import sidebyside  # noqa: E402

from skykernel.node.luaversion import check_version, default_version  # noqa: E402

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


def config(case: str, n: int, threads: int, lua: str | None = None) -> str:
    """The benchmark's config; `lua` (skykernel's key) picks the Lua version."""
    return (f'luaservice = "./service/?.lua"\nstart = "bench"\nharbor = 0\n'
            f'thread = {threads}\nbench = "{case}"\nbench_n = "{n}"\n'
            + (f'lua = "{lua}"\n' if lua else ""))


def main() -> int:
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    only = os.environ.get("ONLY", ",".join(CASES)).split(",")
    versions = [check_version(v) for v in os.environ.get("LUA", default_version()).split(",")]
    builds = sidebyside.builds()
    before = sidebyside.before_root()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        runners = {}
        for case in only:
            n = CASES[case][0]
            cfg = sidebyside.write_tree(root / case, SERVICES, config(case, n, 2))
            for build in builds:
                runners[f"{case} {build}"] = (lambda c=cfg, b=build: sidebyside.run_real(c, b))
            for v in versions:
                cfg = sidebyside.write_tree(root / f"{case}-lua{v}", SERVICES,
                                            config(case, n, 2, v))
                runners[f"{case} skykernel {v}"] = lambda c=cfg: sidebyside.run_skykernel(c)
                if before is not None:
                    runners[f"{case} skykernel {v} before"] = (
                        lambda c=cfg: sidebyside.run_skykernel(c, root=before))
                if case in SCALING:
                    one = sidebyside.write_tree(root / f"{case}-lua{v}-1", SERVICES,
                                                config(case, n, 1, v))
                    runners[f"{case} skykernel {v} thread=1"] = (
                        lambda c=one: sidebyside.run_skykernel(c))
        runs = sidebyside.interleave(rounds, runners)

    def value(case: str, who: str) -> float:
        return sidebyside.median(runs[f"{case} {who}"], case)

    def labelled(case: str, v: str) -> str:
        return CASES[case][2] + (f" (Lua {v})" if len(versions) > 1 else "")

    width = 28 + (10 if len(versions) > 1 else 0)
    head = "".join(f"{'skynet ' + b:>16}{'ratio':>7}" for b in builds)
    skykernel = "skykernel" + ("" if len(versions) > 1 else f" {versions[0]}")
    print(f"{'benchmark (thread = 2)':<{width}}{skykernel:>14}  {'':<8}{head}  target")
    for case, v in ((case, v) for case in only for v in versions):
        unit = CASES[case][1]
        ours = value(case, f"skykernel {v}")
        row = f"{labelled(case, v):<{width}}{ours:>14,.1f}  {unit:<8}"
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
        print(f"\n{'skykernel scaling':<{width}}{'thread = 1':>14}{'thread = 2':>14}"
              f"{'2 vs 1':>9}")
        for case, v in ((case, v) for case in scaled for v in versions):
            one, two = value(case, f"skykernel {v} thread=1"), value(case, f"skykernel {v}")
            print(f"{labelled(case, v):<{width}}{one:>14,.1f}{two:>14,.1f}{two / one:>8.2f}x")
    memory = frozenset(labelled("memory", v) for v in versions)
    sidebyside.print_round_ratios([
        (labelled(case, v), runs[f"{case} skykernel {v}"], [runs[f"{case} {b}"] for b in builds],
         case)
        for case in only for v in versions], builds, lower_is_better=memory)
    if before is not None:
        sidebyside.print_before_after(before, [
            (labelled(case, v), value(case, f"skykernel {v} before"),
             value(case, f"skykernel {v}"), [value(case, b) for b in builds])
            for case in only for v in versions],
            builds, lower_is_better=memory)
    print(f"\nmedians of {rounds} interleaved rounds; master is skynet on Lua 5.5, 1.8 on Lua 5.4")
    return 0


if __name__ == "__main__":
    sys.exit(main())
