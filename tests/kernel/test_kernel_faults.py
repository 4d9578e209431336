"""Faults found by trying to break the kernel, each pinned down over real ZeroMQ."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from jupyter_client.manager import start_new_kernel
from kernel_client import logs, result, run, text


@pytest.fixture(scope="module")
def kernel(tmp_path_factory: pytest.TempPathFactory):
    cwd = tmp_path_factory.mktemp("faults")
    km, kc = start_new_kernel(kernel_name="skynet", cwd=str(cwd))
    kc.cwd = Path(cwd)  # type: ignore[attr-defined]
    try:
        yield kc
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)


def _collect(kc: Any, msg_ids: list[str], timeout: float = 30) -> dict[str, list[dict]]:
    """iopub messages per request until each has had its idle status (or time is up)."""
    got: dict[str, list[dict]] = {m: [] for m in msg_ids}
    idle: dict[str, int] = {m: 0 for m in msg_ids}
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and not all(idle.values()):
        try:
            msg = kc.get_iopub_msg(timeout=0.5)
        except Exception:  # noqa: BLE001 - queue.Empty: keep waiting until the deadline
            continue
        parent = msg["parent_header"].get("msg_id")
        if parent in got:
            got[parent].append(msg)
            if msg["msg_type"] == "status" and msg["content"]["execution_state"] == "idle":
                idle[parent] += 1
    return got


# The race JupyterLab hit in Run All: a comm message (widgets talk while cells run) that
# arrives during one cell and is served after the next cell started. These two cells make
# that interleaving happen on purpose: the first starts serving a real comm_msg through
# the kernel's own shell_main, in the shell's context, and leaves it in flight; the second
# lets it finish while it runs.
CELL_A = """%%python
import zmq
msg = kernel.session.msg("comm_msg", {"comm_id": "nobody", "data": {}})
frames = [zmq.Frame(f) for f in kernel.session.serialize(msg, [b"front-end"])]
comm_in_flight = kernel.shell_main(None, frames)
comm_step = comm_in_flight.send(None)
"""
CELL_B = """%%python
await comm_step
try:
    comm_in_flight.send(None)
except StopIteration:
    pass
print("B's own output")
"""


def test_a_comm_served_across_two_cells_leaves_the_second_its_own_output(kernel):
    run(kernel, "%%service victim\nlocal skynet = require 'skynet'\nskynet.start(function() end)")
    reply, out = run(kernel, "%newservice victim")
    assert reply["status"] == "ok", reply
    victim = text(out).split()[0]
    a = kernel.execute(CELL_A)
    b = kernel.execute(CELL_B)
    c = kernel.execute(f"%kill {victim}")
    got = _collect(kernel, [a, b, c])
    streams = {k: "".join(m["content"]["text"] for m in v if m["msg_type"] == "stream")
               for k, v in got.items()}
    idles = {k: sum(1 for m in v if m["msg_type"] == "status"
                    and m["content"]["execution_state"] == "idle") for k, v in got.items()}
    assert streams[a] == ""
    assert streams[b] == "B's own output\n"
    assert f"killed {victim}" in streams[c] and "KILL" in logs(got[c])
    assert idles == {a: 1, b: 1, c: 1}


def test_boot_with_a_bad_config_keeps_the_running_node(kernel, tmp_path: Path):
    run(kernel, "kept = 41")
    reply, out = run(kernel, "%boot /nonexistent/config")
    assert reply["status"] == "error"
    assert reply["ename"] == "MagicError"
    assert "config file not found: /nonexistent/config" in reply["evalue"]
    assert "untouched" in reply["evalue"]
    assert reply["traceback"] == [f"MagicError: {reply['evalue']}"]
    no_start = tmp_path / "nostart.cfg"
    no_start.write_text('start = "no_such_service"\nluaservice = "./service/?.lua"\n')
    reply, _ = run(kernel, f"%boot {no_start}")
    assert reply["status"] == "error"
    assert "start service 'no_such_service' is not on the service path" in reply["evalue"]
    broken = tmp_path / "broken.cfg"
    broken.write_text("thread = = 2\n")
    reply, _ = run(kernel, f"%boot {broken}")
    assert reply["status"] == "error" and "syntax error" in reply["evalue"]
    _, out = run(kernel, "return kept + 1")
    assert result(out) == "42"


def test_kill_without_an_address_prints_its_usage(kernel):
    reply, _ = run(kernel, "%kill")
    assert reply["status"] == "error"
    assert reply["evalue"].startswith("usage: %kill ADDR")


def test_a_debug_request_is_refused_with_a_reply(kernel):
    msg = kernel.session.msg("debug_request", {"seq": 7, "type": "request",
                                               "command": "initialize", "arguments": {}})
    kernel.control_channel.send(msg)
    reply = kernel.get_control_msg(timeout=10)
    while reply["parent_header"].get("msg_id") != msg["header"]["msg_id"]:
        reply = kernel.get_control_msg(timeout=10)
    assert reply["msg_type"] == "debug_reply"
    content = reply["content"]
    assert content["success"] is False and content["request_seq"] == 7
    assert "debugger is not available" in content["message"]


def test_a_value_whose_tostring_loops_is_shown_as_such(kernel):
    started = time.monotonic()
    reply, out = run(kernel, "return setmetatable({}, {__tostring = function() "
                             "while true do end end}), 'next'")
    assert reply["status"] == "ok", reply
    assert result(out) == ('<a table that could not be shown: showing it took too long>'
                           '\t"next"')
    assert time.monotonic() - started < 60  # bounded: it used to hang until interrupted
    _, out = run(kernel, "return setmetatable({}, {__tostring = function() return 'obj' end})")
    assert result(out) == "obj"
