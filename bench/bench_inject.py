"""Benchmark an inject round trip from Python: the cost of one notebook cell's RUN.

Target: median under 200 us for a small chunk (Python -> debug RUN -> reply).
"""

from __future__ import annotations

import asyncio
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from skykernel.node.config import load_config  # noqa: E402
from skykernel.node.inject import inject  # noqa: E402
from skykernel.node.logger import Logger  # noqa: E402
from skykernel.node.node import Node  # noqa: E402

ROUNDS = 2000
TARGET_US = 200


async def measure(label: str, call) -> None:
    for _ in range(100):
        await call()
    times = []
    for _ in range(ROUNDS):
        t0 = time.perf_counter()
        await call()
        times.append(time.perf_counter() - t0)
    med = statistics.median(times) * 1e6
    p90 = statistics.quantiles(times, n=10)[-1] * 1e6
    verdict = "ok" if med < TARGET_US else "over target"
    print(f"{label:42s} median {med:6.0f} us  p90 {p90:6.0f} us  ({verdict})")


async def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        os.chdir(tmp)
        Path("service").mkdir()
        Path("service/idle.lua").write_text(
            'local skynet = require "skynet"\nskynet.start(function() end)\n')
        Path("config").write_text('start = "idle"\nluaservice = "./service/?.lua"\n')
        node = Node(load_config("config"), logger=Logger())
        await node.start()
        target = await node.newservice("idle")
        await measure("debug PING", lambda: node.call(target, "debug", "PING"))
        await measure("inject 'return 1' (session, returns)",
                      lambda: inject(node, target, "return 1", session="bench"))
        await measure("inject print + table return",
                      lambda: inject(node, target, "print('x', nil) return {1, 2, a = 3}"))
        await measure("classic RUN (skynet's, full GC each time)",
                      lambda: node.call(target, "debug", "RUN", "print(1)", "x.lua"))
        await node.shutdown()


if __name__ == "__main__":
    asyncio.run(main())
