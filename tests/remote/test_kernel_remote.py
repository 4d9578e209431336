"""The kernel over ZeroMQ attached to a node in another process: %connect, %use NODE:ADDR,
a remote cell, %services NODE, %console NODE, and back to the local node."""

from __future__ import annotations

import pytest
from jupyter_client.manager import start_new_kernel
from kernel_client import result, run, text
from remote_node import NodeProcess, write_node_tree


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("remote-node")
    write_node_tree(root)
    proc = NodeProcess(root)
    km = kc = None
    try:
        cwd = tmp_path_factory.mktemp("kernel")
        km, kc = start_new_kernel(kernel_name="skynet", cwd=str(cwd))
        yield kc, proc
    finally:
        if kc is not None:
            kc.stop_channels()
        if km is not None:
            km.shutdown_kernel(now=True)
        proc.kill()


def test_connect_use_run_console_and_back(setup) -> None:
    kc, proc = setup
    _, out = run(kc, "return require('skynet').self()")
    local = int(result(out))
    reply, out = run(kc, f"%connect 127.0.0.1:{proc.port} as game1")
    assert reply["status"] == "ok", out
    assert "connected game1" in text(out)
    reply, out = run(kc, "%nodes")
    assert "game1\t127.0.0.1:" in text(out)

    reply, out = run(kc, "%use game1:.agent")
    assert "cells now run in game1:.agent" in text(out)
    reply, out = run(kc, "print('remote', nil)\nx = 20\nreturn x + 1")
    assert reply["status"] == "ok" and text(out) == "remote\tnil\n" and result(out) == "21"
    reply, out = run(kc, "return require('skynet').self()")
    assert result(out) == str(0x8)  # .agent is the node's `main`, :00000008

    reply, out = run(kc, "local t = nil\nreturn t.y")
    assert reply["status"] == "error" and reply["ename"] == "LuaError"
    assert "attempt to index a nil value" in reply["evalue"]

    reply, out = run(kc, "_P.lua.CMD.hello = function(w) return 'hi ' .. w end")
    assert reply["status"] == "ok"
    reply, out = run(kc, '%console game1 call .agent "hello", "ann"')
    assert "1\thi ann" in text(out)
    reply, out = run(kc, "%console game1 mem")
    first = text(out).splitlines()[0].split()
    assert first == ["address", "memory", "service"]
    reply, out = run(kc, "%console game1 nosuch")
    assert reply["status"] == "error" and reply["ename"] == "ConsoleError"
    reply, out = run(kc, "%services game1")
    assert "main" in text(out) and "debug_console" in text(out)

    reply, out = run(kc, "%use game1:.nosuch")
    assert reply["status"] == "error" and "no service .nosuch on game1" in reply["evalue"]

    reply, out = run(kc, f"%use :{local:08x}")
    assert reply["status"] == "ok"
    reply, out = run(kc, "return x")
    assert result(out) == "nil"  # the local service never saw the remote x
    reply, out = run(kc, "%%inject game1:.agent\nreturn x")
    assert result(out) == "20"
    reply, out = run(kc, "%protocols game1:.agent")
    assert reply["status"] == "ok", reply
    shown = [m for m in out if m["msg_type"] == "display_data"]
    assert shown and "lua" in str(shown[0]["content"]["data"].get("text/plain", ""))
    reply, out = run(kc, "%upvalues game1:.agent")
    assert reply["status"] == "ok", reply
    assert any(m["msg_type"] == "display_data" for m in out)
    reply, out = run(kc, "%disconnect game1")
    assert "disconnected game1" in text(out)
    reply, out = run(kc, "%use game1:.agent")
    assert reply["status"] == "error" and "no node named 'game1'" in reply["evalue"]


def test_refused_connect_leaves_the_kernel_working(setup) -> None:
    kc, _ = setup
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    reply, out = run(kc, f"%connect 127.0.0.1:{port} as gone")
    assert reply["status"] == "error" and "cannot connect" in reply["evalue"]
    reply, out = run(kc, "return 1 + 1")
    assert result(out) == "2"


