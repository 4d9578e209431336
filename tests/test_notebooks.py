"""The notebooks, executed by nbclient against the real kernel, outputs asserted."""

from __future__ import annotations

import nbformat
import pytest
from notebook_run import by_source, execute, outputs


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


def test_service_starts_logs_and_answers(first_node):
    started = by_source(first_node, "%newservice counter")
    assert " counter" in outputs(started)
    assert "counter ready" in outputs(started, "log")
    assert outputs(by_source(first_node, "%call .counter"), "result") == "5"
    assert outputs(by_source(first_node, "return _P.lua.CMD.inc(1)"), "result") == "6"


def test_error_is_shown_and_service_keeps_serving(first_node):
    err = outputs(by_source(first_node, "local t = nil"), "error")
    assert err.startswith("LuaError:")
    assert "attempt to index a nil value" in err
    assert outputs(by_source(first_node, "return _P.lua.CMD.inc(0)"), "result") == "6"


def test_log_magic_shows_recent_lines(first_node):
    assert "[:0000" in outputs(by_source(first_node, "%log"))
