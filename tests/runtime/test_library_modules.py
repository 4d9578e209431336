"""skynet's library, module by module: every non-network module path skynet's lualib has
loads here too, skynet.require and skynet.init behave as skynet's, and skynet.harbor
answers as a standalone skynet does. Each program runs on real skynet (both builds, where
present) and on skykernel, and must log the same lines.

The helpers here (`compare`, `normalize`) are shared by the other test_library_* files.
"""

from __future__ import annotations

import re
from collections import defaultdict
from pathlib import Path

import realskynet
from conftest import Tree

ROOT = Path(__file__).resolve().parents[2]

# pointers (positions: realskynet.without_positions)
_POINTER = re.compile(r"0x[0-9a-fA-F]+")
_NOISE = ("LAUNCH ", "KILL ", "lua call [", "stack traceback", "\t", "init service failed",
          "Maybe forgot response")


def normalize(lines: list[str]) -> list[str]:
    """The program's own lines between BEGIN and END, without positions, pointers or the
    error reports whose tracebacks necessarily differ."""
    flat = [part for ln in lines for part in ln.split("\n")]
    start = flat.index("BEGIN")
    body = flat[start + 1: flat.index("END", start)]
    out = []
    for ln in body:
        ln = ln.replace("\x1b[31m", "").replace("\x1b[0m", "")
        if ln.startswith(_NOISE) or not ln.strip():
            continue
        out.append(_POINTER.sub("0x?", realskynet.without_positions(ln)))
    return out


def by_tag(lines: list[str]) -> dict[str, list[str]]:
    """Lines grouped by their first word: services on other threads interleave freely,
    each one's own order is what both must agree on."""
    groups: dict[str, list[str]] = defaultdict(list)
    for ln in lines:
        groups[ln.split(" ", 1)[0]].append(ln)
    return dict(groups)


def run_real(tree: Tree, build: str, timeout: float = 60) -> list[str]:
    config = realskynet.write_config(tree.root, 'lua_path = "./lualib/?.lua"\n')
    return realskynet.run(config, build, cwd=tree.root, timeout=timeout)


def run_ours(tree: Tree, timeout: float = 60) -> list[str]:
    return tree.run(config='lua_path = "./lualib/?.lua"\n', timeout=timeout)


def compare(tree: Tree, build: str, files: dict[str, str], *, tagged: bool = False,
            timeout: float = 60) -> list[str]:
    """Run the program on real skynet `build` and on skykernel; assert the same lines
    (per tag when `tagged`); return ours."""
    tree.write(files)
    real = normalize(run_real(tree, build, timeout))
    ours = normalize(run_ours(tree, timeout))
    if tagged:
        assert by_tag(ours) == by_tag(real)
    else:
        assert ours == real
    return ours


# --- module paths ----------------------------------------------------------------------

NETWORK = {"skynet.socket", "skynet.socketchannel", "skynet.cluster", "skynet.dns",
           "skynet.db.mongo", "skynet.db.mongo.transaction", "skynet.db.mysql",
           "skynet.db.redis", "skynet.db.redis.cluster", "skynet.db.redis.crc16",
           "snax.gateserver", "snax.loginserver", "snax.msgserver"}
#: Modules other parts of skykernel provide (bson, crypt, sproto...), not this library.
ELSEWHERE = {"skynet.inject", "skynet.crypt", "md5", "bson", "sproto", "sprotoloader",
             "sprotoparser"}


def skynet_lualib_modules() -> list[str]:
    """skynet.*, snax.* and compat10.* module names of real skynet's lualib (both builds
    have the same list); the built-in list when real skynet is absent."""
    root = realskynet.skynet_dir()
    names: set[str] = set()
    if root is not None:
        for build in realskynet.builds():
            lualib = root / build / "lualib"
            for path in lualib.rglob("*.lua"):
                rel = path.relative_to(lualib).with_suffix("")
                parts = list(rel.parts)
                if parts[-1] == "init":
                    parts = parts[:-1]
                if parts[0] in ("skynet", "snax", "compat10"):
                    names.add(".".join(parts))
    else:
        names = {"skynet.coroutine", "skynet.datacenter", "skynet.datasheet",
                 "skynet.datasheet.builder", "skynet.datasheet.dump", "skynet.debug",
                 "skynet.harbor", "skynet.injectcode", "skynet.manager", "skynet.mqueue",
                 "skynet.multicast", "skynet.queue", "skynet.remotedebug", "skynet.require",
                 "skynet.service", "skynet.sharedata", "skynet.sharedata.corelib",
                 "skynet.sharemap", "skynet.sharetable", "skynet.snax", "snax.hotfix",
                 "snax.interface"}
    compat_network = {"compat10.cluster", "compat10.dns", "compat10.mongo", "compat10.mysql",
                      "compat10.netpack", "compat10.redis", "compat10.socket",
                      "compat10.socketchannel", "compat10.socketdriver", "compat10.memory"}
    # the builder first: skynet.datasheet waits at load until a builder made the service
    return sorted(names - NETWORK - ELSEWHERE - compat_network,
                  key=lambda n: (n != "skynet.datasheet.builder", n))


