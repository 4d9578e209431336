"""The stop button between cells: a loop a timer set off stops, the kernel and the service
go on (over real ZeroMQ)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from jupyter_client.manager import start_new_kernel
from kernel_client import logs, result, run, text

SPINNER = """%%service spinner
local skynet = require 'skynet'
skynet.start(function()
  skynet.dispatch('lua', function(_, _, cmd)
    if cmd == 'spin' then
      skynet.timeout(1, function()
        skynet.error('spinning from a timer')
        while true do end
      end)
    end
    skynet.ret(skynet.pack(cmd))
  end)
end)
"""


@pytest.fixture(scope="module")
def kernel(tmp_path_factory: pytest.TempPathFactory):
    cwd = tmp_path_factory.mktemp("runaway")
    km, kc = start_new_kernel(kernel_name="skynet", cwd=str(cwd))
    kc.cwd = Path(cwd)  # type: ignore[attr-defined]
    kc._km = km  # type: ignore[attr-defined]
    try:
        yield kc
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)


def _wait_for_text(kc: Any, text: str, timeout: float = 30) -> None:
    """Wait for a stream message with `text`, whichever cell it is attached to."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            msg = kc.get_iopub_msg(timeout=1)
        except Exception:  # noqa: BLE001 - queue.Empty: keep waiting
            continue
        if ((msg["msg_type"] == "stream" and text in msg["content"]["text"])
                or text in logs([msg])):
            return
    raise AssertionError(f"no output with {text!r} within {timeout} s")


def test_stop_between_cells_ends_a_loop_a_timer_set_off(kernel):
    run(kernel, SPINNER)
    reply, out = run(kernel, "%newservice spinner")
    assert reply["status"] == "ok", reply
    address = text(out).split()[0]
    reply, out = run(kernel, f"%call {address} lua 'spin'")
    assert result(out) == '"spin"'
    # the loop starts as the cell ends: its log line comes with the cell or just after it
    if "spinning from a timer" not in logs(out):
        _wait_for_text(kernel, "spinning from a timer")
    # cells still run while it loops: the node is not frozen
    reply, out = run(kernel, "return 1 + 1")
    assert result(out) == "2"
    kernel._km.interrupt_kernel()  # the stop button, with no cell running
    _wait_for_text(kernel, "interrupted")
    # the service serves again, and the kernel is the same kernel
    reply, out = run(kernel, f"%call {address} lua 'ping'")
    assert reply["status"] == "ok", reply
    assert result(out) == '"ping"'
