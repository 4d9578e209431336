"""The pack format in C (skykernel/node/native): services use it where it builds, and
skynet/seri.lua where it does not, with the same results; the bytes and errors of both
are held to each other in test_seri.py and test_fuzz_seri.py."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import Tree
from seri_support import c_library, open_seri

from skykernel.node import native
from skykernel.node.luastate import VERSIONS, default_version, new_state

PROBE = """
local skynet = require "skynet"
skynet.start(function()
    local seri = require "skynet.seri"
    skynet.error("impl", debug.getinfo(seri.pack, "S").what, debug.getinfo(seri.unpack, "S").what)
    local msg, sz = skynet.pack({1, x = "y"}, 2.5)
    local t, f = skynet.unpack(msg, sz)
    skynet.error("round", t[1], t.x, f, sz)
    skynet.error("err", select(2, pcall(skynet.pack, print)))
    skynet.error("END")
end)
"""
SAME = ["round 1 y 2.5 17", "err Unsupport type function to serialize"]
NO_C = "skynet.pack runs in Lua and socket writes in Python: the C did not build: "


def probe(tree: Tree, config: str = "") -> list[str]:
    tree.write({"service/main.lua": PROBE})
    return [ln for ln in tree.run(config=config) if ln.startswith(("impl", "round", "err",
                                                                    NO_C))]


@pytest.mark.parametrize("version", VERSIONS)
def test_services_pack_in_c(tree: Tree, version: str) -> None:
    """Nodes of both Lua versions, in one process, each on its own version's build."""
    c_library(version)  # skips where there is no compiler
    assert probe(tree, f'lua = "{version}"\n') == ["impl C C", *SAME]


@pytest.mark.parametrize("version", VERSIONS)
def test_it_builds_from_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                version: str) -> None:
    """The build itself, into an empty cache (the suite's other tests may find one made
    earlier on this machine), and what it built works in a state of its version."""
    c_library(version)  # skips where there is no compiler
    monkeypatch.setenv(native.DIR_ENV, str(tmp_path))
    path = native.build(version)
    assert [p.name for p in tmp_path.iterdir()] == [path.rsplit("/", 1)[1]]
    assert path.startswith(str(tmp_path)) and f"native-{version}-" in path
    lua = new_state(version=version, encoding=None)
    seri = open_seri(lua, version, "c")
    assert lua.eval(b"debug.getinfo")(seri.pack, b"S").what == b"C"
    assert seri.unpack(seri.pack(1, b"two", 3.5)) == (1, b"two", 3.5)


def test_switched_off_services_pack_in_lua(tree: Tree, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(native.ENABLE_ENV, "0")
    assert probe(tree) == ["impl Lua Lua", *SAME]


def test_a_build_that_fails_leaves_lua_and_says_why(tree: Tree,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    broken = tree.root / "cc"
    broken.write_text("#!/bin/sh\necho 'cc: out of order' >&2\nexit 1\n")
    broken.chmod(0o755)
    monkeypatch.setenv("CC", str(broken))
    monkeypatch.setenv(native.DIR_ENV, str(tree.root / "native"))
    lines = probe(tree)
    assert lines[0].startswith(NO_C)
    assert lines[0].endswith("cc: out of order")
    assert lines[1:] == ["impl Lua Lua", *SAME]
    assert not list((tree.root / "native").glob("*"))  # no half-written build left


def test_a_failed_build_belongs_to_its_compiler(tree: Tree,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """A node started after a failed build, with the working compiler whose build the
    process already has, packs in C and reports no failure."""
    version = default_version()
    c_library(version)  # skips where there is no compiler
    monkeypatch.setenv(native.DIR_ENV, str(tree.root / "native"))
    assert native.library(version)
    broken = tree.root / "cc"
    broken.write_text("#!/bin/sh\nexit 1\n")
    broken.chmod(0o755)
    monkeypatch.setenv("CC", str(broken))
    assert probe(tree)[0].startswith(NO_C)
    monkeypatch.delenv("CC")
    assert probe(tree) == ["impl C C", *SAME]


@pytest.mark.parametrize("impl", ["lua", "c"])
def test_the_memory_limit_fails_a_pack_cleanly(impl: str) -> None:
    """A pack or unpack that runs out of a state's memory fails as a Lua error the
    service can catch, and the state goes on packing (the C build allocates nothing
    outside the state, so a long jump out of it leaks nothing)."""
    lua = new_state(encoding=None, max_memory=4 << 20)
    check = lua.eval(b"""function(seri)
        local big = {}
        for i = 1, 2000 do big[i] = string.rep(string.char(65 + i % 26), 1000) .. i end
        local out = {}
        for round = 1, 3 do
            local kept, ok, err = {}, true, nil
            while ok do
                ok, err = pcall(seri.pack, big)
                kept[#kept + 1] = ok and err or nil
            end
            kept = nil
            collectgarbage()
            out[round] = err
        end
        local again = seri.pack({ 1, "two" })
        local a, b = seri.unpack(seri.pack(7, "x"))
        return out[1], out[3], #again, a, b
    end""")
    first, third, n, a, b = check(open_seri(lua, default_version(), impl))
    assert b"not enough memory" in first and b"not enough memory" in third
    assert (n, a, b) == (8, 7, b"x")
