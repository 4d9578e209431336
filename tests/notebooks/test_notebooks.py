"""The notebooks, executed by nbclient against the real kernel, outputs asserted."""

from __future__ import annotations

import nbformat
import pytest
from notebook_run import NOTEBOOKS, by_source, errors_match_tags, execute, outputs, raises

WALKTHROUGHS = sorted(p.name for p in NOTEBOOKS.glob("0[1-8]-*.ipynb"))


@pytest.fixture(scope="module")
def first_node(tmp_path_factory: pytest.TempPathFactory) -> nbformat.NotebookNode:
    return execute("01-first-node.ipynb", tmp_path_factory.mktemp("nb"))


def test_services_table_shows_the_boot_order(first_node):
    # %services is a widget; its text/plain (what nbconvert and GitHub show) is the table
    cell = by_source(first_node, "%services")
    table = next(o["data"]["text/plain"] for o in cell.outputs
                 if o["output_type"] == "display_data")
    lines = table.splitlines()
    assert lines[0].split()[:2] == ["address", "name"]
    order = [ln.split()[1] for ln in lines[1:]]
    assert order[:6] == ["logger", "launcher", "cdummy", "harbor", "datacenterd", "service_mgr"]
    assert "notebook" in order


def test_first_cell_runs_in_the_notebook_service(first_node):
    cell = by_source(first_node, 'local skynet = require "skynet"\nprint')
    assert outputs(cell).startswith("hello from\t:0000000")
    assert int(outputs(cell, "result")) == int(outputs(cell).split(":")[1], 16)


def test_variables_persist(first_node):
    assert outputs(by_source(first_node, "answer + 1"), "result") == "43"
    # the first cell's `local skynet` carried over
    assert outputs(by_source(first_node, "skynet.address(skynet.self())"), "result") \
        == '":00000008"'


def test_service_starts_logs_and_answers(first_node):
    started = by_source(first_node, "%newservice counter")
    assert " counter" in outputs(started)
    assert "counter ready" in outputs(started, "log")
    assert outputs(by_source(first_node, "%call .counter"), "result") == "5"
    assert outputs(by_source(first_node, "return _P.lua.CMD.inc(1)"), "result") == "6"


def test_error_is_shown_and_service_keeps_serving(first_node):
    failing = by_source(first_node, "local t = nil")
    err = outputs(failing, "error")
    assert err.startswith(f"LuaError: cell[{failing.execution_count}]:2: ")  # the cell, line 2
    assert "attempt to index a nil value" in err
    assert outputs(by_source(first_node, "return _P.lua.CMD.inc(0)"), "result") == "6"


def test_log_magic_shows_recent_lines(first_node):
    assert "[:0000" in outputs(by_source(first_node, "%log"))
    # log lines in the cells are muted display data, not stderr: red is for errors
    assert all(outputs(c, "stderr") == "" for c in first_node.cells if c.cell_type == "code")


def test_display_shows_markdown(first_node):
    shown = [o for o in by_source(first_node, "display.markdown").outputs
             if o["output_type"] == "display_data"]
    assert [o["data"]["text/markdown"] for o in shown] == ["**counter** counts *6*"]


def test_deliberate_errors_are_tagged_so_run_all_goes_on(first_node):
    assert errors_match_tags(first_node) == []


@pytest.mark.parametrize("name", WALKTHROUGHS)
def test_walkthroughs_as_committed_tag_their_error_cells(name):
    nb = nbformat.read(NOTEBOOKS / name, as_version=4)
    nbformat.validate(nb)
    tagged = [c.source.split("\n")[0] for c in nb.cells if c.cell_type == "code" and raises(c)]
    expected = {"01-first-node.ipynb": ["local t = nil"],
                "05-snax-hotfix.ipynb": ["%%hotfix ps", "%%hotfix ps", "%undo"],
                "06-module-reload.ipynb": ["%%reload cards in .dealer"] * 3,
                "07-service-reload.ipynb": ["%restart .counter", "%undo"],
                "08-data-hot-update.ipynb": ["%undo"]}
    assert tagged == expected.get(name, [])
