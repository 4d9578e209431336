"""The kernel over real ZeroMQ: cells, magics, errors, logs, interrupts, bad input."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from jupyter_client.manager import start_new_kernel
from kernel_client import logs, result, run, text


@pytest.fixture(scope="module")
def kernel(tmp_path_factory: pytest.TempPathFactory):
    cwd = tmp_path_factory.mktemp("kernel")
    km, kc = start_new_kernel(kernel_name="skynet", cwd=str(cwd))
    kc.cwd = Path(cwd)  # type: ignore[attr-defined]
    kc._km = km  # type: ignore[attr-defined]
    try:
        yield kc
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)


def test_first_cell_runs_in_the_default_service(kernel):
    reply, out = run(kernel, 'print("hi", nil, 1)\nreturn require("skynet").self()')
    assert reply["status"] == "ok"
    assert text(out) == "hi\tnil\t1\n"
    assert result(out) is not None and int(result(out)) > 0


def test_variables_persist_between_cells(kernel):
    run(kernel, "counter = 41")
    reply, out = run(kernel, "counter = counter + 1\nreturn counter")
    assert result(out) == "42"


def test_tables_are_pretty_printed_and_cycles_marked(kernel):
    _, out = run(kernel, "local t = {1, 2, x = 'y'}\nt.self = t\nreturn t")
    shown = result(out)
    assert shown.startswith("{ 1, 2, ")
    assert "self = <cycle: table:" in shown
    assert 'x = "y"' in shown


def test_syntax_error_names_the_line(kernel):
    reply, out = run(kernel, "local a = 1\nlocal = 2")
    assert reply["status"] == "error"
    assert ":2:" in reply["evalue"]


def test_runtime_error_keeps_the_service_serving(kernel):
    reply, _ = run(kernel, "local t = nil\nreturn t.x")
    assert reply["status"] == "error"
    assert reply["ename"] == "LuaError"
    assert "attempt to index" in reply["evalue"]
    assert not any("runtime/lualib" in line for line in reply["traceback"])
    _, out = run(kernel, "return 'still here'")
    assert result(out) == '"still here"'


def test_cells_may_call_and_sleep(kernel):
    reply, out = run(kernel, "local skynet = require 'skynet'\n"
                             "skynet.sleep(5)\n"
                             "return skynet.call('.launcher', 'lua', 'LIST') ~= nil")
    assert reply["status"] == "ok", reply
    assert result(out) == "true"


def test_log_lines_reach_the_cell_muted_not_as_errors(kernel):
    _, out = run(kernel, "local skynet = require('skynet')\n"
                         "skynet.error('a log line')\nskynet.error('another')")
    assert text(out, "stderr") == ""  # red is for errors
    shown = logs(out)
    assert "] a log line\n" in shown and shown.endswith("] another")
    blocks = [m for m in out if m["msg_type"] in ("display_data", "update_display_data")]
    # one block, grown in place: a display, then an update of the same display id
    assert [m["msg_type"] for m in blocks] == ["display_data", "update_display_data"]
    assert len({m["content"]["transient"]["display_id"] for m in blocks}) == 1
    html = blocks[-1]["content"]["data"]["text/html"]
    assert html.startswith('<pre class="sk-log"') and "color:#777" in html


def test_unknown_magic_is_one_line_pointing_to_lsmagic(kernel):
    reply, _ = run(kernel, "%frobnicate")
    assert reply["status"] == "error"
    assert reply["evalue"] == ("unknown magic %frobnicate (%lsmagic lists them, %help NAME "
                               "explains one)")
    assert "\n" not in reply["evalue"] and reply["traceback"] == [
        f"MagicError: {reply['evalue']}"]
    reply, _ = run(kernel, "%cal .x")
    assert "did you mean %call?" in reply["evalue"]
    reply, _ = run(kernel, "%time")  # a known magic misused: its usage
    assert reply["evalue"].startswith("usage: %time CODE")


def test_use_of_an_unknown_address_lists_services(kernel):
    reply, _ = run(kernel, "%use :00abcdef")
    assert reply["status"] == "error"
    assert "no service at :00abcdef" in reply["evalue"]
    assert "launcher" in reply["evalue"]


def test_service_magic_newservice_use_and_target_death(kernel):
    run(kernel, "%%service counter\n"
                "local skynet = require 'skynet'\n"
                "local CMD = {}\n"
                "local n = 0\n"
                "function CMD.inc() n = n + 1 return n end\n"
                "skynet.start(function()\n"
                "  skynet.dispatch('lua', function(_, _, cmd, ...)\n"
                "    skynet.ret(skynet.pack(CMD[cmd](...)))\n"
                "  end)\n"
                "end)\n")
    assert (kernel.cwd / "service" / "counter.lua").exists()
    reply, out = run(kernel, "%newservice counter")
    assert reply["status"] == "ok", reply
    address = text(out).split()[0]
    assert address.startswith(":")
    _, out = run(kernel, f"%call {address} lua 'inc'")
    assert result(out) == "1"
    for form in (address, address.lstrip(":0") or "0"):
        reply, out = run(kernel, f"%use {form}")
        assert reply["status"] == "ok", reply
    _, out = run(kernel, "return _P.lua.CMD.inc()")
    assert result(out) == "2"
    run(kernel, f"%kill {address}")
    reply, out = run(kernel, "return 'after'")
    assert reply["status"] == "ok"
    assert "is gone" in text(out, "stderr")
    assert result(out) == '"after"'


def test_big_output_is_truncated_and_kernel_stays_responsive(kernel):
    reply, out = run(kernel, "print(string.rep('x', 10 * 1024 * 1024))")
    assert reply["status"] == "ok"
    shown = text(out)
    assert len(shown) < 2_000_000
    assert "output truncated" in shown
    _, out = run(kernel, "return 1")
    assert result(out) == "1"


def test_non_utf8_output_is_replaced(kernel):
    reply, out = run(kernel, "print('a\\xff\\xfeb')")
    assert reply["status"] == "ok"
    assert text(out) == "a\ufffd\ufffdb\n"


def test_python_cell_sees_the_node(kernel):
    _, out = run(kernel, "%%python\nprint(sorted(s.name for s in node.services())[:3])")
    assert "bootstrap" not in text(out)
    assert "[" in text(out)


def test_interrupt_a_pure_lua_loop(kernel):
    # an error reply makes ipykernel drop requests that arrive before it stops aborting:
    # the cells a test interrupts do not stop the next ones
    msg_id = kernel.execute("require('skynet').error('looping')\nwhile true do end",
                            stop_on_error=False)
    _wait_for_log(kernel, msg_id, "looping")
    _interrupt(kernel)
    reply = _reply(kernel, msg_id)
    assert reply["status"] == "error"
    assert reply["ename"] == "KeyboardInterrupt"
    after, out = run(kernel, "return 'alive'")
    assert result(out) == '"alive"', (after, out)


def test_interrupt_during_a_call(kernel):
    # DATACENTER answers WAIT only once the key is set: never, here.
    msg_id = kernel.execute("local skynet = require 'skynet'\n"
                            "skynet.error('waiting')\n"
                            "skynet.call('DATACENTER', 'lua', 'WAIT', 'never-set')",
                            stop_on_error=False)
    _wait_for_log(kernel, msg_id, "waiting")
    _interrupt(kernel)
    reply = _reply(kernel, msg_id)
    assert reply["status"] == "error"
    _, out = run(kernel, "return 'alive'")
    assert result(out) == '"alive"'


def _wait_for_log(kc: Any, msg_id: str, text: str) -> None:
    """Wait until the cell has logged `text`: it is running, so the interrupt hits it."""
    while True:
        msg = kc.get_iopub_msg(timeout=60)
        if (msg["parent_header"].get("msg_id") == msg_id and text in logs([msg])):
            time.sleep(0.2)
            return


def _interrupt(kc: Any) -> None:
    km = kc._km  # set by the fixture below
    km.interrupt_kernel()


def _reply(kc: Any, msg_id: str) -> dict[str, Any]:
    while True:
        reply = kc.get_shell_msg(timeout=60)
        if reply["parent_header"].get("msg_id") == msg_id:
            return reply["content"]


def test_console_magic_answers_like_the_debug_console(kernel):
    reply, out = run(kernel, "%console list")
    assert reply["status"] == "ok", reply
    lines = text(out).splitlines()
    # services the launcher started, as skynet's `list` shows them: a table, as for a
    # remote node's console
    assert lines[0].split() == ["address", "service"]
    assert any(line.split() == [":00000004", "snlua", "cdummy"] for line in lines)
    reply, out = run(kernel, "%console nosuchcommand")
    assert reply["status"] == "error" and reply["ename"] == "ConsoleError"
    assert reply["evalue"] == "Invalid command, type help for command list"
    assert "Invalid command, type help for command list" in text(out, "stderr")


def test_a_magic_that_fails_unexpectedly_still_answers(kernel):
    reply, _ = run(kernel, "%codecache mode NOT-A-MODE")
    assert reply["status"] == "error"
    reply, out = run(kernel, "%use .notebook")
    assert reply["status"] == "ok", reply
    assert "notebook" in text(out)


def test_interrupted_wait_keeps_later_lua_interruptible(kernel):
    # The cell waits on a service that starts looping only after the interrupt. The cell's
    # RUN is still pending, so the hook stays armed: a second interrupt stops the loop
    # instead of the kernel hanging in it for good.
    run(kernel, "%%service looper\n"
                "local skynet = require 'skynet'\n"
                "skynet.start(function()\n"
                "  skynet.dispatch('lua', function()\n"
                "    skynet.error('going to loop soon')\n"
                "    skynet.sleep(100)\n"
                "    skynet.error('looping now')\n"
                "    while true do end\n"
                "  end)\n"
                "end)\n")
    reply, out = run(kernel, "%newservice looper")
    address = text(out).split()[0]
    msg_id = kernel.execute(f"require('skynet').call({int(address[1:], 16)}, 'lua', 'go')",
                            stop_on_error=False)
    _wait_for_log(kernel, msg_id, "going to loop soon")
    _interrupt(kernel)
    assert _reply(kernel, msg_id)["ename"] == "KeyboardInterrupt"
    _wait_for_log(kernel, msg_id, "looping now")
    _interrupt(kernel)
    after, out = run(kernel, "return 'alive'")
    assert result(out) == '"alive"', (after, out)


def test_restart_gives_a_fresh_node_and_shutdown_is_clean(tmp_path):
    km, kc = start_new_kernel(kernel_name="skynet", cwd=str(tmp_path))
    try:
        run(kc, "kept = 'before restart'")
        km.restart_kernel(now=False)  # asks the kernel to shut down: the node closes first
        kc.wait_for_ready(timeout=60)
        reply, out = run(kc, "return kept")
        assert reply["status"] == "ok"
        assert result(out) == "nil"  # a new node, a new environment
        reply, out = run(kc, "%services")
        assert reply["status"] == "ok"
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=False)
    assert km.provisioner is None or not km.is_alive()
