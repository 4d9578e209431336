"""skynet.cluster between a skykernel node and a real skynet node (master and 1.8), both
ways, over 127.0.0.1: calls by address and by name, long messages in parts, pushes,
queries, proxies, and the errors skynet reports (dead service, unknown name, a service
that fails, unknown node, node gone)."""

from __future__ import annotations

import realskynet
from net_support import NodeThread, free_port
from test_cluster import GREETER, MAIN, results

# Real skynet runs MAIN's calls as soon as its cluster is open: the skykernel node is
# up by then.
REAL_MAIN = MAIN.replace(
    'skynet.error("READY " .. me)',
    'skynet.error("READY " .. me)\n\tskynet.fork(skynet.call, skynet.self(), "lua", "go")')


def main_of(n: NodeThread) -> int:
    return next(s.handle for s in n.node.services() if s.name == "main")


def assert_calls(r: dict[str, str], callee: str, caller: str) -> None:
    assert r["CALL"] == f"true {callee} says hello to from {caller}"
    assert r["BYNAME"] == f"true {callee} says hello to by name"
    assert r["BIGREQ"] == "true 131072"
    assert r["BIGREP"] == "true #131072"
    assert r["QUERY"].startswith("true ") and r["QUERY"].split()[1].isdigit()
    assert r["PROXY"] == f"true {callee} says hello to via proxy"
    assert r["PROXY2"] == f"true {callee} says hello to via proxy2"
    for tag in ("DEAD", "NONAME", "FAIL", "UNKNOWN"):
        assert r[tag].startswith("false "), (tag, r[tag])
    for tag in ("DEAD", "NONAME", "FAIL"):
        assert r[tag].endswith("call failed"), (tag, r[tag])


def test_skykernel_and_real_skynet_call_each_other(tree, real_skynet):
    ports = {"skk": free_port(), "real": free_port()}
    tree.write({
        "service/greeter.lua": GREETER,
        "service/main.lua": MAIN,
        "service/realmain.lua": REAL_MAIN,
        "clustername.lua": "".join(f'{k} = "127.0.0.1:{p}"\n' for k, p in ports.items())
        + "__nowaiting = true\n",
    })
    config = realskynet.write_config(tree.root, 'cluster = "clustername.lua"\nnode = "real"\n',
                                     start="realmain real skk")
    ours = NodeThread(tree, start="main skk real",
                      config='cluster = "clustername.lua"\nnode = "skk"\n')
    with ours:
        ours.wait_log("READY skk")
        real = realskynet.RealNode(config, real_skynet, tree.root)
        try:
            # real skynet calls us
            r = real.results("DONE real")
            assert_calls(r, "skk", "real")
            assert any("call to invalid address" in t for t in real.texts)
            assert any(t.endswith("Invalid name") for t in real.texts)
            assert any("cluster node [nonode] is absent." in t for t in real.texts)
            assert any("greeter fails on purpose" in t for t in ours.lines())
            assert ours.wait_log("NOTE pushed") == "NOTE pushed from real"
            assert ours.wait_log("NOTE 131072") == "NOTE 131072"
            # we call real skynet
            ours.call(main_of(ours), "go")
            r = results(ours, "DONE skk")
            assert_calls(r, "real", "skk")
            assert any("call to invalid address" in t for t in ours.lines())
            assert real.wait_log("NOTE pushed") == "NOTE pushed from skk"
            assert real.wait_log("NOTE 131072") == "NOTE 131072"
            assert any("greeter fails on purpose" in t for t in real.texts)
        finally:
            real.stop()
        # real skynet is gone: calls to it fail as skynet reports a node that went away
        ours.node.logger.history.clear()
        ours.call(main_of(ours), "go")
        r = results(ours, "DONE skk")
        assert r["CALL"].startswith("false ") and r["CALL"].endswith("call failed")
        assert any(t.startswith("Connect failed") and "Connection refused" in t
                   for t in ours.lines())