MODULES = """
local skynet = require "skynet"
local names = { %s }
skynet.start(function()
    skynet.error("BEGIN")
    for _, name in ipairs(names) do
        local ok, m = pcall(require, name)
        skynet.error(name, ok, ok and type(m) or "")
    end
    for _, name in ipairs { "skynet.stm", "skynet.profile" } do
        local keys = {}
        for k in pairs(require(name)) do keys[#keys + 1] = k end
        table.sort(keys)
        skynet.error(name, table.concat(keys, " "))
    end
    skynet.error("END")
end)
"""


def test_every_library_module_path_loads() -> None:
    """Without real skynet too: each path loads on skykernel (the list is skynet's)."""
    names = skynet_lualib_modules()
    assert "skynet.datasheet" in names and "skynet.snax" in names


def test_module_paths_load_as_on_skynet(tree: Tree, real_skynet: str) -> None:
    # snax.hotfix is the one module whose type differs from skynet's (a callable table
    # here: the notebook's hotfix keeps its history in it); it is checked on its own
    names = [n for n in skynet_lualib_modules() if n != "snax.hotfix"]
    lua_names = ", ".join(f'"{n}"' for n in names)
    ours = compare(tree, real_skynet, {"service/main.lua": MODULES % lua_names})
    loaded = [ln for ln in ours if ln.split(" ")[0] in names]
    assert len(loaded) == len(names)
    assert all(" true " in ln for ln in loaded), loaded


def test_module_paths_load_on_skykernel(tree: Tree) -> None:
    names = skynet_lualib_modules() + ["skynet.stm", "skynet.profile", "skynet.debugchannel",
                                       "snax"]
    lua_names = ", ".join(f'"{n}"' for n in names)
    tree.write({"service/main.lua": MODULES % lua_names})
    lines = normalize(run_ours(tree))
    assert [ln for ln in lines if " false" in ln] == []
    assert "snax.hotfix true table" in lines  # callable as skynet's function is
    assert "skynet.stm copy new newcopy" in lines
    assert "skynet.profile resume start stop wrap" in lines
    assert "snax true table" in lines  # skykernel's old name, kept: the same module


def test_modules_skykernel_lacks_say_so_by_name(tree: Tree) -> None:
    # The database drivers and the DNS client are not provided (yet): asking for one
    # names the module and says why, rather than searching the disk for it.
    tree.write({"service/main.lua": """
local skynet = require "skynet"
skynet.start(function()
    skynet.error("BEGIN")
    for _, name in ipairs { "skynet.db.redis", "skynet.db.mysql", "skynet.dns" } do
        local ok, err = pcall(require, name)
        err = tostring(err)
        skynet.error(name, ok, err:match("'[%w.]+' is not provided by skykernel") or err)
    end
    skynet.error("END")
end)
"""})
    assert normalize(run_ours(tree)) == [f"{m} false '{m}' is not provided by skykernel"
                                         for m in ("skynet.db.redis", "skynet.db.mysql",
                                                   "skynet.dns")]


# --- skynet.require and skynet.init ----------------------------------------------------

REQUIRE = {
    "lualib/modinit.lua": """
local skynet = require "skynet"
skynet.error("modinit body", coroutine.isyieldable())
skynet.init(function() skynet.error("modinit init 1") end)
skynet.init(function() skynet.error("modinit init 2") end)
return nil
""",
    "lualib/modslow.lua": """
local skynet = require "skynet"
skynet.error("modslow begin")
skynet.sleep(10)
skynet.init(function() skynet.error("modslow init") end)
skynet.error("modslow end")
return { name = "slow" }
""",
    "lualib/modcirc_a.lua": """
local skynet = require "skynet"
skynet.sleep(1)
return { b = require "modcirc_b" }
""",
    "lualib/modcirc_b.lua": 'return { a = require "modcirc_a" }\n',
    "lualib/modfail.lua": """
local skynet = require "skynet"
skynet.sleep(5)
error("modfail boom")
""",
    "lualib/modmain.lua": """
local skynet = require "skynet"
skynet.init(function() skynet.error("modmain init (deferred to start)") end)
skynet.error("modmain body")
return 1
""",
    "service/main.lua": r"""
local skynet = require "skynet"
local function first(err) return (tostring(err):match("[^\n]*")) end
skynet.error("BEGIN")
require "modmain"
skynet.error("main chunk", skynet.pcall == pcall, type(require "skynet.require"))
skynet.init(function() skynet.error("main init A") end)
skynet.start(function()
    skynet.error("start")
    skynet.error("skynet.init in start:", pcall(skynet.init, function() end))
    skynet.error("skynet.init not a function:", pcall(skynet.init, 1))
    local m = require "modinit"
    skynet.error("modinit returned", m, package.loaded.modinit)
    for i = 1, 2 do
        skynet.fork(function()
            local s = require "modslow"
            skynet.error("fork", i, "got", s.name)
        end)
    end
    skynet.sleep(30)
    local ok, err = pcall(require, "modcirc_a")
    skynet.error("circular", ok, first(err))
    for i = 1, 2 do
        skynet.fork(function()
            local ok, err = pcall(require, "modfail")
            skynet.error("fail fork", i, ok, first(err))
        end)
    end
    skynet.sleep(30)
    local _, missing = pcall(require, "nonexistent_mod")
    skynet.error("nonexistent", (missing:match("module '[^']+' not found")))
    skynet.error("END")
end)
""",
}


