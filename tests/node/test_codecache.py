"""The code cache: skynet's behaviour (modes, clear) and the generations we add."""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import Awaitable, Callable
from pathlib import Path

from skykernel.node import generations
from skykernel.node.node import CallError, Node

SERVICES = Path(__file__).resolve().parents[1] / "services_debug" / "service"
CONFIG = 'start = "idle"\nlua_path = "./service/?.lua"\n'


def run(tree, body: Callable[[Node], Awaitable[None]]) -> Node:
    """Boot a node on the debug test services, run body(node), shut down."""
    shutil.copytree(SERVICES, tree.root / "service", dirs_exist_ok=True)
    node = tree.node(CONFIG)

    async def main() -> None:
        await node.start()
        try:
            await asyncio.wait_for(body(node), 30)
        finally:
            await node.shutdown()

    asyncio.run(main())
    return node


def write_value(tree, value: int, name: str = "value.lua") -> str:
    (tree.root / name).write_text(f"return {value}\n")
    return name


def test_skynet_observed_sequence(tree) -> None:
    """load -> 1, edit to 2 -> still 1; clear -> 2; edit to 3: EXIST -> 2, OFF -> 3, ON -> 2."""
    seen: list[int] = []

    async def body(node: Node) -> None:
        svc = await node.newservice("cacheuser")

        async def load(mode: str) -> None:
            await node.call(svc, "lua", "mode", mode)
            (v,) = await node.call(svc, "lua", "load", "value.lua")
            seen.append(v)

        write_value(tree, 1)
        await load("ON")
        write_value(tree, 2)
        await load("ON")
        await node.call(svc, "lua", "clear")
        await load("ON")
        write_value(tree, 3)
        for mode in ("EXIST", "OFF", "ON"):
            await load(mode)

    run(tree, body)
    assert seen == [1, 1, 2, 2, 3, 2]


def test_mode_is_per_service_and_checked(tree) -> None:
    async def body(node: Node) -> None:
        a = await node.newservice("cacheuser")
        b = await node.newservice("cacheuser")
        assert await node.call(a, "lua", "mode") == (b"ON",)
        await node.call(a, "lua", "mode", "OFF")
        assert await node.call(a, "lua", "mode") == (b"OFF",)
        assert await node.call(b, "lua", "mode") == (b"ON",)
        ok, err = await node.call(a, "lua", "badmode")
        assert ok is False and b"Invalid codecache mode SOMETIMES" in err

    run(tree, body)


def test_a_hit_costs_no_parsing(tree) -> None:
    async def body(node: Node) -> None:
        svc = await node.newservice("cacheuser")
        write_value(tree, 7)
        await node.call(svc, "lua", "load", "value.lua")
        misses, hits = node.codecache.misses, node.codecache.hits
        for _ in range(5):
            assert await node.call(svc, "lua", "load", "value.lua") == (7,)
        assert node.codecache.misses == misses
        assert node.codecache.hits == hits + 5

    run(tree, body)


def test_every_service_knows_its_generations(tree) -> None:
    async def body(node: Node) -> None:
        old = await node.newservice("cacheuser")
        write_value(tree, 1)
        await node.call(old, "lua", "load", "value.lua")
        assert await node.call(old, "lua", "clear") == (2,)
        new = await node.newservice("cacheuser")
        await node.call(new, "lua", "load", "value.lua")
        by_handle = {s.handle: s.generations for s in node.services()}
        assert by_handle[old]["value.lua"] == 1
        assert by_handle[new]["value.lua"] == 2
        # the service file itself came from the generation current at its launch
        assert by_handle[old]["./service/cacheuser.lua"] == 1
        assert by_handle[new]["./service/cacheuser.lua"] == 2

        gens = {g.number: g for g in generations.list_generations(node)}
        assert set(gens) == {1, 2} and gens[2].current and not gens[1].current
        assert old in gens[1].services and new not in gens[1].services
        assert new in gens[2].services
        assert "value.lua" in {f.filename for f in gens[1].files}
        assert gens[1].bytes == sum(f.bytes for f in gens[1].files) > 0

    run(tree, body)


