"""bson encode/decode: skykernel's pure Lua module against real skynet's C, in one run.

The same Lua service runs on real skynet (each build present) and on a skykernel node,
rounds interleaved. It encodes and decodes a typical document (player data: a few dozen
fields, nested documents, arrays, an objectid and dates; 943 bytes) in a loop timed
with skynet.hpc, and logs operations per second. Printed: the medians, and skykernel's
figure as a ratio of each real build's. Where real skynet is absent, skykernel's alone.

    python bench/bench_bson.py [ROUNDS] [N]
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
sys.path.insert(0, str(ROOT / "tests"))

import realskynet  # noqa: E402

from skykernel.node.config import load_config  # noqa: E402
from skykernel.node.logger import Logger  # noqa: E402
from skykernel.node.node import Node  # noqa: E402

SERVICE = """
local skynet = require "skynet"
local bson = require "bson"
local N = __N__ -- operations a round, set by the script

local function typical()
	local items = {}
	for i = 1, 6 do
		items[i] = { id = 1000 + i, count = i * 3, bound = i % 2 == 0, name = "item_" .. i }
	end
	local friends = {}
	for i = 1, 20 do friends[i] = 500000 + i * 7 end
	return {
		_id = bson.objectid("5f1d7a9c8e4b2a0012345678"),
		name = "player_12345", level = 57, exp = 1234567, gold = 98765432100,
		vip = true, ratio = 0.75, created = bson.date(1700000000), login = bson.date(1700086400),
		tags = { "pvp", "guild", "daily" },
		pos = { x = 1.5, y = 2.25, z = -3.125, map = "forest" },
		stats = { str = 10, agi = 12, int = 8, vit = 15, luk = 3, hp = 1200, mp = 300 },
		items = items, friends = friends,
		guild = { id = 77, name = "Skyward", rank = "officer", joined = bson.date(1690000000) },
		settings = { sound = true, music = false, lang = "en", volume = 0.8 },
		note = "",
	}
end

skynet.start(function()
	local doc = typical()
	local encode, decode = bson.encode, bson.decode
	local encoded = encode(doc)
	for _ = 1, N // 10 do decode(encode(doc)) end -- warm-up
	local t0 = skynet.hpc()
	for _ = 1, N do encode(doc) end
	local t1 = skynet.hpc()
	for _ = 1, N do decode(encoded) end
	local t2 = skynet.hpc()
	skynet.error("BENCH size " .. #encoded)
	skynet.error(string.format("BENCH encode %.0f", N / (t1 - t0) * 1e9))
	skynet.error(string.format("BENCH decode %.0f", N / (t2 - t1) * 1e9))
	skynet.error("END")
end)
"""

CONFIG = 'luaservice = "./service/?.lua"\nharbor = 0\nstart = "bench_bson"\n'


def figures(lines: list[str]) -> dict[str, float]:
    out = {}
    for line in lines:
        if line.startswith("BENCH "):
            _, name, value = line.split()
            out[name] = float(value)
    if set(out) != {"size", "encode", "decode"}:
        raise RuntimeError("the benchmark service did not report:\n" + "\n".join(lines))
    return out


async def skykernel_round() -> dict[str, float]:
    node = Node(load_config("config"), logger=Logger())
    done = asyncio.Event()
    node.logger.sinks.append(lambda line: line.text == "END" and done.set())
    await node.start()
    try:
        await asyncio.wait_for(done.wait(), 600)
    finally:
        await node.shutdown()
    return figures([ln.text for ln in node.logger.history])


def real_round(build: str) -> dict[str, float]:
    return figures(realskynet.run(Path("config"), build, timeout=600, cwd=Path.cwd()))


def main() -> None:
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    n = int(sys.argv[2]) if len(sys.argv) > 2 else 20000
    builds = realskynet.builds()
    with tempfile.TemporaryDirectory() as tmp:
        os.chdir(tmp)
        Path("service").mkdir()
        Path("service", "bench_bson.lua").write_text(SERVICE.replace("__N__", str(n)))
        Path("config").write_text(CONFIG)
        results: dict[str, list[dict[str, float]]] = {"skykernel": []}
        results.update({b: [] for b in builds})
        for _ in range(rounds):
            for build in builds:
                results[build].append(real_round(build))
            results["skykernel"].append(asyncio.run(skykernel_round()))
    sizes = {r["size"] for rs in results.values() for r in rs}
    if len(sizes) != 1:
        raise RuntimeError(f"the document encodes to different sizes: {sizes}")
    print(f"bson, a {int(sizes.pop())}-byte document, {n} operations a round, "
          f"median of {rounds} interleaved rounds")
    if not builds:
        print(f"(real skynet absent: {realskynet.missing_message()}; skykernel alone)")
    for op in ("encode", "decode"):
        ours = statistics.median(r[op] for r in results["skykernel"])
        line = f"{op:<7} skykernel {ours / 1000:7.1f}k/s"
        for build in builds:
            theirs = statistics.median(r[op] for r in results[build])
            line += f" | skynet {build} (C) {theirs / 1000:7.1f}k/s: {ours / theirs:.2f}x"
        print(line)
        print("        rounds, skykernel: "
              + ", ".join(f"{r[op] / 1000:.1f}k" for r in results["skykernel"]))


if __name__ == "__main__":
    main()
