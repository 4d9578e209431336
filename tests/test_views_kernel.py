"""The view magics over real ZeroMQ: %upvalues, %protocols, %codecache, %services publish
widgets with text/plain and text/html fallbacks, and a click (a comm message, as the
browser sends it) expands a lazy node by probing the kernel's node."""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

import pytest
from jupyter_client.manager import start_new_kernel
from test_introspection import SERVICE
from test_kernel import run, text

COUNTER = "%%service counter\n" + SERVICE.lstrip("\n")


@pytest.fixture(scope="module")
def kernel(tmp_path_factory: pytest.TempPathFactory):
    cwd = tmp_path_factory.mktemp("views")
    km, kc = start_new_kernel(kernel_name="skynet", cwd=str(cwd))
    kc.cwd = Path(cwd)  # type: ignore[attr-defined]
    try:
        assert run(kc, COUNTER)[0]["status"] == "ok"
        assert run(kc, "%newservice counter")[0]["status"] == "ok"
        assert run(kc, '%call .counter lua "inc", 2')[0]["status"] == "ok"
        yield kc
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)


def displayed(outputs: list[dict[str, Any]]) -> dict[str, Any]:
    data = [m["content"]["data"] for m in outputs if m["msg_type"] == "display_data"]
    assert len(data) == 1, outputs
    return data[0]


def comms(outputs: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """comm_id -> widget state, from the comm_open and update messages of a cell."""
    states: dict[str, dict[str, Any]] = {}
    for m in outputs:
        if m["msg_type"] == "comm_open":
            states[m["content"]["comm_id"]] = dict(m["content"]["data"]["state"])
        elif m["msg_type"] == "comm_msg" and m["content"]["comm_id"] in states:
            states[m["content"]["comm_id"]].update(m["content"]["data"].get("state", {}))
    return states


def test_upvalues_shows_U_and_P_with_fallbacks(kernel) -> None:
    reply, out = run(kernel, "%upvalues .counter")
    assert reply["status"] == "ok"
    data = displayed(out)
    assert "application/vnd.jupyter.widget-view+json" in data
    lines = data["text/plain"].splitlines()
    assert lines[0] == "upvalues :0000000a _U, _P"
    assert lines[1] == "▸ _P  table  {3 fields}" and lines[2].startswith("▸ _U  table  {")
    assert "sk-upvalues" in data["text/html"]


def test_a_click_expands_a_node_through_the_kernel(kernel) -> None:
    _, out = run(kernel, "%upvalues .counter _P.lua")
    states = comms(out)
    cmd = next(cid for cid, s in states.items()
               if s.get("_model_name") == "ButtonModel" and s["description"].startswith("▸ CMD"))
    kernel.session.send(kernel.shell_channel.socket, "comm_msg",
                        {"comm_id": cmd, "data": {"method": "custom",
                                                  "content": {"event": "click"}}})
    deadline = time.time() + 30
    seen = ""
    while time.time() < deadline and "▾ CMD" not in seen:
        msg = kernel.get_iopub_msg(timeout=30)
        if msg["msg_type"] == "comm_msg":
            state = msg["content"]["data"].get("state", {})
            seen += str(state.get("description", ""))
    assert "▾ CMD" in seen  # the row now shows it is open, after a probe of CMD


def test_upvalues_of_an_expression_and_changes_after_a_patch(kernel) -> None:
    _, out = run(kernel, "%upvalues .counter _P.lua.CMD")
    assert displayed(out)["text/plain"].splitlines()[1].startswith("▸ get  function  ./service")
    reply, _ = run(kernel, "%%inject .counter\n_P.lua.CMD.get = function() return 0 end")
    assert reply["status"] == "ok"
    _, out = run(kernel, "%upvalues .counter _P.lua.CMD")
    lines = displayed(out)["text/plain"].splitlines()
    changed = [ln for ln in lines if "changed" in ln]
    # the new function is defined in the cell that made it (`cell[N]`)
    assert len(changed) == 1 and re.fullmatch(r"get  function  cell\[\d+\]:1  ● changed",
                                              changed[0]), changed


def test_bad_expression_is_a_magic_error(kernel) -> None:
    reply, _ = run(kernel, "%upvalues .counter (((")
    assert reply["status"] == "error" and reply["ename"] == "MagicError"


def test_protocols_lists_the_chain_down_to_handlers(kernel) -> None:
    reply, out = run(kernel, "%protocols .counter")
    assert reply["status"] == "ok"
    plain = displayed(out)["text/plain"]
    assert "entry: skynet.dispatch_message" in plain
    assert "lua (id 10): dispatch ./service/counter.lua:" in plain
    assert "  -> CMD: 2 handlers" in plain
    assert "CMD.inc  ./service/counter.lua:5  gen 1" in plain


def test_codecache_widget_and_text_subcommands(kernel) -> None:
    reply, out = run(kernel, "%codecache")
    assert reply["status"] == "ok"
    data = displayed(out)
    assert data["text/plain"].splitlines()[1].startswith("1           current")
    assert "<svg" in data["text/html"]
    _, out = run(kernel, "%codecache clear")
    assert text(out) == "code cache cleared: generation 2 starts\n"
    _, out = run(kernel, "%codecache purge")
    assert text(out).startswith("nothing to purge: 0 bytes freed; kept 1 (pinned by ")
    reply, _ = run(kernel, "%codecache mode")
    assert reply["status"] == "ok"
    _, out = run(kernel, "%codecache")
    lines = displayed(out)["text/plain"].splitlines()
    assert lines[1].startswith("1           stale,pinned") and lines[2].startswith("2 ")
    assert "memory: g1=" in lines[-1] and "clear g2=" in lines[-1]


def test_services_widget_keeps_the_table_as_text(kernel) -> None:
    reply, out = run(kernel, "%services")
    data = displayed(out)
    lines = data["text/plain"].splitlines()
    assert lines[0].split() == ["address", "name", "file", "gen", "mqlen", "memory", "messages"]
    assert any(ln.split()[1:3] == ["counter", ".counter"] for ln in lines[1:])
    buttons = [s for s in comms(out).values() if s.get("_model_name") == "ButtonModel"]
    assert sum(1 for b in buttons if b["description"] == "use") == len(lines) - 1
