"""skynet.cluster between a skykernel node and a real skynet node (master and 1.8), both
ways, over 127.0.0.1: calls by address and by name, long messages in parts, pushes,
queries, proxies, and the errors skynet reports (dead service, unknown name, a service
that fails, unknown node, node gone)."""

from __future__ import annotations

import threading
import time

import realskynet
from net_support import NodeThread, free_port
from test_cluster import GREETER, MAIN, results

# Real skynet runs MAIN's calls as soon as its cluster is open: the skykernel node is
# up by then.
REAL_MAIN = MAIN.replace(
    'skynet.error("READY " .. me)',
    'skynet.error("READY " .. me)\n\tskynet.fork(skynet.call, skynet.self(), "lua", "go")')


class RealNode:
    """Real skynet as a process, its log lines read as they come."""

    def __init__(self, config, build: str, cwd) -> None:
        self.proc = realskynet.start(config, build, cwd)
        self.texts: list[str] = []
        self.seen = threading.Condition()
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            with self.seen:
                self.texts.append(realskynet.log_text(line.rstrip("\n")))
                self.seen.notify_all()

    def wait_log(self, text: str, timeout: float = 60) -> str:
        deadline = time.monotonic() + timeout
        with self.seen:
            while True:
                for t in self.texts:
                    if text in t:
                        return t
                left = deadline - time.monotonic()
                if left <= 0 or self.proc.poll() is not None:
                    raise AssertionError(f"real skynet did not log {text!r}; log:\n"
                                         + "\n".join(self.texts[-60:]))
                self.seen.wait(min(left, 0.5))

    def results(self, done: str) -> dict[str, str]:
        self.wait_log(done)
        out: dict[str, str] = {}
        for text in self.texts:
            tag, _, rest = text.partition(" ")
            if tag.isupper() and tag not in out:
                out[tag] = rest
        return out

    def stop(self) -> None:
        realskynet.stop(self.proc)
        self.reader.join(5)
        print("real skynet log:\n" + "\n".join(self.texts))


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
        "real.config": 'start = "realmain real skk"\nluaservice = "./service/?.lua"\n'
                       'harbor = 0\ncluster = "clustername.lua"\nnode = "real"\n',
    })
    ours = NodeThread(tree, start="main skk real",
                      config='cluster = "clustername.lua"\nnode = "skk"\n')
    with ours:
        ours.wait_log("READY skk")
        real = RealNode(tree.root / "real.config", real_skynet, tree.root)
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
