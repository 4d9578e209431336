"""Attaching to a node in another process over its debug console, real TCP, no mocks.

The node is `skykernel run` with a debug_console (tests/remote_node.py); the client side is
skykernel.remote only: the same code that attaches to a real skynet node.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path

import pytest
from remote_node import NodeProcess, write_node_tree

from skykernel.remote import parse
from skykernel.remote.client import CommandTimeout, ConnectionLost, ConsoleClient
from skykernel.remote.session import RemoteError, RemoteNode, Remotes, is_loopback


@pytest.fixture
def node(tmp_path: Path) -> Iterator[NodeProcess]:
    write_node_tree(tmp_path)
    proc = NodeProcess(tmp_path)
    try:
        yield proc
    finally:
        proc.kill()


def attached(port: int, body: Callable[[RemoteNode], Awaitable[None]], **kw) -> None:
    async def main() -> None:
        remotes = Remotes()
        try:
            n = await remotes.connect("127.0.0.1", port, "game1", **kw)
            await asyncio.wait_for(body(n), 120)
        finally:
            await remotes.close_all()

    asyncio.run(main())


def test_a_cell_runs_in_the_remote_service_with_output_values_and_globals(node) -> None:
    async def body(n: RemoteNode) -> None:
        r = await n.run_cell(".agent", "print('hi', nil, 1)\nanswer = 41\nreturn answer + 1",
                             session="k", name="cell[1]")
        assert (r.ok, r.output, r.values) == (True, "hi\tnil\t1", ["42"])
        r = await n.run_cell(".agent", "answer", session="k")  # an expression, a global kept
        assert r.values == ["41"]
        r = await n.run_cell(".agent", "return {1, 2, x = 'y'}, 'a\\tb'", session="k")
        assert r.values[0] == '{ 1, 2, x = "y" }'
        r = await n.run_cell(".agent", "print('<CMD OK>')\nreturn ']]'", session="k")
        assert (r.output, r.values) == ("<CMD OK>", ['"]]"'])

    attached(node.port, body)


def test_errors_come_back_apart_from_output_and_the_service_keeps_serving(node) -> None:
    async def body(n: RemoteNode) -> None:
        r = await n.run_cell(".agent", "print('before')\nlocal t = nil\nreturn t.x",
                             session="k", name="cell[2]")
        assert not r.ok and r.output == "before"
        assert r.error.startswith("cell[2]:3: attempt to index a nil value")
        assert "inject" not in r.error  # the traceback stops at the cell
        r = await n.run_cell(".agent", "local = 1", session="k", name="cell[3]")
        assert not r.ok and r.error.startswith("cell[3]:1:")
        r = await n.run_cell(".nosuch", "return 1", session="k")
        assert not r.ok and "Not a valid name" in r.error
        assert (await n.run_cell(".agent", "return 1 + 1", session="k")).values == ["2"]

    attached(node.port, body)


def test_patching_a_handler_through_inject_changes_what_callers_get(node) -> None:
    async def body(n: RemoteNode) -> None:
        assert (await n.command('call .agent "hello", "bob"')).lines == ["1\thello bob", "n\t1"]
        r = await n.run_cell(".agent", "local old = _P.lua.CMD.hello\n"
                             "_P.lua.CMD.hello = function(who) return 'patched ' .. old(who) end",
                             session="k")
        assert r.ok, r.error
        assert (await n.command('call .agent "hello", "bob"')).lines == [
            "1\tpatched hello bob", "n\t1"]

    attached(node.port, body)


def test_the_cell_file_is_removed_after_the_inject(node, tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()

    async def body(n: RemoteNode) -> None:
        assert n.same_host
        r = await n.run_cell(".agent", "return 7", session="k")
        assert r.values == ["7"]
        assert list(shared.iterdir()) == []

    attached(node.port, body, shared=(shared, str(shared)))


def test_another_host_without_a_shared_dir_says_what_works() -> None:
    n = RemoteNode("far", ConsoleClient("10.1.2.3", 8000))
    assert not n.same_host and is_loopback("127.0.0.1") and is_loopback("::1")
    with pytest.raises(RemoteError) as e:
        asyncio.run(n.run_cell(":0000000b", "return 1", session="k"))
    assert "another host" in str(e.value) and "shared=" in str(e.value)
    assert "%console far call" in str(e.value)


def test_a_shared_dir_the_node_cannot_see_is_reported(node, tmp_path: Path) -> None:
    shared = tmp_path / "here"
    shared.mkdir()

    async def body(n: RemoteNode) -> None:
        with pytest.raises(RemoteError) as e:
            await n.run_cell(".agent", "return 1", session="k")
        assert "could not read the cell's file /nonexistent/x/" in str(e.value)
        assert list(shared.iterdir()) == []

    attached(node.port, body, shared=(shared, "/nonexistent/x"))


def test_services_and_tabular_console_answers(node) -> None:
    async def body(n: RemoteNode) -> None:
        header, rows = await n.services()
        assert header[:2] == ["address", "name"]
        names = [r[1].split()[0] for r in rows]
        assert names[:3] == ["cdummy", "datacenterd", "service_mgr"]
        assert "main" in names and "debug_console" in names
        stat = await n.command("stat")
        h, srows = parse.table("stat", stat.lines)
        assert h == ["address", "cpu", "message", "mqlen", "task"] and len(srows) == len(rows)
        bad = await n.command("nosuch")
        assert not bad.ok and bad.lines[0] == "Invalid command, type help for command list"

    attached(node.port, body)


def test_several_nodes_by_name(tmp_path: Path) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    write_node_tree(a)
    write_node_tree(b)
    pa, pb = NodeProcess(a), NodeProcess(b)
    try:
        async def main() -> None:
            remotes = Remotes()
            try:
                n1 = await remotes.connect("127.0.0.1", pa.port, "game1")
                n2 = await remotes.connect("localhost", pb.port)
                assert n2.name == "node1" and set(remotes.nodes) == {"game1", "node1"}
                await n1.run_cell(".agent", "who = 'one'", session="k")
                await n2.run_cell(".agent", "who = 'two'", session="k")
                assert (await n1.run_cell(".agent", "who", session="k")).values == ['"one"']
                assert (await n2.run_cell(".agent", "who", session="k")).values == ['"two"']
                node, addr = remotes.split("game1:.agent")
                assert node is n1 and addr == ".agent"
                assert remotes.split(":0000000b") is None and remotes.split(".agent") is None
                assert remotes.split("node1:0000000b")[1] == "0000000b"
                with pytest.raises(RemoteError, match="no node named 'nope'"):
                    remotes.split("nope:.agent")
                await remotes.disconnect("game1")
                assert list(remotes.nodes) == ["node1"]
            finally:
                await remotes.close_all()

        asyncio.run(main())
    finally:
        pa.kill()
        pb.kill()


def test_connection_refused_is_a_clear_error() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed when the block ends: nothing listens there

    async def main() -> None:
        with pytest.raises(RemoteError) as e:
            await Remotes().connect("127.0.0.1", port, "gone")
        assert f"cannot connect to 127.0.0.1:{port}" in str(e.value)

    asyncio.run(main())


def test_a_command_that_never_answers_times_out_and_the_connection_is_reset(node) -> None:
    async def body(n: RemoteNode) -> None:
        with pytest.raises(RemoteError) as e:
            await n.command('call .agent "sleep"', timeout=1)
        assert "no answer" in str(e.value) and "reset" in str(e.value)
        assert not n.client.connected
        assert (await n.command('call .agent "hello", 1')).lines == ["1\thello 1", "n\t1"]
        assert n.client.connects == 2

    attached(node.port, body)


def test_connection_lost_mid_command(node) -> None:
    async def body(n: RemoteNode) -> None:
        task = asyncio.ensure_future(n.client.command('call .agent "sleep"'))
        await asyncio.to_thread(node.wait_for, "sleeping")
        node.kill()
        with pytest.raises(ConnectionLost, match="lost during"):
            await task
        with pytest.raises(RemoteError, match="cannot connect"):
            await n.command("list")

    attached(node.port, body)


def test_a_restarted_node_is_reached_again(tmp_path: Path) -> None:
    write_node_tree(tmp_path)
    first = NodeProcess(tmp_path)
    port = first.port
    second = None
    try:
        async def main() -> None:
            nonlocal second
            remotes = Remotes()
            try:
                n = await remotes.connect("127.0.0.1", port, "game1")
                assert (await n.run_cell(".agent", "return 1", session="k")).values == ["1"]
                first.kill()
                second = await asyncio.to_thread(NodeProcess, tmp_path, port)
                assert second.port == port
                r = await n.run_cell(".agent", "return 2", session="k")
                assert r.values == ["2"] and n.client.connects == 2
            finally:
                await remotes.close_all()

        asyncio.run(main())
    finally:
        first.kill()
        if second is not None:
            second.kill()


def test_client_refuses_lines_the_console_cannot_take() -> None:
    c = ConsoleClient("127.0.0.1", 1)
    for bad in ("a\nb", "", "GET /list"):
        with pytest.raises(ValueError):
            asyncio.run(c.command(bad))
    assert CommandTimeout.__mro__[1].__name__ == "ConsoleError"
