"""The same program on real skynet and on skykernel logs the same lines."""

from __future__ import annotations

import realskynet
from conftest import Tree

PROGRAM = """
local skynet = require "skynet"
require "skynet.manager"
skynet.start(function()
    skynet.error("self", skynet.self())
    local ok, err = pcall(skynet.call, skynet.self(), "lua", "nothing")
    skynet.error("call to self without dispatch:", ok)
    skynet.error("pack", #skynet.packstring({1, 2, x = 3}))
    skynet.error("END")
end)
"""


def test_a_program_logs_the_same_on_both(tree: Tree, real_skynet: str) -> None:
    tree.write({"service/main.lua": PROGRAM})
    config = realskynet.write_config(tree.root)
    real = realskynet.run(config, real_skynet, cwd=tree.root)
    ours = tree.run()
    pick = ("self", "call to self", "pack", "END")
    assert [ln for ln in real if ln.startswith(pick)] == [ln for ln in ours if ln.startswith(pick)]
