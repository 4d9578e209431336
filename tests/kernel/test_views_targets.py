"""The views on every target (the in-process node, a `skykernel run` node, real skynet
master and 1.8; the `client` fixture of test_targets.py): they open onto the service's own
code the same way everywhere, each is one comm, and a request on it is answered from the
target, never by the front end."""

from __future__ import annotations

import test_targets
from test_targets import shown

client = test_targets.client  # the same kernels and nodes, one per target


def comms(out: list[dict]) -> list[dict]:
    return [m for m in out if m["msg_type"] in ("comm_open", "comm_msg")]


def test_upvalues_open_onto_the_agents_handlers_everywhere(client) -> None:
    out = client.ok(f"%upvalues {client.addr('.agent')}")
    (data,) = shown(out)
    lines = data["text/plain"].splitlines()
    assert lines[1].startswith("your code: lua protocol (./service/agent.lua:")
    assert lines[2] == "▾ _P.lua.CMD  table  {5 fields}"
    assert "  ▾ get  function  ./service/agent.lua:15" in lines
    assert "    stored  nil  nil  ⇄ shared with _P.lua.CMD.set" in lines
    assert lines.index("skynet internals") > lines.index("    stored  nil  nil  ⇄ shared "
                                                          "with _P.lua.CMD.set")
    assert not [ln for ln in lines if "skykernel" in ln]  # none of our own machinery
    assert [m["msg_type"] for m in comms(out)] == ["comm_open"]


def test_protocols_lead_with_lua_and_fold_skynets_own(client) -> None:
    out = client.ok(f"%protocols {client.addr('.agent')}")
    (data,) = shown(out)
    lines = data["text/plain"].splitlines()
    assert lines[1].startswith("lua (id 10): dispatch ./service/agent.lua:20")
    assert lines[2] == "  -> CMD: 5 handlers"
    folded = next(ln for ln in lines if ln.startswith("skynet's own protocols: "))
    assert "debug (" in folded and lines.index(folded) == 8
    assert [m["msg_type"] for m in comms(out)] == ["comm_open"]
