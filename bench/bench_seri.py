"""Benchmark skynet.seri pack+unpack inside one lupa Lua 5.4 state.

The loop runs in Lua so the figure is the module's own speed, comparable with real
skynet's C lua-seri (365k pack+unpack pairs/s for the same 49-byte table).
"""

from __future__ import annotations

import statistics
import sys
from pathlib import Path

from lupa.lua54 import LuaRuntime

ROOT = Path(__file__).resolve().parent.parent
SERI = ROOT / "runtime" / "lualib" / "skynet" / "seri.lua"
SKYNET_OPS = 365_000
TARGET_OPS = 180_000
ROUNDS = 5

LOOP = b"""
local seri, n = ...
local pack, unpack = seri.pack, seri.unpack
local clock = os.clock
local msg = {id=1, name="abc", list={1,2,3,4,5}, nested={a=1, b=true}}
assert(#pack(msg) == 49, "message is not the 49-byte reference table")
local t0 = clock()
for _ = 1, n do
	unpack(pack(msg))
end
return n / (clock() - t0)
"""


def main() -> int:
    """Print the median of ROUNDS timed rounds, against skynet and the target."""
    lua = LuaRuntime(encoding=None, register_eval=False, register_builtins=False)
    seri = lua.execute(SERI.read_bytes())
    loop = lua.eval(b"function(...) " + LOOP + b" end")
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 200_000
    loop(seri, n // 10)  # warm-up: header caches, string table, allocator
    rates = [loop(seri, n) for _ in range(ROUNDS)]
    ops = statistics.median(rates)
    print(
        f"pack+unpack: {ops / 1000:.0f}k ops/s "
        f"({ops / SKYNET_OPS:.2f}x skynet {SKYNET_OPS // 1000}k; target {TARGET_OPS // 1000}k)"
    )
    print("rounds: " + ", ".join(f"{r / 1000:.0f}k" for r in rates))
    return 0


if __name__ == "__main__":
    sys.exit(main())
