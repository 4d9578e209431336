"""Notebook 09 executed against the real kernel: it starts `skykernel run` as its own
process, attaches over the debug console, patches a handler and views it."""

from __future__ import annotations

import pytest
from notebook_run import by_source, execute, outputs


@pytest.fixture(scope="module")
def remote_nb(tmp_path_factory: pytest.TempPathFactory):
    nb = execute("09-remote-node.ipynb", tmp_path_factory.mktemp("nb"))
    # whatever happened, the node process must not outlive the test
    stop = by_source(nb, "%%python\nawait kernel.magics.run_line_magic(\"disconnect")
    assert "node stopped" in outputs(stop), outputs(stop, "error")
    return nb


def test_the_node_starts_and_is_attached(remote_nb):
    start = by_source(remote_nb, "%%python\nimport pathlib")
    assert "console on port" in outputs(start)
    assert "connected game1 = 127.0.0.1:" in outputs(start)
    assert "game1\t127.0.0.1:" in outputs(by_source(remote_nb, "%nodes"))
    services = outputs(by_source(remote_nb, "%services game1"))
    assert "game" in services and "debug_console" in services


def test_a_cell_runs_in_the_remote_service(remote_nb):
    assert "cells now run in game1:.agent" in outputs(by_source(remote_nb, "%use game1:.agent"))
    cell = by_source(remote_nb, 'print("running in"')
    assert outputs(cell).startswith("running in\t")
    assert outputs(cell, "result") == '"hello ann"'


def test_patch_through_inject_changes_the_answer(remote_nb):
    calls = [c for c in remote_nb.cells if c.source.startswith("%console game1 call")]
    assert "1\thello bob" in outputs(calls[0])
    assert outputs(by_source(remote_nb, "local old = _P.lua.CMD.hello")) == "patched\n"
    assert "1\tpatched: hello bob" in outputs(calls[1])


def test_views_and_console_tables_work_remotely(remote_nb):
    view = by_source(remote_nb, "%protocols")
    assert not outputs(view, "error")
    assert any(o["output_type"] == "display_data" for o in view.outputs)
    assert "keeps no code-cache generations" in outputs(by_source(remote_nb, "%codecache"))
    mem = outputs(by_source(remote_nb, "%console game1 mem")).splitlines()
    assert mem[0].split() == ["address", "memory", "service"]
