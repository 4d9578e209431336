"""Notebook 09 executed against the real kernel: it starts a node as its own process,
attaches over the debug console, patches a handler, views it, then hot-fixes the node
(snax hotfix, module reload, undo). The node is `skykernel run`, and real skynet master
and 1.8 where present (`SKYNET_RUN`, the notebook's launcher, names real skynet's `run`)."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest
from notebook_run import by_source, code_cells, execute, outputs


@pytest.fixture(scope="module", params=["skykernel", "master", "1.8"])
def remote_nb(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory):
    import realskynet

    saved = os.environ.get("SKYNET_RUN")
    if request.param != "skykernel":
        if request.param not in realskynet.builds():
            pytest.skip(realskynet.missing_message() + f" (build {request.param})")
        root = realskynet.skynet_dir()
        os.environ["SKYNET_RUN"] = f"{root / 'run'} --skynet {request.param}"
    else:
        os.environ.pop("SKYNET_RUN", None)
    folder = tmp_path_factory.mktemp("nb")
    try:
        nb = execute("09-remote-node.ipynb", folder)
    finally:
        if saved is None:
            os.environ.pop("SKYNET_RUN", None)
        else:
            os.environ["SKYNET_RUN"] = saved
        _stop_left_over(folder / "09-remote-node.ipynb" / "node.pid")
    # whatever happened, the node process must not outlive the test
    stop = by_source(nb, "%%python\nawait kernel.magics.run_line_magic(\"disconnect")
    assert "node stopped" in outputs(stop), outputs(stop, "error")
    return nb


def _stop_left_over(pid_file: Path) -> None:
    """The node the notebook started, if a failed cell left it running."""
    try:
        pid = int(pid_file.read_text())
        os.killpg(pid, signal.SIGKILL)  # its own session: the launcher and the node
    except (OSError, ValueError):
        pass


def test_the_node_starts_and_is_attached(remote_nb):
    start = by_source(remote_nb, "%%python\nimport os, pathlib")
    assert "console on port" in outputs(start)
    assert "connected game1 = 127.0.0.1:" in outputs(start)
    assert "game1\t127.0.0.1:" in outputs(by_source(remote_nb, "%nodes"))
    services = outputs(by_source(remote_nb, "%services game1"))
    assert "game" in services and "debug_console" in services and "scores" in services


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


def test_snax_hotfix_module_reload_and_undo_on_the_node(remote_nb):
    adds = [outputs(c, "result") for c in code_cells(remote_nb, '%call .agent lua "add"')]
    assert adds == ["5", "15", "20"]  # plain, doubled by the hotfix, plain again after undo
    fixed = outputs(by_source(remote_nb, "%%hotfix .scores"))
    assert "game1:.scores response.add" in fixed
    assert "hotfix returned: doubling from now on; total kept at 5" in fixed
    reloaded = outputs(by_source(remote_nb, "%%reload rules everywhere"))
    assert "rules: applied (patch #" in reloaded and "changed: rules.greet" in reloaded
    greets = [outputs(c, "result") for c in code_cells(remote_nb, '%call .agent lua "greet"')]
    assert greets == ['"welcome back, carol"', '"hi carol"']
    log = outputs(by_source(remote_nb, "%patches"))
    assert log.startswith("game1: ")
    kinds = [line.split()[2] for line in log.splitlines()[1:]]
    assert kinds == ["inject", "hotfix", "module"]
    first, second = code_cells(remote_nb, "%undo")
    assert "undid patch #3 (module rules in game1:" in outputs(first)
    assert "undid patch #2 (hotfix" in outputs(second)
    assert not any(outputs(c, "error") for c in remote_nb.cells if c.cell_type == "code")
