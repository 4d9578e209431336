"""Views at scale: a 100,000-entry table's first level, and a 1,000-handler dispatch chain.

Targets (the views issue): the first level of a 100,000-entry table opens in under
200 ms (probe + JSON + the view's data, first page of 200 children, then "more"); a service
with 1,000 handlers renders its chain without freezing the kernel.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from skykernel.node.config import default_config  # noqa: E402
from skykernel.node.node import Node  # noqa: E402
from skykernel.views.chain import ProtocolChainView  # noqa: E402
from skykernel.views.probe import node_runner, probe  # noqa: E402
from skykernel.views.tree import UpvalueExplorer  # noqa: E402

BIG = """
local skynet = require "skynet"
local CMD = {}
for i = 1, 1000 do CMD["h" .. i] = function() return i end end
BIG_ARRAY, BIG_TABLES, BIG_HASH = {}, {}, {}
for i = 1, 100000 do
  BIG_ARRAY[i] = i
  BIG_TABLES[i] = {i}
  BIG_HASH["k" .. i] = i
end
skynet.start(function()
  skynet.dispatch("lua", function(session, source, cmd, ...)
    skynet.ret(skynet.pack(CMD[cmd](...)))
  end)
end)
"""


def ms(samples: list[float]) -> str:
    return f"median {statistics.median(samples) * 1000:.1f} ms, max {max(samples) * 1000:.1f} ms"


async def main() -> None:
    work = Path(tempfile.mkdtemp())
    (work / "service").mkdir()
    (work / "service" / "big.lua").write_text(BIG)
    (work / "service" / "idle.lua").write_text(
        'local skynet = require "skynet"\nskynet.start(function() end)\n')
    import os

    os.chdir(work)
    node = Node(default_config(start="idle", harbor="0",
                               luaservice="./service/?.lua", lua_path="./service/?.lua"))
    await node.start()
    try:
        handle = await node.newservice("big")
        run = node_runner(node, handle)
        for root in ("BIG_ARRAY", "BIG_TABLES", "BIG_HASH"):
            async def fetch(path, offset, limit, root=root):
                return await probe(run, "upvalues", root=root, path=list(path),
                                   offset=offset, limit=limit)

            samples, more = [], []
            for _ in range(7):
                t = time.perf_counter()
                view = UpvalueExplorer(fetch, title=root)
                await view.populate(1)
                samples.append(time.perf_counter() - t)
                t = time.perf_counter()
                await view.more(())
                more.append(time.perf_counter() - t)
            rows = len(view.nodes[()].rows)
            print(f"first level of {root} (100,000 entries, 200 shown): {ms(samples)}; "
                  f"'more' (+200, {rows} shown): {ms(more)}")

        async def chains():
            svc = node.handles.services[handle]
            return await probe(run, "protocols"), {f: c.generation for f, c in svc.chunks.items()}

        samples, html = [], 0
        for _ in range(5):
            t = time.perf_counter()
            view = ProtocolChainView(chains)
            await view.refresh()
            samples.append(time.perf_counter() - t)
            html = len(json.dumps(view.data))  # what the view's one comm carries
        probe_only = []
        for _ in range(5):
            t = time.perf_counter()
            await probe(run, "protocols")
            probe_only.append(time.perf_counter() - t)
        print(f"dispatch chain with 1,000 handlers (200 rendered, then 'more'): {ms(samples)}"
              f" ({html // 1024} KB of view data); probe + JSON alone {ms(probe_only)}")
    finally:
        await node.shutdown()


if __name__ == "__main__":
    asyncio.run(main())
