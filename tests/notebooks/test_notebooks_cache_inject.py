"""02-code-cache and 03-inject, executed by nbclient against the real kernel, outputs asserted.

Each notebook runs once (module fixtures) in its own temporary copy directory, so the
`lualib/` and `service/` files its cells write never touch the repository.
"""

from __future__ import annotations

import nbformat
import pytest
from notebook_run import NOTEBOOKS, by_source, code_cells, errors_match_tags, execute, outputs

SKYNET_U_KEYS = {"proto", "session_id_coroutine", "session_coroutine_id",
                 "session_coroutine_address", "sleep_session", "wakeup_queue", "error_queue",
                 "fork_queue", "coroutine_pool", "skynet", "coroutine", "_ENV"}


def exact(nb: nbformat.NotebookNode, source: str) -> list[nbformat.NotebookNode]:
    return [c for c in nb.cells if c.cell_type == "code" and c.source.strip() == source]


# --- notebooks as committed ----------------------------------------------------------------


@pytest.mark.parametrize("name", ["02-code-cache.ipynb", "03-inject.ipynb"])
def test_committed_notebook_is_clean(name):
    nb = nbformat.read(NOTEBOOKS / name, as_version=4)
    nbformat.validate(nb)
    assert nb.metadata["kernelspec"] == {"name": "skynet", "display_name": "Skynet (Lua 5.4)",
                                         "language": "lua"}
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None


# --- 02-code-cache -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def cache_nb(tmp_path_factory: pytest.TempPathFactory) -> nbformat.NotebookNode:
    return execute("02-code-cache.ipynb", tmp_path_factory.mktemp("nb"))


def test_no_cell_fails(cache_nb):
    for cell in cache_nb.cells:
        if cell.cell_type == "code":
            assert outputs(cell, "error") == "", cell.source
    assert errors_match_tags(cache_nb) == []


def test_edit_and_require_again_still_gives_1(cache_nb):
    saves = code_cells(cache_nb, "%%module greeting")
    assert [outputs(c).split(";")[0] for c in saves] == ["saved lualib/greeting.lua"] * 3
    assert outputs(by_source(cache_nb, 'return require("greeting").v', 0), "result") == "1"
    # after the edit to v = 2: package.loaded answers
    assert outputs(by_source(cache_nb, 'return require("greeting").v', 1), "result") == "1"
    # package.loaded dropped: the code cache answers
    assert outputs(by_source(cache_nb, "package.loaded.greeting = nil", 0), "result") == "1"


def test_a_new_service_gets_the_cached_code(cache_nb):
    started = by_source(cache_nb, "%newservice reader first")
    assert "LAUNCH snlua reader first" in outputs(started, "log")
    assert outputs(by_source(cache_nb, '%call .first lua "v"', 0), "result") == "1"


def test_mode_off_reads_the_file(cache_nb):
    cell = by_source(cache_nb, 'local codecache = require "skynet.codecache"\nfile =')
    assert outputs(cell) == "./lualib/greeting.lua\tON\n"
    assert outputs(cell, "result") == "2"


def test_clear_new_loads_and_new_services_read_the_file(cache_nb):
    assert outputs(by_source(cache_nb, "%codecache clear", 0)).startswith(
        "code cache cleared: generation 2 starts")
    assert outputs(by_source(cache_nb, "package.loaded.greeting = nil", 1), "result") == "2"
    # the running service keeps its module; a service started now gets the new code
    assert outputs(by_source(cache_nb, '%call .first lua "v"', 1), "result") == "1"
    assert outputs(by_source(cache_nb, '%call .second lua "v"'), "result") == "2"


def test_the_observed_skynet_sequence(cache_nb):
    cell = by_source(cache_nb, 'local codecache = require "skynet.codecache"\nlocal seen')
    assert outputs(cell, "result") == '"EXIST 2, OFF 3, ON 2"'


def test_old_generation_stays_after_clear(cache_nb):
    table = outputs(exact(cache_nb, "%codecache")[0], "display")
    rows = {ln.split()[0]: ln.split() for ln in table.splitlines() if ln[:1].isdigit()}
    assert set(rows) == {"1", "2"}
    assert int(rows["1"][3]) > 0  # generation 1's bytes are still held


