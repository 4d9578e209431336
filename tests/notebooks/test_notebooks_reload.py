"""The hot-reload notebooks (05-08), executed by nbclient against the real kernel."""

from __future__ import annotations

import nbformat
import pytest
from notebook_run import by_source, errors_match_tags, execute, outputs


def cells(nb: nbformat.NotebookNode, start: str) -> list[nbformat.NotebookNode]:
    return [c for c in nb.cells if c.cell_type == "code" and c.source.startswith(start)]


@pytest.fixture(scope="module")
def snax_nb(tmp_path_factory):
    return execute("05-snax-hotfix.ipynb", tmp_path_factory.mktemp("nb"))


@pytest.fixture(scope="module")
def module_nb(tmp_path_factory):
    return execute("06-module-reload.ipynb", tmp_path_factory.mktemp("nb"))


@pytest.fixture(scope="module")
def service_nb(tmp_path_factory):
    return execute("07-service-reload.ipynb", tmp_path_factory.mktemp("nb"))


@pytest.fixture(scope="module")
def data_nb(tmp_path_factory):
    return execute("08-data-hot-update.ipynb", tmp_path_factory.mktemp("nb"))


def test_snax_hotfix_keeps_state_and_returns_the_patch_result(snax_nb):
    assert outputs(by_source(snax_nb, "local snax")) == "hello, alice (1)\nhello, bob (2)\n"
    patched = outputs(by_source(snax_nb, '%%hotfix ps "from'))
    assert "response.ping" in patched
    assert "hotfix returned: patched at i = 2 from the notebook" in patched
    assert outputs(by_source(snax_nb, 'print(ps.req.ping("carol"))')) == "HELLO, carol! (3)\n"


def test_failing_patches_change_nothing(snax_nb):
    mismatch, syntax = cells(snax_nb, "%%hotfix ps\n")
    assert "Patch mismatch accept.nosuch" in outputs(mismatch, "error")
    assert outputs(by_source(snax_nb, 'print(ps.req.ping("dave"))')) == "HELLO, dave! (4)\n"
    assert "patch does not load" in outputs(syntax, "error")
    lua = outputs(by_source(snax_nb, 'local snax = require "snax"\nprint(snax.hotfix'))
    assert lua == "add is now x10\nHELLO, erin! (15)\n"


def test_snax_patch_log_and_undo(snax_nb):
    assert "hotfix" in outputs(by_source(snax_nb, "%patches"))
    first, second = cells(snax_nb, "%undo")
    assert "undid patch #1 (hotfix" in outputs(first)
    assert outputs(by_source(snax_nb, 'print(ps.req.ping("frank"))')) == "hello, frank (16)\n"
    assert "every patch has been undone already" in outputs(second, "error")


def test_module_dry_run_then_reload(module_nb):
    dry, applied, *refused = cells(module_nb, "%%reload cards in .dealer")
    plan = outputs(dry)
    assert "cards: dry-run" in plan and "changed: cards.deal" in plan
    assert "added: cards.left" in plan and "joined: cards.left: dealt" in plan
    calls = cells(module_nb, '%call .dealer lua "deal"')
    assert [outputs(c, "result") for c in calls] == [
        '"A K Q"', '"J"', '"[10 A]"', '"[K]"', '"<Q,J>"', '"[10 A]"']
    assert "applied (patch #1" in outputs(applied)


def test_module_refusals_say_why(module_nb):
    refused = [outputs(c, "error") for c in cells(module_nb, "%%reload cards in .dealer\n")]
    assert any('side effect: calls require("skynet").error' in e for e in refused)
    assert any("cards.size changed type from number to table" in e for e in refused)
    assert any("raises during load" in e and "half-written file" in e for e in refused)


def test_module_reload_from_disk_and_undo(module_nb):
    (from_disk,) = [c for c in module_nb.cells if c.source.strip() == "%%reload cards in .dealer"]
    assert "applied (patch #2" in outputs(from_disk)
    assert "changed: cards.deal" in outputs(from_disk)
    assert "undid patch #2 (module cards" in outputs(by_source(module_nb, "%undo"))


def test_service_reload_carries_state_and_fails_callers_in_flight(service_nb):
    first, waited, broken = cells(service_nb, "%restart .counter")
    assert "1 request(s) in flight failed, state carried over" in outputs(first)
    assert outputs(by_source(service_nb, "local skynet = require \"skynet\"\nskynet.sleep(1)")) \
        == "false\tcall failed\n"
    adds = [outputs(c, "result") for c in cells(service_nb, '%call .counter lua "add"')]
    assert adds == ['"v1"\t5', '"v2"\t7', '"v2"\t7']
    assert "0 request(s) in flight failed" in outputs(waited)
    assert outputs(by_source(service_nb, "print(slow[1]")) == "true\tv2\t7\n"
    err = outputs(broken, "error")
    assert "the old state keeps running" in err and "forgot to finish this version" in err
    assert "cannot be undone: a service reload closed" in outputs(by_source(service_nb, "%undo"),
                                                                  "error")


def test_card_game_sees_new_deal_data(data_nb):
    plays = [outputs(c, "result") for c in cells(data_nb, '%call .cardtable lua "play"')]
    assert plays[:3] == ['"round 1: A K Q (jack bonus: 11)"', '"round 2: K Q J (jack bonus: 11)"',
                         '"round 3: 8 10 (jack bonus: 20)"']
    assert plays[3].startswith('"round 4: 10 9 (jack bonus: ')
    assert "The key [.bonus] doesn't exist after update" in plays[3]
    log = outputs(by_source(data_nb, "%patches"))
    assert "sharedata update -> version 3" in log
    assert "readers may already have acted" in outputs(by_source(data_nb, "%undo"), "error")


def test_deliberate_errors_and_their_tags_agree(snax_nb, module_nb, service_nb, data_nb):
    for nb in (snax_nb, module_nb, service_nb, data_nb):
        assert errors_match_tags(nb) == []
