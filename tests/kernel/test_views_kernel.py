"""The view magics over real ZeroMQ: %upvalues, %protocols, %codecache, %services publish
one widget each (an anywidget) with text/plain and text/html fallbacks, and a request on
its comm (as the browser sends it) is answered with plain data probed from the node."""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

import pytest
from jupyter_client.manager import start_new_kernel
from kernel_client import result, run, text
from test_introspection import SERVICE

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


def view_state(outputs: list[dict[str, Any]]) -> tuple[str, dict[str, Any]]:
    """The one view of a cell: its comm id and its widget state."""
    opens = [m for m in outputs if m["msg_type"] == "comm_open"]
    assert len(opens) == 1, [m["msg_type"] for m in outputs]
    return opens[0]["content"]["comm_id"], opens[0]["content"]["data"]["state"]


def ask(kc: Any, comm_id: str, op: str, **payload: Any) -> dict[str, Any]:
    """Send a request on a view's comm, as the front end does; the view's reply."""
    kc.session.send(kc.shell_channel.socket, "comm_msg", {
        "comm_id": comm_id,
        "data": {"method": "custom", "content": {"op": op, "id": op, **payload}}})
    deadline = time.time() + 60
    while time.time() < deadline:
        msg = kc.get_iopub_msg(timeout=60)
        if msg["msg_type"] != "comm_msg" or msg["content"]["comm_id"] != comm_id:
            continue
        data = msg["content"]["data"]
        if data.get("method") == "custom" and data["content"].get("id") == op:
            return data["content"]
    raise AssertionError(f"no reply to {op}")


def test_upvalues_opens_onto_the_services_own_code(kernel) -> None:
    reply, out = run(kernel, "%upvalues .counter")
    assert reply["status"] == "ok"
    data = displayed(out)
    assert "application/vnd.jupyter.widget-view+json" in data
    lines = data["text/plain"].splitlines()
    assert lines[0] == "upvalues :0000000a _U, _P"
    assert lines[1].startswith("your code: lua protocol (./service/counter.lua:")
    assert lines[2] == "▾ _P.lua.CMD  table  {2 fields}"
    assert lines[3] == "  ▾ get  function  ./service/counter.lua:6"
    assert lines[4].startswith("    count  number  2  ⇄ shared with _P.lua.CMD.inc")
    assert lines[-3:] == ["skynet internals", "▸ _P  table  {3 fields}",
                          "▸ _U  table  {20 fields}"]
    assert "sk-upvalues" in data["text/html"]
    _, state = view_state(out)
    assert state["kind"] == "upvalues" and state["layout"] is None
    assert [i["key"] for g in state["data"]["focus"] for i in g["items"]] == ["_P.lua.CMD"]


def test_a_request_expands_a_node_through_the_kernel(kernel) -> None:
    _, out = run(kernel, "%upvalues .counter _P.lua")
    comm_id, state = view_state(out)
    root = next(n for n in state["data"]["nodes"] if n["path"] == [])
    assert [r["key"] for r in root["rows"] if r["key"] == "CMD"] == ["CMD"]
    answer = ask(kernel, comm_id, "expand", path=["sCMD"])
    (node,) = answer["nodes"]
    assert node["path"] == ["sCMD"] and node["expanded"] is True
    assert [r["key"] for r in node["rows"]] == ["get", "inc"]
    assert ask(kernel, comm_id, "nosuch")["error"].startswith("ViewError:")


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


def test_protocols_lead_with_the_services_own_chain(kernel) -> None:
    reply, out = run(kernel, "%protocols .counter")
    assert reply["status"] == "ok"
    plain = displayed(out)["text/plain"].splitlines()
    assert plain[1].startswith("lua (id 10): dispatch ./service/counter.lua:")
    assert plain[2] == "  -> CMD: 2 handlers"
    assert plain[4].startswith("     CMD.inc  ./service/counter.lua:5  gen 1")
    # the debug protocol's 15 commands are skynet's own (MEM ... TRACELOG)
    assert plain[5] == "skynet's own protocols: response, error, debug (15 handlers)"
    assert plain[-1].startswith("entry: skynet.dispatch_message (runtime/lualib/skynet.lua:")
    assert not [ln for ln in plain if "/runtime/" in ln]  # no absolute runtime paths
    comm_id, state = view_state(out)
    assert [p["name"] for p in state["data"]["protocols"]][0] == "lua"
    assert ask(kernel, comm_id, "refresh")["status"] == "probed again"


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
    reply, out = run(kernel, "%codecache")
    lines = displayed(out)["text/plain"].splitlines()
    assert lines[1].startswith("1           stale,pinned") and lines[2].startswith("2 ")
    assert "memory: g1=" in lines[-1] and "clear g2=" in lines[-1]
    comm_id, _ = view_state(out)
    assert ask(kernel, comm_id, "clear")["status"] == "code cache cleared: generation 3 starts"
    assert ask(kernel, comm_id, "purge")["status"].startswith("nothing to purge")


def test_services_table_names_every_service(kernel) -> None:
    reply, out = run(kernel, "%services")
    data = displayed(out)
    lines = data["text/plain"].splitlines()
    assert lines[0].split() == ["address", "name", "mqlen", "messages", "memory", "gen",
                                "registered", "file"]
    counter = next(ln for ln in lines if ln.split()[1:2] == ["counter"])
    assert counter.split()[-2:] == [".counter", "./service/counter.lua"]
    assert not [ln for ln in lines if " /" in ln]  # paths relative to the notebook
    assert "python: the kernel's own client of the node" in data["text/plain"]
    comm_id, state = view_state(out)
    rows = state["data"]["rows"]
    assert [r["file"] for r in rows if r["name"] == "launcher"] == ["runtime/service/launcher.lua"]
    handle = next(r["handle"] for r in rows if r["name"] == "counter")
    answer = ask(kernel, comm_id, "explore", handle=handle)
    first = answer["tree"]["focus"][0]["items"][0]
    assert first["key"] == "_P.lua.CMD"
    more = ask(kernel, comm_id, "tree:expand", explorer=answer["explorer"], path=["s_U"])
    assert more["nodes"][0]["rows"]
    assert ask(kernel, comm_id, "use", handle=handle)["status"].startswith(
        "cells now run in :0000000a (counter)")
    _, out = run(kernel, "return require('skynet').self()")
    assert result(out) == "10"  # the next cell ran in the service `use` chose
    run(kernel, "%use .notebook")