def test_generations_and_stale_services(cache_nb):
    cell = by_source(cache_nb, 'local skynet = require "skynet"\nlocal codecache')
    lines = outputs(cell).splitlines()
    assert lines[0] == "first is\t:0000000a\tsecond is\t:0000000b"
    gens = {ln.split("\t")[1]: ln.split("\t")[4].split() for ln in lines
            if ln.startswith("generation")}
    assert set(gens) == {"1", "2"}
    assert ":0000000a" in gens["1"] and ":0000000a" not in gens["2"]
    assert ":0000000b" in gens["2"] and ":0000000b" not in gens["1"]
    stale = [ln.split("\t") for ln in lines if ln.startswith("stale")]
    assert ["stale", ":0000000a", "./lualib/greeting.lua", "generation 1"] in stale
    assert ["stale", ":0000000b", "./lualib/greeting.lua", "generation 2"] in stale


def test_purge_frees_only_what_no_live_service_holds(cache_nb):
    assert outputs(by_source(cache_nb, "package.loaded.greeting = nil", 2), "result") == "3"
    before, after = code_cells(cache_nb, "%codecache purge")
    assert outputs(before).startswith("nothing to purge: 0 bytes freed")
    assert "2 (pinned by :0000000b)" in outputs(before)
    assert "KILL self" in outputs(by_source(cache_nb, "%exit .second"), "log")
    text = outputs(after)
    assert text.startswith("purged generation 2: ")
    assert int(text.split(": ")[1].split()[0]) > 0
    assert "kept 1 (pinned by " in text and ":0000000a" in text
    gens = [ln.split()[0] for ln in outputs(exact(cache_nb, "%codecache")[1],
                                            "display").splitlines() if ln[:1].isdigit()]
    assert gens == ["1", "3"]


# --- 03-inject -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def inject_nb(tmp_path_factory: pytest.TempPathFactory) -> nbformat.NotebookNode:
    return execute("03-inject.ipynb", tmp_path_factory.mktemp("nb"))


def test_inject_no_cell_fails(inject_nb):
    for cell in inject_nb.cells:
        if cell.cell_type == "code":
            assert outputs(cell, "error") == "", cell.source


def test_U_holds_skynets_bookkeeping(inject_nb):
    assert outputs(by_source(inject_nb, "%use .shop")).startswith("cells now run in :0000000a")
    keys = outputs(by_source(inject_nb, "local names = {}\nfor name in pairs(_U)"), "result")
    found = {k.strip().strip('"') for k in keys.strip().strip("{}").replace("\n", " ").split(",")}
    assert SKYNET_U_KEYS <= found, found


def test_P_lua_is_the_dispatch_upvalues(inject_nb):
    lines = outputs(by_source(inject_nb, "for proto, ups in pairs(_P)")).splitlines()
    protos = dict(ln.split("\t") for ln in lines)
    assert "CMD" in protos["lua"].split()
    assert outputs(by_source(inject_nb, "return _P.lua.CMD"), "result").startswith(
        "{ hello = function<./service/shop.lua:")


def test_swap_a_function_and_swap_it_back(inject_nb):
    calls = code_cells(inject_nb, '%call .shop lua "hello", "bob"')
    assert [outputs(c, "result") for c in calls] == [
        '"hello bob"', '"hello, bob! (hot-fixed)"', '"hello bob"']
    assert outputs(by_source(inject_nb, "local name, value = debug.getupvalue"),
                   "result") == '"visits"\t2'


def test_cell_globals_stay_in_the_cell_environment(inject_nb):
    cell = by_source(inject_nb, 'print("SERVICE_NAME", SERVICE_NAME)')
    assert outputs(cell).splitlines() == [
        "SERVICE_NAME\tshop",
        "old_hello in the cell's environment\ttrue",
        "old_hello among the service's globals\tfalse",
        "falls back to\tthe service's globals",
    ]


def test_plain_run_has_a_fresh_environment_each_time(inject_nb):
    assert outputs(by_source(inject_nb, "%use .home")).startswith("cells now run in :00000008")
    cell = by_source(inject_nb, 'local skynet = require "skynet"\nlocal first')
    assert outputs(cell).splitlines() == ["true\tx is\t1\thello ann", "true\tx is"]
