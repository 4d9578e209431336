"""skynet.cluster between two skykernel nodes (two nodes in this process, each on its
own thread, talking over 127.0.0.1), and its failures as skynet reports them."""

from __future__ import annotations

import pytest
from net_support import NodeThread, free_port

GREETER = """
local skynet = require "skynet"
local NODE = skynet.getenv("node") -- each node's config names it
skynet.start(function()
	skynet.dispatch("lua", function(_, source, cmd, arg)
		if cmd == "hello" then
			skynet.ret(skynet.pack(NODE .. " says hello to " .. tostring(arg)))
		elseif cmd == "echo" then
			skynet.ret(skynet.pack(arg))
		elseif cmd == "len" then
			skynet.ret(skynet.pack(#arg))
		elseif cmd == "note" then
			skynet.error("NOTE", type(arg) == "string" and #arg > 100 and #arg or arg)
		elseif cmd == "fail" then
			error("greeter fails on purpose")
		end
	end)
end)
"""

# Each node: a greeter registered as @greeter and named .greeter, the cluster opened
# under the node's name; then it waits for `go` (a lua message) to run `calls`.
MAIN = """
local skynet = require "skynet"
require "skynet.manager"
local cluster = require "skynet.cluster"
local me, other = ...
local function show(tag, ok, ...)
	local t = { tostring(ok) }
	for i = 1, select("#", ...) do
		local v = select(i, ...)
		t[#t + 1] = type(v) == "string" and #v > 100 and ("#" .. #v) or tostring(v)
	end
	skynet.error(tag, table.concat(t, " "))
end
skynet.start(function()
	local greeter = skynet.newservice("greeter")
	skynet.name(".greeter", greeter)
	cluster.register("greeter", greeter)
	cluster.open(me)
	skynet.error("READY " .. me)
	skynet.dispatch("lua", function(_, _, cmd)
		skynet.ret()
		if cmd ~= "go" then return end
		show("CALL", pcall(cluster.call, other, "@greeter", "hello", "from " .. me))
		show("BYNAME", pcall(cluster.call, other, ".greeter", "hello", "by name"))
		local big = string.rep("0123456789abcdef", 8192) -- 128 KB: sent in parts
		show("BIGREQ", pcall(cluster.call, other, "@greeter", "len", big))
		show("BIGREP", pcall(cluster.call, other, "@greeter", "echo", big))
		show("DEAD", pcall(cluster.call, other, 0x7fff, "hello"))
		show("NONAME", pcall(cluster.call, other, "@nosuch", "hello"))
		show("FAIL", pcall(cluster.call, other, "@greeter", "fail"))
		show("QUERY", pcall(cluster.query, other, "greeter"))
		show("UNKNOWN", pcall(cluster.call, "nonode", "@greeter", "hello"))
		cluster.send(other, "@greeter", "note", "pushed from " .. me)
		cluster.send(other, "@greeter", "note", big)
		local proxy = cluster.proxy(other, "@greeter")
		show("PROXY", pcall(skynet.call, proxy, "lua", "hello", "via proxy"))
		local proxy2 = cluster.proxy(other .. ".greeter")
		show("PROXY2", pcall(skynet.call, proxy2, "lua", "hello", "via proxy2"))
		skynet.error("DONE " .. me)
	end)
end)
"""


def cluster_tree(tree, names: dict[str, int], extra: str = "__nowaiting = true\n") -> None:
    lines = "".join(f'{name} = "127.0.0.1:{port}"\n' for name, port in names.items())
    tree.write({"service/greeter.lua": GREETER, "service/main.lua": MAIN,
                "clustername.lua": lines + extra})


def config(name: str, extra: str = "") -> str:
    return f'cluster = "clustername.lua"\nnode = "{name}"\n' + extra


def main_of(n: NodeThread) -> int:
    return next(s.handle for s in n.node.services() if s.name == "main")


@pytest.fixture
def two_nodes(tree):
    ports = {"alpha": free_port(), "beta": free_port()}
    cluster_tree(tree, ports)
    tree.write({"service/unregister.lua": UNREGISTER})
    a = NodeThread(tree, start="main alpha beta", config=config("alpha"))
    b = NodeThread(tree, start="main beta alpha", config=config("beta"))
    with a, b:
        a.wait_log("READY alpha")
        b.wait_log("READY beta")
        yield a, b


def results(n: NodeThread, done: str) -> dict[str, str]:
    n.wait_log(done, timeout=60)
    out = {}
    for text in n.lines():
        tag, _, rest = text.partition(" ")
        if tag.isupper() and tag not in out:
            out[tag] = rest
    return out


def test_two_skykernel_nodes_call_each_other(two_nodes):
    a, b = two_nodes
    a.call(main_of(a), "go")
    r = results(a, "DONE alpha")
    assert r["CALL"] == "true beta says hello to from alpha"
    assert r["BYNAME"] == "true beta says hello to by name"
    assert r["BIGREQ"] == "true 131072"
    assert r["BIGREP"] == "true #131072"
    assert r["QUERY"] == f"true {b.node.handles.names['.greeter']}"
    assert r["PROXY"] == "true beta says hello to via proxy"
    assert r["PROXY2"] == "true beta says hello to via proxy2"
    assert b.wait_log("NOTE pushed") == "NOTE pushed from alpha"
    assert b.wait_log("NOTE 131072") == "NOTE 131072"
    b.call(main_of(b), "go")
    r = results(b, "DONE beta")
    assert r["CALL"] == "true alpha says hello to from beta"
    assert r["BIGREP"] == "true #131072"


