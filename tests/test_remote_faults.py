"""Remote nodes that misbehave: dead, stopped, silent, or answering far too much.

Everything here is real: `skykernel run` nodes in their own processes, the kernel over
ZeroMQ, and, where a node must do what no healthy node does (never greet, answer 10 MB,
send one 20 MB line), a console server on 127.0.0.1 in this process that speaks the debug
console's line protocol. Time bounds are generous; nothing here measures speed.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from jupyter_client.manager import start_new_kernel
from remote_node import NodeProcess, write_node_tree
from test_kernel import run, text


@pytest.fixture
def node_factory(tmp_path: Path) -> Iterator[Any]:
    procs: list[NodeProcess] = []

    def make() -> NodeProcess:
        root = tmp_path / f"node{len(procs) + 1}"
        root.mkdir()
        write_node_tree(root)
        procs.append(NodeProcess(root))
        return procs[-1]

    try:
        yield make
    finally:
        for p in procs:
            p.kill()  # SIGKILL ends a stopped process too


@pytest.fixture
def kernel(tmp_path: Path) -> Iterator[tuple[Any, Any]]:
    cwd = tmp_path / "kernel"
    cwd.mkdir()
    km, kc = start_new_kernel(kernel_name="skynet", cwd=str(cwd))
    try:
        yield km, kc
    finally:
        kc.stop_channels()
        if km.is_alive():
            km.shutdown_kernel(now=True)


def _control_reply(kc: Any, msg_id: str, timeout: float) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        msg = kc.get_control_msg(timeout=max(0.1, deadline - time.monotonic()))
        if msg["parent_header"].get("msg_id") == msg_id:
            return msg


# --- shutdown and restart with remote nodes attached ---------------------------------------


@pytest.mark.parametrize("restart", [False, True], ids=["shutdown", "restart"])
def test_shutdown_and_restart_reply_with_live_dead_and_stopped_nodes(
        kernel, node_factory, restart: bool) -> None:
    km, kc = kernel
    live, dead, stopped = node_factory(), node_factory(), node_factory()
    for name, proc in (("live", live), ("dead", dead), ("stopped", stopped)):
        reply, out = run(kc, f"%connect 127.0.0.1:{proc.port} as {name}")
        assert reply["status"] == "ok", (reply, out)
    reply, out = run(kc, "%console live list")
    assert reply["status"] == "ok" and "debug_console" in text(out)
    dead.kill()
    # A stopped process still has its socket: TCP is accepted, nothing ever answers.
    os.kill(stopped.proc.pid, signal.SIGSTOP)
    kc.execute("%console stopped list")  # a cell left waiting on the stopped node
    kernel_proc = km.provisioner.process

    msg_id = kc.shutdown(restart=restart)
    reply = _control_reply(kc, msg_id, timeout=20)
    assert reply["msg_type"] == "shutdown_reply"
    assert reply["content"] == {"status": "ok", "restart": restart}
    assert kernel_proc.wait(20) == 0  # it exited by itself, cleanly
