"""Lua 5.4 and Lua 5.5: the config key, the environment's default, nodes of both versions
in one process, the two kernelspecs and what each kernel reports and accepts.

Everything else the suite checks runs on one version per pass (`make test` runs it on
5.4, then on 5.5 with SKYKERNEL_LUA=5.5); these tests pick their versions themselves.
"""

from __future__ import annotations

import asyncio
import json
import os
import threading
from pathlib import Path
from typing import Any

import pytest
from conftest import ROOT, Tree, messages, run_cli
from jupyter_client.manager import start_new_kernel

from skykernel.install import KERNELS, install, kernel_spec
from skykernel.kernel.luasyntax import LuaSyntax
from skykernel.luatext import clean_traceback
from skykernel.node import luastate
from skykernel.node.config import ConfigError, default_config, load_config
from skykernel.node.node import CallError, Node

BOTH = pytest.mark.parametrize("lua", luastate.VERSIONS)

VERSION_MAIN = """
local skynet = require "skynet"
skynet.start(function()
    skynet.error("version", _VERSION, skynet.getenv "lua")
    skynet.error("END")
end)
"""

SPINNER = """
local skynet = require "skynet"
skynet.start(function()
    skynet.dispatch("lua", function(_, _, cmd)
        if cmd == "spin" then while true do end end
        skynet.ret(skynet.pack(_VERSION))
    end)
end)
"""


@pytest.fixture
def no_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """The suite may run with SKYKERNEL_LUA set: these tests say what they want."""
    monkeypatch.delenv(luastate.VERSION_ENV, raising=False)
    return monkeypatch


# --- the config key -------------------------------------------------------------------


@BOTH
def test_the_config_key_picks_the_lua_of_every_service(tree: Tree, lua: str) -> None:
    tree.write({"service/main.lua": VERSION_MAIN})
    lines = tree.run(config=f'lua = "{lua}"\n')
    assert f"version Lua {lua} {lua}" in lines


def test_without_the_key_5_4_unless_the_environment_says(tree: Tree, no_env) -> None:
    Path("config").write_text('start = "main"\n')
    assert load_config("config").lua == "5.4"
    assert default_config().lua == "5.4"
    no_env.setenv(luastate.VERSION_ENV, "5.5")
    assert load_config("config").lua == "5.5"
    assert default_config().lua == "5.5"
    # a kernel's own version beats the environment; the file's key beats both
    assert load_config("config", lua="5.4").lua == "5.4"
    Path("config").write_text('start = "main"\nlua = "5.4"\n')
    assert load_config("config", lua="5.5").lua == "5.4"
    Path("config").write_text('start = "main"\nlua = 5.5\n')  # a number reads as its text
    assert load_config("config").lua == "5.5"


@pytest.mark.parametrize("value", ['"5.3"', "5.3", '"5.4 "', '"lua55"', '""'])
def test_a_bad_version_is_a_config_error_naming_the_key(tree: Tree, value: str) -> None:
    Path("config").write_text(f'start = "main"\nlua = {value}\n')
    with pytest.raises(ConfigError, match=r'config key "lua" must be "5.4" or "5.5", got'):
        load_config("config")


def test_a_bad_default_is_a_config_error_naming_its_source(tree: Tree, no_env) -> None:
    Path("config").write_text('start = "main"\n')
    with pytest.raises(ConfigError, match=r"Lua '5\.1' is not available"):
        default_config(lua="5.1")
    no_env.setenv(luastate.VERSION_ENV, "5.3")
    with pytest.raises(ConfigError, match=r"SKYKERNEL_LUA: Lua '5\.3' is not available"):
        load_config("config")


