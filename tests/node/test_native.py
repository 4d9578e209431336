"""The pack format in C (skykernel/node/native): services use it where it builds, and
skynet/seri.lua where it does not, with the same results; the bytes and errors of both
are held to each other in test_seri.py and test_fuzz_seri.py."""

from __future__ import annotations

import pytest
from conftest import Tree
from seri_support import c_library

from skykernel.node import native
from skykernel.node.luastate import VERSIONS

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


def probe(tree: Tree, config: str = "") -> list[str]:
    tree.write({"service/main.lua": PROBE})
    return [ln for ln in tree.run(config=config) if ln.startswith(("impl", "round", "err",
                                                                    "skynet.pack"))]


@pytest.mark.parametrize("version", VERSIONS)
def test_services_pack_in_c(tree: Tree, version: str) -> None:
    """Nodes of both Lua versions, in one process, each on its own version's build."""
    c_library(version)  # skips where there is no compiler
    assert probe(tree, f'lua = "{version}"\n') == ["impl C C", *SAME]


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
    assert lines[0].startswith("skynet.pack runs in Lua: the C did not build: ")
    assert lines[0].endswith("cc: out of order")
    assert lines[1:] == ["impl Lua Lua", *SAME]
    assert not list((tree.root / "native").glob("*"))  # no half-written build left