def test_require_and_init_as_on_skynet(tree: Tree, real_skynet: str) -> None:
    ours = compare(tree, real_skynet, REQUIRE)
    assert ours[:4] == ["modmain body", "main chunk true table",
                        "modmain init (deferred to start)", "main init A"]
    assert "circular false circular dependency" in ours
    assert "fail fork 2 false require modfail failed" in ours


def test_require_and_init_on_skykernel(tree: Tree) -> None:
    tree.write(REQUIRE)
    lines = normalize(run_ours(tree))
    assert lines[:5] == ["modmain body", "main chunk true table",
                         "modmain init (deferred to start)", "main init A", "start"]
    assert "skynet.init in start: false bad argument #1 to 'insert' (table expected, got nil)" \
        in lines
    assert "skynet.init not a function: false assertion failed!" in lines
    # in a coroutine the module's body may block, and its inits run right after it
    assert lines.index("modslow begin") < lines.index("modslow end") < \
        lines.index("modslow init") < lines.index("fork 1 got slow")
    assert lines.count("modslow begin") == 1  # the second fork waited, it did not load it
    assert "modinit body true" in lines and "modinit returned true true" in lines
    assert "circular false circular dependency" in lines
    assert "fail fork 1 false modfail boom" in lines
    assert "fail fork 2 false require modfail failed" in lines
    assert "nonexistent module 'nonexistent_mod' not found" in lines


# --- skynet.harbor, global names -------------------------------------------------------

HARBOR = {
    "service/echo.lua": """
local skynet = require "skynet"
skynet.start(function()
    skynet.dispatch("lua", function(session, source, cmd) skynet.retpack("echo", cmd) end)
end)
""",
    "service/main.lua": """
local skynet = require "skynet"
require "skynet.manager"
local harbor = require "skynet.harbor"
skynet.start(function()
    skynet.error("BEGIN")
    local e = skynet.newservice("echo")
    harbor.globalname("GECHO", e)
    skynet.error("queryname", harbor.queryname("GECHO") == e)
    skynet.error("queryname local", harbor.queryname(".launcher"))
    skynet.error("localname of a global name", skynet.localname("GECHO"))
    skynet.error("call by global name", skynet.call("GECHO", "lua", "hi"))
    skynet.register("GMAIN")
    skynet.error("register", harbor.queryname("GMAIN") == skynet.self())
    skynet.fork(function() skynet.error("waited for LATE", harbor.queryname("LATE") == e) end)
    skynet.sleep(1)
    skynet.name("LATE", e)
    skynet.sleep(1)
    skynet.error("link", harbor.link(1))
    skynet.error("linkmaster", pcall(harbor.linkmaster))
    skynet.fork(function() skynet.error("connect never answers", pcall(harbor.connect, 2)) end)
    skynet.sleep(10)
    skynet.error("harbor", skynet.harbor(skynet.self()))
    skynet.error("END")
end)
""",
}


def test_harbor_standalone_as_on_skynet(tree: Tree, real_skynet: str) -> None:
    ours = compare(tree, real_skynet, HARBOR)
    assert "linkmaster false call failed" in ours
    assert "Can't connect to other harbor in single node mode" in ours
    assert not any(ln.startswith("connect never answers") for ln in ours)


def test_harbor_standalone_on_skykernel(tree: Tree) -> None:
    tree.write(HARBOR)
    lines = normalize(run_ours(tree))
    assert lines == [
        "queryname true", "queryname local 3", "localname of a global name",
        "call by global name echo hi", "register true", "waited for LATE true", "link",
        "linkmaster false call failed", "Can't connect to other harbor in single node mode",
        "harbor 0 false"]
