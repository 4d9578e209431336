"""sproto on skykernel (pure Lua) against real skynet (C sproto.core), in one run.

The same Lua service runs on real skynet (each build present) and on an in-process
skykernel node, rounds interleaved: it encodes, decodes, packs and unpacks the sproto
project's test message (an AddressBook of two Persons with nested PhoneNumber arrays,
130 bytes, 83 packed), timing each loop with skynet.hpc inside Lua. Printed: the median
nanoseconds per operation and skykernel's time as a multiple of skynet's. Without real
skynet, skykernel's figures alone.

    python bench/bench_sproto.py          # ROUNDS=5 N=100000 by default
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

OPS = ("encode", "decode", "pack", "unpack")

BENCH_SERVICE = r"""
local skynet = require "skynet"
local sproto = require "sproto"
local N = tonumber((...))
skynet.start(function()
	local sp = sproto.parse [[
.Person {
	name 0 : string
	id 1 : integer
	email 2 : string
	.PhoneNumber {
		number 0 : string
		type 1 : integer
	}
	phone 3 : *PhoneNumber
}
.AddressBook {
	person 0 : *Person
}
]]
	local ab = { person = {
		{ name = "Alice", id = 10000, phone = {
			{ number = "123456789", type = 1 }, { number = "87654321", type = 2 } } },
		{ name = "Bob", id = 20000, phone = { { number = "01234567890", type = 3 } } },
	} }
	local e = sp:encode("AddressBook", ab)
	local p = sproto.pack(e)
	assert(#e == 130 and #p == 83, "not the reference message")
	local function time(f, arg)
		for _ = 1, N // 10 do f(arg) end -- warm up: caches, string table, allocator
		local t0 = skynet.hpc()
		for _ = 1, N do f(arg) end
		return (skynet.hpc() - t0) / N
	end
	local enc = time(function(x) return sp:encode("AddressBook", x) end, ab)
	local dec = time(function(x) return sp:decode("AddressBook", x) end, e)
	local pk = time(sproto.pack, e)
	local upk = time(sproto.unpack, p)
	skynet.error(string.format("SPROTO %.1f %.1f %.1f %.1f", enc, dec, pk, upk))
	skynet.error("END")
end)
"""


def write_tree(root: Path, n: int) -> Path:
    (root / "service").mkdir()
    (root / "service" / "bench_sproto.lua").write_text(BENCH_SERVICE)
    (root / "service" / "main.lua").write_text(
        'local skynet = require "skynet"\n'
        f'skynet.start(function() skynet.newservice("bench_sproto", {n}) end)\n')
    config = root / "config"
    config.write_text('luaservice = "./service/?.lua"\nstart = "main"\nharbor = 0\n')
    return config


def parse(lines: list[str]) -> dict[str, float]:
    for line in lines:
        if line.startswith("SPROTO "):
            return dict(zip(OPS, map(float, line.split()[1:]), strict=True))
    raise RuntimeError("the benchmark service printed no figures:\n" + "\n".join(lines))


async def skykernel_round(config: Path) -> dict[str, float]:
    node = Node(load_config(str(config)), logger=Logger())
    done = asyncio.Event()
    node.logger.sinks.append(lambda line: line.text == "END" and done.set())
    await node.start()
    try:
        await asyncio.wait_for(done.wait(), 600)
    finally:
        await node.shutdown()
    return parse([ln.text for ln in node.logger.history])


def main() -> int:
    rounds = int(os.environ.get("ROUNDS", "5"))
    n = int(os.environ.get("N", "100000"))
    builds = realskynet.builds()
    results: dict[str, list[dict[str, float]]] = {b: [] for b in ["skykernel", *builds]}
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        config = write_tree(root, n)
        os.chdir(root)
        for r in range(rounds):
            for build in builds:
                results[build].append(parse(realskynet.run(config, build, cwd=root,
                                                           timeout=600)))
            results["skykernel"].append(asyncio.run(skykernel_round(config)))
            print(f"round {r + 1}/{rounds} done", file=sys.stderr)
    median = {who: {op: statistics.median(x[op] for x in runs) for op in OPS}
              for who, runs in results.items()}
    print(f"sproto, AddressBook message, ns per operation (median of {rounds} rounds, "
          f"{n:,} each)")
    if not builds:
        print(realskynet.missing_message() + ": skykernel's figures alone")
    header = f"{'':<8}{'skykernel':>11}"
    for build in builds:
        header += f"{'skynet ' + build:>16}{'x':>7}"
    print(header)
    for op in OPS:
        row = f"{op:<8}{median['skykernel'][op]:>11,.0f}"
        for build in builds:
            ratio = median["skykernel"][op] / median[build][op]
            row += f"{median[build][op]:>16,.0f}{ratio:>6.1f}x"
        print(row)
    if builds:
        print("x: skykernel's time as a multiple of real skynet's (lower is better)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
