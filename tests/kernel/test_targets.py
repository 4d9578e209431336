"""Every magic, the same test against each target: the in-process node (`local`), a
`skykernel run` node in another process (`skykernel`), and real skynet master and 1.8
(`master`, `1.8`, skipped with the fixture's message where real skynet is absent).

Each target gets its own kernel over real ZeroMQ. Remote targets are attached with
%connect and chosen with `%use game1:.agent`; the local one runs the same services,
started with %newservice. The service tree is the same everywhere: `agent` (a lua
protocol `CMD` table, a module `cards`, a snax service `counter` it started) and `echo`.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import write_tree
from jupyter_client.manager import start_new_kernel
from remote_node import NodeProcess, RealNodeProcess

AGENT = '''local skynet = require "skynet"
require "skynet.manager"
local has_snax, snax = pcall(require, "skynet.snax")  -- real skynet's name
if not has_snax then
    snax = require "snax"
end
local cards = require "cards"

local CMD = {}
local stored
local counter

function CMD.hello(who) return "hello " .. tostring(who) end
function CMD.set(v) stored = v end
function CMD.get() return stored end
function CMD.deal() return cards.deal() end
function CMD.count() return counter.req.get() end

skynet.start(function()
    skynet.dispatch("lua", function(session, _, cmd, ...)
        local f = assert(CMD[cmd], cmd)
        if session == 0 then
            f(...)
        else
            skynet.ret(skynet.pack(f(...)))
        end
    end)
    counter = snax.newservice("counter")
    skynet.name(".counter", counter.handle)
    skynet.register(".agent")
end)
'''

COUNTER = '''local n = 0
function response.get()
    n = n + 1
    return "count " .. n
end
function init() end
'''

ECHO = '''local skynet = require "skynet"
skynet.start(function()
    skynet.dispatch("lua", function(_, _, ...) skynet.ret(skynet.pack("echo", ...)) end)
end)
'''

CARDS = '''local M = {}
function M.deal() return "A K Q" end
return M
'''

MAIN = '''local skynet = require "skynet"
skynet.start(function()
    skynet.newservice("agent")
    skynet.newservice("debug_console", "127.0.0.1", 0)
end)
'''

CONFIG = '''harbor = 0
thread = 2
start = "main"
luaservice = "./service/?.lua"
lua_path = "./lualib/?.lua"
snax = "./service/?.lua"
'''

TREE = {"service/agent.lua": AGENT, "service/counter.lua": COUNTER, "service/echo.lua": ECHO,
        "service/main.lua": MAIN, "lualib/cards.lua": CARDS, "config": CONFIG}

TARGETS = ["local", "skykernel", "master", "1.8"]


class Client:
    """A kernel over ZeroMQ and where its cells run; `run` executes one cell."""

    def __init__(self, kc: Any, where: str, root: Path) -> None:
        self.kc = kc
        self.where = where
        self.root = root  # the node's folder (the kernel's own for `local`)

    @property
    def remote(self) -> bool:
        return self.where != "local"

    def addr(self, address: str) -> str:
        """An address as %use and %%inject take it for this target."""
        return f"game1:{address}" if self.remote else address

    def run(self, code: str, timeout: float = 120) -> tuple[dict[str, Any], list[dict]]:
        kc = self.kc
        msg_id = kc.execute(code, stop_on_error=False)
        reply = kc.get_shell_msg(timeout=timeout)
        while reply["parent_header"].get("msg_id") != msg_id:
            reply = kc.get_shell_msg(timeout=timeout)
        outputs = []
        while True:
            msg = kc.get_iopub_msg(timeout=timeout)
            if msg["parent_header"].get("msg_id") != msg_id:
                continue
            if msg["msg_type"] == "status" and msg["content"]["execution_state"] == "idle":
                break
            outputs.append(msg)
        return reply["content"], outputs

    def ok(self, code: str) -> list[dict]:
        reply, out = self.run(code)
        assert reply["status"] == "ok", (code, reply, out)
        return out

    def error(self, code: str, python: bool = False) -> dict[str, Any]:
        reply, out = self.run(code)
        assert reply["status"] == "error", (code, out)
        shown = "".join(reply["traceback"])
        if python:  # the user's own Python: its frames, none of skykernel's
            assert "<cell>" in shown and "skykernel" not in shown, shown
        else:
            assert "Traceback" not in shown and ".py" not in shown, reply
        return reply

    def request(self, send: Any, reply_type: str, *args: Any) -> dict[str, Any]:
        msg_id = send(*args)
        reply = self.kc.get_shell_msg(timeout=60)
        while reply["parent_header"].get("msg_id") != msg_id:
            reply = self.kc.get_shell_msg(timeout=60)
        assert reply["msg_type"] == reply_type
        return reply["content"]

    def complete(self, code: str) -> list[str]:
        return self.request(self.kc.complete, "complete_reply", code, len(code))["matches"]

    def inspect(self, code: str) -> dict[str, Any]:
        return self.request(self.kc.inspect, "inspect_reply", code, len(code))


def text(outputs: list[dict], name: str = "stdout") -> str:
    return "".join(m["content"]["text"] for m in outputs
                   if m["msg_type"] == "stream" and m["content"]["name"] == name)


def result(outputs: list[dict]) -> str | None:
    for m in outputs:
        if m["msg_type"] == "execute_result":
            return m["content"]["data"]["text/plain"]
    return None


def shown(outputs: list[dict]) -> list[dict[str, Any]]:
    return [m["content"]["data"] for m in outputs if m["msg_type"] == "display_data"]


def eventually(client: Client, code: str, check: Any, timeout: float = 60) -> Any:
    """Run code until check(reply, outputs) holds (a node acts on a send in its own time)."""
    deadline = time.monotonic() + timeout
    while True:
        reply, out = client.run(code)
        if check(reply, out):
            return reply, out
        assert time.monotonic() < deadline, (code, reply, out)
        time.sleep(0.2)


@pytest.fixture(scope="module", params=TARGETS)
def client(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
           ) -> Iterator[Client]:
    where = request.param
    if where in ("master", "1.8"):
        import realskynet

        if where not in realskynet.builds():
            pytest.skip(realskynet.missing_message() + f" (build {where})")
    cwd = write_tree(tmp_path_factory.mktemp(f"kernel-{where}"), TREE)
    node: NodeProcess | None = None
    km = kc = None
    try:
        root = cwd
        if where != "local":
            root = write_tree(tmp_path_factory.mktemp(f"node-{where}"), TREE)
            node = NodeProcess(root) if where == "skykernel" else RealNodeProcess(root, where)
        km, kc = start_new_kernel(kernel_name="skynet", cwd=str(cwd))
        c = Client(kc, where, root)
        if node is None:
            c.ok("%newservice agent")
        else:
            c.ok(f"%connect 127.0.0.1:{node.port} as game1")
        assert "cells now run in" in text(c.ok(f"%use {c.addr('.agent')}"))
        yield c
    finally:
        if kc is not None:
            kc.stop_channels()
        if km is not None:
            km.shutdown_kernel(now=True)
        if node is not None:
            node.kill()


# --- cells -------------------------------------------------------------------------------


def test_cells_print_return_keep_globals_and_show_errors(client: Client) -> None:
    out = client.ok("print('hi', nil, 1)\nkept = 41\nreturn kept + 1")
    assert text(out) == "hi\tnil\t1\n" and result(out) == "42"
    assert result(client.ok("kept")) == "41"  # an expression's value, a global kept
    assert result(client.ok("return {1, 2, x = 'y'}, 'a'")) == '{ 1, 2, x = "y" }\t"a"'
    assert result(client.ok("_P.lua.CMD.hello('ann')")) == '"hello ann"'
    reply = client.error("local t = nil\nreturn t.x")
    assert reply["ename"] == "LuaError" and "attempt to index a nil value" in reply["evalue"]
    assert not any(re.search(r"inject\.lua|xpcall|lualib/skynet", line)
                   for line in reply["traceback"]), reply["traceback"]
    reply = client.error("local = 1")
    assert reply["ename"] == "LuaError" and ":1:" in reply["evalue"]
    assert result(client.ok("return 'still here'")) == '"still here"'


def test_completion_and_inspection_see_the_target(client: Client) -> None:
    client.ok("zq_target_var = {alpha = 1, beta = 'b'}")
    assert client.complete("zq_target_v") == ["zq_target_var"]
    assert client.complete("zq_target_var.al") == ["alpha"]
    assert "CMD" in client.complete("_P.lua.CM")
    assert "proto" in client.complete("_U.pro")
    assert client.complete("%disconn") == ["%disconnect"]
    assert client.complete("%%hotf") == ["%%hotfix"]
    if client.remote:  # the node's own addresses, from its console's `list`
        assert "game1::00000008" in client.complete("%use game1::0000000")
    else:
        assert client.complete("%kill .agen") == [".agent"]
    found = client.inspect("_P.lua.CMD.hello")
    assert found["found"], found
    assert found["data"]["text/plain"].startswith("_P.lua.CMD.hello : function")
    assert "defined at" in found["data"]["text/plain"]
    found = client.inspect("zq_target_var")
    assert found["found"] and "alpha" in found["data"]["text/plain"]
    assert not client.inspect("zq_nothing_here")["found"]


# --- messages and services ---------------------------------------------------------------


def test_send_and_call_reach_addresses_and_names_of_the_targets_node(client: Client) -> None:
    assert result(client.ok('%call .agent lua "hello", "x"')) == '"hello x"'
    agent = int(result(client.ok("return require('skynet').self()")))
    assert result(client.ok(f'%call :{agent:08x} lua "hello", "y"')) == '"hello y"'
    assert result(client.ok(f'%call {agent:x} lua "hello", "z"')) == '"hello z"'
    client.ok('%send .agent lua "set", "sent"')
    eventually(client, '%call .agent lua "get"', lambda r, o: result(o) == '"sent"')
    reply = client.error('%call .nosuch lua "hello"')
    assert reply["ename"] == "MagicError" and "no service" in reply["evalue"]
    assert ".nosuch" in reply["evalue"]


def test_newservice_kill_and_exit(client: Client) -> None:
    first = text(client.ok("%newservice echo")).split()[0]
    assert re.fullmatch(r"(game1:)?:[0-9a-f]{8}", first)
    assert result(client.ok(f'%call {first} lua "ping"')) == '"echo"\t"ping"'
    assert f"killed {first}" in text(client.ok(f"%kill {first}"))
    reply = client.error(f'%call {first} lua "ping"')
    assert reply["ename"] == "MagicError" and first[-8:] in reply["evalue"]
    second = text(client.ok("%newservice echo")).split()[0]
    client.ok(f"%exit {second}")
    eventually(client, f'%call {second} lua "ping"', lambda r, o: r["status"] == "error")
    assert client.error("%kill")["evalue"].startswith("usage: %kill ADDR")
    reply = client.error("%newservice no_such_service")
    assert "no_such_service" in reply["evalue"]


def test_services_and_console(client: Client) -> None:
    out = client.ok("%services")
    listing = text(out) + "".join(d.get("text/plain", "") for d in shown(out))
    assert "agent" in listing and "counter" in listing
    lines = text(client.ok("%console list")).splitlines()
    assert lines[0].split() == ["address", "service"]
    assert any(line.split()[1:3] == ["snlua", "agent"] for line in lines[1:])
    reply = client.error("%console nosuchcommand")
    assert reply["ename"] == "ConsoleError" and "Invalid command" in reply["evalue"]
    mem = text(client.ok("%console mem")).splitlines()
    assert mem[0].split() == ["address", "memory", "service"]


def test_use_and_inject_choose_where_cells_run(client: Client) -> None:
    agent = result(client.ok("return require('skynet').self()"))
    counter = result(client.ok(f"%%inject {client.addr('.counter')}\n"
                               "return require('skynet').self()"))
    assert counter != agent
    assert result(client.ok("return require('skynet').self()")) == agent
    client.ok(f"%use {client.addr('.counter')}")
    assert result(client.ok("return require('skynet').self()")) == counter
    client.ok(f"%use {client.addr('.agent')}")
    reply = client.error(f"%use {client.addr('.nosuch')}")
    assert ".nosuch" in reply["evalue"]
    where = text(client.ok("%nodes"))
    if client.remote:
        assert "game1\t127.0.0.1:" in where and "cells run in game1:.agent" in where
    else:
        assert "no remote nodes" in where


# --- views ---------------------------------------------------------------------------------


def test_views_show_the_targets_service(client: Client) -> None:
    (data,) = shown(client.ok("%upvalues"))
    lines = data["text/plain"].splitlines()
    assert lines[0].startswith("upvalues ") and lines[0].endswith(" _U, _P")
    assert "application/vnd.jupyter.widget-view+json" in data
    (data,) = shown(client.ok("%upvalues .agent _P.lua.CMD"))
    assert any(line.startswith("▸ hello  function") for line in
               data["text/plain"].splitlines()), data["text/plain"]
    (data,) = shown(client.ok("%protocols"))
    assert "lua (id 10): dispatch" in data["text/plain"] and "CMD: " in data["text/plain"]
    (data,) = shown(client.ok("%probe protocols"))
    assert json.loads(data["text/plain"]) == data["application/json"]
    assert client.error("%upvalues .agent (((")["ename"] == "MagicError"


def test_what_only_the_in_process_node_keeps_is_said_honestly(client: Client) -> None:
    out = client.ok("%codecache")
    log = text(client.ok("%log 5"))
    if client.remote:
        assert "keeps no code-cache generations" in text(out)
        assert "debug console offers no command that reads it" in log
        reply = client.error("%restart .agent")
        assert "cannot reload game1:.agent in place" in reply["evalue"]
        assert "skynet has no such operation" in reply["evalue"]
    else:
        assert shown(out)[0]["text/plain"].splitlines()[0].startswith("generation")
        assert "LAUNCH" in log or "agent" in log
        echo = text(client.ok("%newservice echo")).split()[0]
        assert f"{echo} reloaded in place" in text(client.ok(f"%restart {echo}"))
        assert result(client.ok(f'%call {echo} lua "again"')) == '"echo"\t"again"'


# --- hot reload ------------------------------------------------------------------------------


def test_snax_hotfix_is_checked_applied_logged_and_undone(client: Client) -> None:
    assert result(client.ok('%call .agent lua "count"')) == '"count 1"'
    reply = client.error("%%hotfix .counter\n"
                         "function response.get() return 'half' end\n"
                         "function response.nosuch() end")
    assert "hotfix refused, nothing changed: Patch mismatch response.nosuch" in reply["evalue"]
    assert result(client.ok('%call .agent lua "count"')) == '"count 2"'  # nothing changed
    out = client.ok("%%hotfix .counter 'from the test'\n"
                    "local n\n"
                    "function response.get() n = n + 10 return 'patched ' .. n end\n"
                    "function hotfix(who) return 'hi ' .. who end")
    assert re.search(r"patch #\d+: \S+ response\.get\nhotfix returned: "
                     r"hi from the test", text(out)), text(out)
    assert result(client.ok('%call .agent lua "count"')) == '"patched 12"'  # n joined
    log = text(client.ok("%patches"))
    assert "hotfix" in log and "counter" in log
    if client.remote:
        assert log.startswith("game1: ") and "no patches yet" in text(client.ok(
            "%patches local"))
    number = re.search(r"patch #(\d+):", text(out)).group(1)
    node = "game1" if client.remote else "local"
    assert f"undid patch #{number} (hotfix counter in" in text(client.ok(f"%undo {node} {number}"))
    assert result(client.ok('%call .agent lua "count"')) == '"count 13"'  # state kept
    assert "was undone already" in client.error(f"%undo {number}")["evalue"]


def test_module_reload_everywhere_from_a_cell_and_from_disk_with_undo(client: Client) -> None:
    assert result(client.ok('%call .agent lua "deal"')) == '"A K Q"'
    out = client.ok("%%reload cards in .agent --dry-run\n"
                    "local M = {}\nfunction M.deal() return 'J' end\nreturn M")
    assert "cards: dry-run" in text(out) and "changed: cards.deal" in text(out)
    assert result(client.ok('%call .agent lua "deal"')) == '"A K Q"'
    out = client.ok("%%reload cards everywhere\n"
                    "local M = {}\nfunction M.deal() return 'J' end\nreturn M")
    assert re.search(r"\S*:[0-9a-f]{8} cards: applied \(patch #\d+", text(out)), text(out)
    assert result(client.ok('%call .agent lua "deal"')) == '"J"'
    reply = client.error("%%reload cards in .agent\nlocal M = {}\n"
                         "require('skynet').error('loading')\nreturn M")
    assert "side effect" in reply["evalue"]
    (client.root / "lualib" / "cards.lua").write_text(
        "local M = {}\nfunction M.deal() return '10 9' end\nreturn M\n")
    out = client.ok("%%reload cards in .agent\n")  # an empty cell: the file on disk
    assert "applied" in text(out) and "changed: cards.deal" in text(out)
    assert result(client.ok('%call .agent lua "deal"')) == '"10 9"'
    assert "(module cards in" in text(client.ok("%undo"))
    assert result(client.ok('%call .agent lua "deal"')) == '"J"'
    assert "(module cards in" in text(client.ok("%undo"))
    assert result(client.ok('%call .agent lua "deal"')) == '"A K Q"'


def test_a_handler_swap_in_a_cell_is_logged_and_undone(client: Client) -> None:
    client.ok("local old = _P.lua.CMD.hello\n"
              "_P.lua.CMD.hello = function(who) return 'patched ' .. old(who) end")
    assert result(client.ok('%call .agent lua "hello", "bo"')) == '"patched hello bo"'
    log = text(client.ok("%patches"))
    assert "swapped _P.lua.CMD.hello" in log
    assert "(inject cell in" in text(client.ok("%undo"))
    assert result(client.ok('%call .agent lua "hello", "bo"')) == '"hello bo"'


def test_sharedata_is_built_by_the_cell(client: Client) -> None:
    client.ok("%%sharedata deal new\nround = 1")
    read = "return require('skynet.sharedata').query('deal').round"
    assert result(client.ok(read)) == "1"
    client.ok("%%sharedata deal\nround = 2")
    eventually(client, read, lambda r, o: result(o) == "2")
    assert "sharedata update" in text(client.ok("%patches"))
    assert "readers may already have acted" in client.error("%undo")["evalue"]


# --- the rest ----------------------------------------------------------------------------------


def test_help_files_and_python(client: Client) -> None:
    # %help is display data in the cell (nbconvert and Voila show it too)
    reply, out = client.run("%help")
    page = next(m["content"]["data"]["text/plain"] for m in out
                if m["msg_type"] == "display_data")
    assert "%use ADDR" in page and "%%hotfix" in page
    reply, out = client.run("%help hotfix")
    assert "checked" in next(m["content"]["data"]["text/plain"] for m in out
                             if m["msg_type"] == "display_data")
    client.ok("%%module scratch\nreturn {}")
    assert "saved service/scratch2.lua" in text(client.ok("%%service scratch2\nreturn 1"))
    out = client.ok("%%python\nprint(target.label(), target.node_name)")
    expected = "game1:.agent game1" if client.remote else "local"
    assert expected in text(out)
    reply = client.error("%%python\n1 / 0", python=True)
    assert reply["ename"] == "ZeroDivisionError"


def test_boot_brings_cells_to_the_in_process_node(client: Client) -> None:
    out = client.ok("%boot")
    assert "node booted; cells run in :" in text(out)
    assert "cells run in the local node" in text(client.ok("%nodes")) or not client.remote
    assert result(client.ok("return 1 + 1")) == "2"
    if client.remote:
        assert "disconnected game1" in text(client.ok("%disconnect game1"))