def test_cluster_errors_as_skynet_reports_them(two_nodes):
    a, b = two_nodes
    a.call(main_of(a), "go")
    r = results(a, "DONE alpha")
    # the caller gets `call failed`; the remote error is logged by the sender
    for tag in ("DEAD", "NONAME", "FAIL"):
        assert r[tag].startswith("false ") and r[tag].endswith("call failed"), r[tag]
    logged = a.lines()
    # skynet.rawcall names no address in this error, in real skynet too
    assert any(t.endswith("call to invalid address") for t in logged)
    assert any(t.endswith("Invalid name") for t in logged)
    # the greeter's own error stays on its node, as skynet's does
    assert any("greeter fails on purpose" in t for t in b.lines())
    assert r["UNKNOWN"].startswith("false ")
    assert any("cluster node [nonode] is absent." in t for t in logged)


def test_a_node_that_is_gone(two_nodes):
    a, b = two_nodes
    a.call(main_of(a), "go")
    results(a, "DONE alpha")
    b.__exit__(None, None, None)  # beta stops: its port closes
    tree_main = main_of(a)
    a.node.logger.history.clear()
    a.call(tree_main, "go")
    r = results(a, "DONE alpha")
    assert r["CALL"].startswith("false ") and r["CALL"].endswith("call failed")
    assert any(t.startswith("Connect failed") and "Connection refused" in t for t in a.lines())
    assert any("[Error: socket]" in t for t in a.lines())


def test_reload_moves_a_node(tree):
    """cluster.reload with a new address: the sender reconnects there."""
    p1, p2 = free_port(), free_port()
    cluster_tree(tree, {"alpha": p1, "beta": p2})
    tree.write({"service/mover.lua": f"""
local skynet = require "skynet"
local cluster = require "skynet.cluster"
skynet.start(function()
	skynet.error("FIRST", cluster.call("beta", "@greeter", "hello", "one"))
	cluster.reload {{ gamma = "127.0.0.1:{p2}", beta = "127.0.0.1:{p1}" }}
	skynet.error("SECOND", cluster.call("beta", "@greeter", "hello", "two"))
	skynet.error("THIRD", cluster.call("gamma", "@greeter", "hello", "three"))
	skynet.error("MOVED")
end)
"""})
    a = NodeThread(tree, start="main alpha beta", config=config("alpha"))
    b = NodeThread(tree, start="main beta alpha", config=config("beta"))
    with a, b:
        a.wait_log("READY alpha")
        b.wait_log("READY beta")
        a.run(a.node.newservice("mover"))
        a.wait_log("MOVED", timeout=60)
        assert "FIRST beta says hello to one" in a.lines()
        # beta's name now points at alpha itself
        assert "SECOND alpha says hello to two" in a.lines()
        assert "THIRD beta says hello to three" in a.lines()


UNREGISTER = """
local skynet = require "skynet"
local cluster = require "skynet.cluster"
skynet.start(function()
	cluster.unregister("greeter")
	skynet.error("UNREGISTERED")
end)
"""


def test_cluster_snax(tree):
    p1, p2 = free_port(), free_port()
    cluster_tree(tree, {"alpha": p1, "beta": p2})
    tree.write({
        "service/counter.lua": """
local skynet = require "skynet"
local snax = require "snax"
local total = 0
function response.add(n)
	total = total + n
	return total
end
function accept.reset()
	total = 0
end
function init()
	snax.enablecluster() -- calls from other nodes come as lua messages
end
""",
        "service/snaxuser.lua": """
local skynet = require "skynet"
local cluster = require "skynet.cluster"
skynet.start(function()
	local c = cluster.snax("beta", "counter")
	skynet.error("ADD", c.req.add(2), c.req.add(3))
	c.post.reset()
	skynet.error("AFTER", c.req.add(1))
end)
""",
        "service/snaxhost.lua": """
local skynet = require "skynet"
local snax = require "snax"
skynet.start(function()
	snax.uniqueservice("counter")
	skynet.error("COUNTER UP")
end)
""",
    })
    snax = 'snax = "./service/?.lua"\n'
    a = NodeThread(tree, start="main alpha beta", config=config("alpha", snax))
    b = NodeThread(tree, start="main beta alpha", config=config("beta", snax))
    with a, b:
        a.wait_log("READY alpha")
        b.wait_log("READY beta")
        b.run(b.node.newservice("snaxhost"))
        b.wait_log("COUNTER UP")
        a.run(a.node.newservice("snaxuser"))
        assert a.wait_log("ADD") == "ADD 2 5"
        assert a.wait_log("AFTER") == "AFTER 1"


def test_unregister_clears_the_remote_name(two_nodes):
    """clusteragent keeps names it looked up; unregister tells it to forget them."""
    a, b = two_nodes
    b.run(b.node.newservice("unregister"), 30)
    b.wait_log("UNREGISTERED")
    a.call(main_of(a), "go")
    r = results(a, "DONE alpha")
    assert r["CALL"].endswith("call failed")
    assert any(t.endswith("Invalid name") for t in a.lines())
    # by address and by .name it still answers
    assert r["BYNAME"] == "true beta says hello to by name"