def test_skykernel_run_honours_the_key_and_refuses_a_bad_one(tmp_path: Path) -> None:
    (tmp_path / "service").mkdir()
    (tmp_path / "service" / "main.lua").write_text(VERSION_MAIN.replace(
        'skynet.error("END")', 'skynet.exit()'))
    (tmp_path / "config").write_text('start = "main"\nharbor = 0\nlua = "5.5"\n')
    done = run_cli("run", "config", cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "version Lua 5.5 5.5" in done.stdout
    (tmp_path / "config").write_text('start = "main"\nharbor = 0\nlua = "5.3"\n')
    refused = run_cli("run", "config", cwd=tmp_path)
    assert refused.returncode == 2
    assert 'config key "lua" must be "5.4" or "5.5", got \'5.3\'' in refused.stderr


# --- both versions in one process -------------------------------------------------------


def test_nodes_of_both_versions_run_and_interrupt_side_by_side(tree: Tree) -> None:
    """Each node's states are its own version, and a runaway loop in each is stopped
    through its own extension's lua_sethook (arming a 5.5 thread with 5.4's C API, or
    the reverse, would corrupt it)."""
    tree.write({"service/spinner.lua": SPINNER})
    nodes = {v: tree.node(f'start = ""\nlua = "{v}"\n') for v in luastate.VERSIONS}

    async def spin_and_stop(node: Node) -> None:
        addr = await node.newservice("spinner")
        stop = threading.Event()

        def interrupt() -> None:  # until the call fails: a slow machine may spin late
            if not stop.is_set():
                node.interrupt()
                threading.Timer(0.3, interrupt).start()

        threading.Timer(0.3, interrupt).start()
        try:
            with pytest.raises(CallError, match="call failed"):
                await node.call(addr, "lua", "spin")
        finally:
            stop.set()
        assert await node.call(addr, "lua", "version") == (f"Lua {node.config.lua}".encode(),)
        assert any("interrupted" in t for t in messages(node, addr))

    async def main() -> None:
        for node in nodes.values():
            node.guard = True
            await node.start()
        try:
            await asyncio.wait_for(asyncio.gather(*map(spin_and_stop, nodes.values())), 60)
        finally:
            for node in nodes.values():
                await node.shutdown()

    asyncio.run(main())


# --- the kernel's syntax check and tracebacks -------------------------------------------


def test_the_syntax_check_is_the_nodes_version() -> None:
    old, new = LuaSyntax("5.4"), LuaSyntax("5.5")
    assert old.is_complete("global x = 1") == "invalid"
    assert new.is_complete("global x = 1") == "complete"
    assert old.is_complete("for i = 1, 2 do i = 1 end") == "complete"
    assert new.is_complete("for i = 1, 2 do i = 1 end") == "invalid"
    assert new.is_complete("global function f()") == "incomplete"


TRACEBACK = r"""
local f = load("local t = nil\nreturn t.x", "=cell[2]")
local ok, err = xpcall(f, function(e) return debug.traceback(tostring(e), 2) end)
return err
"""


@BOTH
def test_the_wrappers_frames_are_cut_from_either_versions_traceback(lua: str) -> None:
    """5.5 names a global's frame "in global 'xpcall'" where 5.4 says "in function"."""
    state = luastate.new_state(version=lua, encoding="utf-8")
    tb = state.execute(TRACEBACK)
    assert "'xpcall'" in tb
    expected = ["cell[2]:2: attempt to index a nil value (local 't')", "stack traceback:",
                "\tcell[2]:2: in main chunk"]
    assert clean_traceback(tb) == expected


# --- kernelspecs and kernels ----------------------------------------------------------


def test_both_kernelspecs_ship_and_install(tmp_path: Path) -> None:
    shipped = {p.parent.name: json.loads(p.read_text())
               for p in (ROOT / "share" / "jupyter" / "kernels").glob("*/kernel.json")}
    assert set(shipped) == set(KERNELS) == {"skynet", "skynet-lua55"}
    for name, spec in shipped.items():
        assert spec == kernel_spec("python", name)
    assert shipped["skynet"]["display_name"] == "Skynet (Lua 5.4)"
    assert shipped["skynet-lua55"]["display_name"] == "Skynet (Lua 5.5)"
    assert "--lua=5.5" in shipped["skynet-lua55"]["argv"]
    pyproject = (ROOT / "pyproject.toml").read_text()
    for name in KERNELS:
        assert f'"share/jupyter/kernels/{name}" = "share/jupyter/kernels/{name}"' in pyproject

    where = install(prefix=str(tmp_path))
    assert [Path(p).name for p in where] == ["skynet", "skynet-lua55"]
    for p in where:
        spec = json.loads((Path(p) / "kernel.json").read_text())
        assert Path(spec["argv"][0]).is_absolute()


@pytest.fixture(scope="module")
def kernels(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """Both installed kernelspecs, found by jupyter_client through JUPYTER_PATH; kernels
    start without SKYKERNEL_LUA, so each runs what its spec says."""
    prefix = tmp_path_factory.mktemp("prefix")
    install(prefix=str(prefix))
    patch = pytest.MonkeyPatch()
    patch.setenv("JUPYTER_PATH", str(prefix / "share" / "jupyter"))
    env = {k: v for k, v in os.environ.items() if k != luastate.VERSION_ENV}
    started = []

    def start(name: str) -> Any:
        cwd = tmp_path_factory.mktemp(name)
        km, kc = start_new_kernel(kernel_name=name, cwd=str(cwd), env=env)
        kc.cwd = cwd
        started.append((km, kc))
        return kc

    try:
        yield start
    finally:
        for km, kc in started:
            kc.stop_channels()
            km.shutdown_kernel(now=True)
        patch.undo()


def execute(kc: Any, code: str) -> tuple[dict[str, Any], str | None]:
    """The reply content and the execute_result text of one cell."""
    msg_id = kc.execute(code)
    reply = kc.get_shell_msg(timeout=60)
    while reply["parent_header"].get("msg_id") != msg_id:
        reply = kc.get_shell_msg(timeout=60)
    shown = None
    while True:
        msg = kc.get_iopub_msg(timeout=60)
        if msg["parent_header"].get("msg_id") != msg_id:
            continue
        if msg["msg_type"] == "execute_result":
            shown = msg["content"]["data"]["text/plain"]
        if msg["msg_type"] == "status" and msg["content"]["execution_state"] == "idle":
            return reply["content"], shown


def language_version(kc: Any) -> str:
    kc.kernel_info()
    return kc.get_shell_msg(timeout=30)["content"]["language_info"]["version"]


@pytest.mark.parametrize(("name", "lua"), [("skynet", "5.4"), ("skynet-lua55", "5.5")])
def test_each_kernel_runs_and_reports_its_lua(kernels, name: str, lua: str) -> None:
    kc = kernels(name)
    assert language_version(kc) == lua
    assert execute(kc, "return _VERSION")[1] == f'"Lua {lua}"'
    kc.is_complete("global x = 1")
    status = kc.get_shell_msg(timeout=30)["content"]["status"]
    assert status == ("complete" if lua == "5.5" else "invalid")
    reply, _ = execute(kc, "error('boom')")
    assert reply["status"] == "error"
    # the runtime's frames are cut, whatever each version calls xpcall's frame
    cell = f"cell[{reply['execution_count']}]"  # a cell's chunk is named after it
    assert reply["traceback"] == [f"{cell}:1: boom", "stack traceback:",
                                  f"\t{cell}:1: in main chunk"]


def test_a_boot_config_that_names_a_version_wins_and_is_reported(kernels) -> None:
    kc = kernels("skynet-lua55")
    (kc.cwd / "service").mkdir()
    (kc.cwd / "service" / "main.lua").write_text(
        'local skynet = require "skynet"\nskynet.start(function() end)\n')
    (kc.cwd / "old.cfg").write_text('start = "main"\nharbor = 0\nlua = "5.4"\n')
    (kc.cwd / "same.cfg").write_text('start = "main"\nharbor = 0\n')
    assert execute(kc, "%boot old.cfg")[0]["status"] == "ok"
    assert execute(kc, "return _VERSION")[1] == '"Lua 5.4"'
    assert language_version(kc) == "5.4"
    assert execute(kc, "%boot same.cfg")[0]["status"] == "ok"  # no key: the kernel's own
    assert execute(kc, "return _VERSION")[1] == '"Lua 5.5"'
    assert language_version(kc) == "5.5"


# --- against real skynet: master is Lua 5.5, 1.8 is Lua 5.4 ---------------------------

LANGUAGE = r"""
local skynet = require "skynet"
local function try(name, f, ...)
    local ok, r = pcall(f, ...)
    skynet.error(name, ok, tostring(r))
end
local function compiles(name, code)
    local f, err = load(code, "=probe")
    skynet.error(name, f ~= nil, tostring(err))
end
skynet.start(function()
    skynet.error("version", _VERSION)
    compiles("global declaration", "global x = 1; return x")
    compiles("global as a name", "local global = 1; return global")
    compiles("assign to a loop variable", "for i = 1, 2 do i = 3 end")
    compiles("const", "local c <const> = 1; c = 2")
    skynet.error("numbers", 2^63, 1e100, -0.0, 7 // 0.0, 3 / 2, 1 // 1, math.maxinteger + 0.0)
    skynet.error("length", #{1, 2, 3, nil}, #"abc", select("#", table.unpack({1, 2}, 1, 4)))
    skynet.error("new functions", type(table.create), type(utf8.char), type(math.ult))
    try("index nil", function() local t; return t.x end)
    try("call nil", function() return undefined_function() end)
    try("arith on a table", function() return {} + 1 end)
    try("compare", function() return 1 < "x" end)
    try("concat", function() return "a" .. {} end)
    try("bad argument", string.rep)
    try("error with a table", error, setmetatable({}, {__tostring = function() return "T" end}))
    try("tointeger of a string", math.tointeger, "8")
    try("string to number", function() return "10" + 1 end)
    try("loop to maxinteger", function()
        local n = 0
        for _ = math.maxinteger - 1, math.maxinteger do n = n + 1 end
        return n
    end)
    skynet.error("format", string.format("%5.2f|%d|%q|%s", 3.14159, 42, "a\0b", 1e15))
    skynet.error("END")
end)
"""


@pytest.mark.parametrize(("build", "lua"), [("master", "5.5"), ("1.8", "5.4")])
def test_the_language_is_the_builds(tree: Tree, build: str, lua: str) -> None:
    """The same program on real skynet and on a node of the same Lua logs the same lines:
    what a service sees of its language (new syntax, error texts, number formatting)."""
    import realskynet

    if build not in realskynet.builds():
        pytest.skip(realskynet.missing_message() + f" (build {build})")
    tree.write({"service/main.lua": LANGUAGE})
    config = realskynet.write_config(tree.root)
    real = realskynet.run(config, build, cwd=tree.root)
    ours = tree.run(config=f'lua = "{lua}"\n')

    def program(lines: list[str]) -> list[str]:
        start = next(i for i, ln in enumerate(lines) if ln.startswith("version"))
        return lines[start : lines.index("END", start)]

    assert program(ours) == program(real)
    assert program(ours)[0] == f"version Lua {lua}"


@pytest.mark.parametrize(("lua", "text"), [("5.4", "0.33333333333333"),
                                           ("5.5", "0.33333333333333331")])
def test_config_numbers_read_as_the_nodes_lua_writes_them(tree: Tree, no_env, lua: str,
                                                         text: str) -> None:
    """skynet hands every key to getenv as text, in its Lua's number format."""
    Path("config").write_text(f'lua = "{lua}"\nthird = 1 / 3\nhalf = 0.5\nn = 7\n')
    for default in luastate.VERSIONS:
        values = load_config("config", lua=default).values
        assert (values["third"], values["half"], values["n"]) == (text, "0.5", "7")
