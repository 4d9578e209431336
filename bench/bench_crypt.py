"""skynet.crypt and md5 (pure Lua in skykernel) against skynet's C modules, in one run.

The same Lua benchmark service runs on real skynet (each build present) and on a
skykernel node, rounds interleaved so both see the same machine; each case reports the
median time per call and skykernel's time as a multiple of skynet's. Where real skynet is
absent, skykernel's figures print alone.

    python bench/bench_crypt.py [ROUNDS]      (default 5)
"""

from __future__ import annotations

import asyncio
import os
import statistics
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))  # realskynet.py: where real skynet is, how to run it

import realskynet  # noqa: E402

from skykernel.node.config import load_config  # noqa: E402
from skykernel.node.logger import Logger  # noqa: E402
from skykernel.node.node import Node  # noqa: E402

# Each case runs in batches until MIN_SECONDS of the process's CPU time have passed
# (os.clock: a busy shared machine slows the wall clock more than it slows the work).
SERVICE = r"""
local skynet = require "skynet"
local crypt = require "skynet.crypt"
local md5 = require "md5"
local MIN_SECONDS = 0.25

local k1, k64 = string.rep("a", 1024), string.rep("b", 65536)
local x, y = "\1\2\3\4\5\6\7\8", "\9\10\11\12\13\14\15\16"
local key = "12345678"
local keys = {}
for i = 1, 64 do keys[i] = string.pack("<i8", i * 0x9E3779B97F4A7C15) end

local CASES = {
	{ "md5 1 KB", function() md5.sum(k1) end },
	{ "md5 64 KB", function() md5.sum(k64) end },
	{ "sha1 1 KB", function() crypt.sha1(k1) end },
	{ "sha1 64 KB", function() crypt.sha1(k64) end },
	{ "des encode 1 KB", function() crypt.desencode(key, k1) end },
	{ "des encode 1 KB, new key", function(i) crypt.desencode(keys[i % 64 + 1], k1) end },
	{ "hmac64", function() crypt.hmac64(x, y) end },
	{ "dhexchange", function(i) crypt.dhexchange(keys[i % 64 + 1]) end },
	{ "hmac_sha1 1 KB", function() crypt.hmac_sha1(key, k1) end },
	{ "base64encode 1 KB", function() crypt.base64encode(k1) end },
	{ "hexencode 1 KB", function() crypt.hexencode(k1) end },
}

skynet.start(function()
	for _, case in ipairs(CASES) do
		local name, f = case[1], case[2]
		f(1) -- the first call loads what the case needs
		local n, elapsed, batch = 0, 0, 1
		while elapsed < MIN_SECONDS do
			local t0 = os.clock()
			for i = 1, batch do
				f(i)
			end
			elapsed = elapsed + (os.clock() - t0)
			n = n + batch
			batch = batch * 2
		end
		skynet.error(string.format("RESULT %s|%.1f", name, elapsed / n * 1e9))
	end
	skynet.error("END")
end)
"""

CONFIG = 'luaservice = "./service/?.lua"\nstart = "bench_crypt"\nharbor = 0\n'


def parse(lines: list[str]) -> dict[str, float]:
    """{case: nanoseconds per call} from a run's log lines."""
    out = {}
    for line in lines:
        if line.startswith("RESULT "):
            name, ns = line[len("RESULT "):].rsplit("|", 1)
            out[name] = float(ns)
    return out


async def skykernel_round() -> dict[str, float]:
    node = Node(load_config("config"), logger=Logger())
    done = asyncio.Event()
    loop = asyncio.get_running_loop()  # services log on the node's worker threads
    node.logger.sinks.append(lambda line: line.text in ("END", "abort")
                             and loop.call_soon_threadsafe(done.set))
    await node.start()
    try:
        await asyncio.wait_for(done.wait(), 600)
    finally:
        await node.shutdown()
    return parse([line.text for line in node.logger.history])


def real_round(build: str) -> dict[str, float]:
    return parse(realskynet.run(Path("config").resolve(), build, timeout=600, cwd=Path.cwd()))


def main() -> int:
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    builds = realskynet.builds()
    if not builds:
        print(realskynet.missing_message() + ": skykernel's figures alone")
    runs: dict[str, list[dict[str, float]]] = {"skykernel": [], **{b: [] for b in builds}}
    with tempfile.TemporaryDirectory() as tmp:
        os.chdir(tmp)
        Path("service").mkdir()
        Path("service", "bench_crypt.lua").write_text(SERVICE)
        Path("config").write_text(CONFIG)
        for r in range(rounds):
            for build in builds:
                runs[build].append(real_round(build))
            runs["skykernel"].append(asyncio.run(skykernel_round()))
            print(f"round {r + 1}/{rounds} done", file=sys.stderr)

    def median(who: str, case: str) -> float:
        return statistics.median(run[case] for run in runs[who])

    heads = "".join(f"  skynet {b:<6}  ratio" for b in builds)
    print(f"{'case (time per call)':<26}{'skykernel':>12}{heads}")
    for case in runs["skykernel"][0]:
        ours = median("skykernel", case)
        row = f"{case:<26}{fmt(ours):>12}"
        for build in builds:
            theirs = median(build, case)
            row += f"  {fmt(theirs):>12} {ours / theirs:5.1f}x"
        print(row)
    if builds:
        print("ratio: skykernel's time / skynet's (C; master is Lua 5.5, 1.8 is Lua 5.4); "
              f"medians of {rounds} interleaved rounds")
    return 0


def fmt(ns: float) -> str:
    return f"{ns / 1000:,.1f} us" if ns >= 1000 else f"{ns:,.0f} ns"


if __name__ == "__main__":
    sys.exit(main())