def test_stale_services_are_the_ones_running_old_code(tree) -> None:
    async def body(node: Node) -> None:
        a = await node.newservice("cacheuser")
        b = await node.newservice("cacheuser")
        write_value(tree, 1)
        await node.call(a, "lua", "load", "value.lua")
        assert generations.stale(node) == []
        write_value(tree, 2)
        await node.call(b, "lua", "clear")
        await node.call(b, "lua", "load", "value.lua")
        stale = generations.stale(node)
        assert [(s.handle, s.filename, s.generation) for s in stale] == [(a, "value.lua", 1)]
        assert stale[0].disk_digest is not None and stale[0].disk_digest != stale[0].digest
        # the same answer from Lua
        (rows,) = await node.call(b, "lua", "stale")
        assert [(r[b"address"], r[b"filename"], r[b"generation"]) for r in rows] == [
            (f":{a:08x}".encode(), b"value.lua", 1)]
        (gens,) = await node.call(b, "lua", "generations")
        assert [g[b"generation"] for g in gens] == [1, 2]
        assert gens[1][b"current"] is True and gens[0][b"bytes"] > 0

    run(tree, body)


def test_old_generations_stay_until_purged(tree) -> None:
    async def body(node: Node) -> None:
        holder = await node.newservice("cacheuser")
        write_value(tree, 1)
        await node.call(holder, "lua", "load", "value.lua")
        gen1_bytes = node.codecache.generations[1].bytes
        await node.call(holder, "lua", "clear")
        await node.call(holder, "lua", "clear")
        # as in skynet, clear frees nothing: generation 1 is still there, with its bytes
        assert sorted(node.codecache.generations) == [1, 2, 3]
        assert node.codecache.generations[1].bytes == gen1_bytes
        (r,) = await node.call(holder, "lua", "purge")
        assert r[b"freed"] == [2] and r[b"bytes"] == 0
        [pin] = r[b"pinned"]
        assert pin[b"generation"] == 1 and f":{holder:08x}".encode() in pin[b"services"]
        # every service that held generation 1 exits: now it can go
        for s in list(node.services()):
            if s.generations and s.handle != holder and min(s.generations.values()) == 1:
                node.kill(s.handle)
        node.kill(holder)
        await node.wait_idle()
        result = generations.purge(node)
        assert result.freed == [1] and result.freed_bytes == gen1_bytes
        assert result.pinned == {}
        assert sorted(node.codecache.generations) == [3]

    run(tree, body)


def test_clear_while_a_module_is_loading(tree) -> None:
    """A module that clears the cache during its own load keeps the code it started with."""
    async def body(node: Node) -> None:
        svc = await node.newservice("cacheuser")
        (mod,) = await node.call(svc, "lua", "require", "clearing_module")
        assert mod[b"cleared_to"] == 2
        chunks = node.service(svc).chunks
        assert chunks["./service/clearing_module.lua"].generation == 1
        assert "./service/clearing_module.lua" not in node.codecache.current.chunks
        # a later service reads the file again into generation 2
        other = await node.newservice("cacheuser")
        await node.call(other, "lua", "require", "clearing_module")
        assert node.service(other).chunks["./service/clearing_module.lua"].generation == 2

    run(tree, body)


def test_clear_between_two_loads_of_one_service(tree) -> None:
    async def body(node: Node) -> None:
        slow = await node.newservice("cacheuser")
        other = await node.newservice("cacheuser")
        write_value(tree, 1, "a.lua")
        write_value(tree, 1, "b.lua")
        call = asyncio.ensure_future(node.call(slow, "lua", "slow", "a.lua", "b.lua", 2))
        await node.wait_idle()
        write_value(tree, 2, "b.lua")
        await node.call(other, "lua", "clear")
        assert await call == (1, 2)
        gens = node.service(slow).chunks
        assert gens["a.lua"].generation == 1 and gens["b.lua"].generation == 2
        held = generations.holders(node)
        assert slow in held[1] and slow in held[2]

    run(tree, body)


def test_clear_from_a_dead_service_does_not_exist(tree) -> None:
    async def body(node: Node) -> None:
        svc = await node.newservice("cacheuser")
        node.kill(svc)
        await node.wait_idle()
        try:
            await node.call(svc, "lua", "clear")
        except CallError:
            pass
        else:
            raise AssertionError("a dead service answered")
        assert node.codecache.generation == 1

    run(tree, body)
