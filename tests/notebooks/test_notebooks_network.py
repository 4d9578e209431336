"""Notebook 10 executed against the real kernel: a gate, a watchdog and an agent in the
notebook's node, a Python client that stays connected while the agent is patched, and a
cluster call to a second node the notebook starts."""

from __future__ import annotations

import pytest
from notebook_run import by_source, execute, outputs


@pytest.fixture(scope="module")
def network_nb(tmp_path_factory: pytest.TempPathFactory):
    nb = execute("10-network.ipynb", tmp_path_factory.mktemp("nb"))
    # whatever happened, the remote node must not outlive the test
    stop = by_source(nb, "%%python\nclient.close()")
    assert "remote node stopped" in outputs(stop), outputs(stop, "error")
    return nb


def test_the_client_is_answered_by_the_agent(network_nb):
    first = by_source(network_nb, "%%python\nimport socket")
    text = outputs(first)
    assert "gate listening on 127.0.0.1 " in text, outputs(first, "error")
    assert "\necho: hello\n" in text
    assert "cells now run in :" in outputs(by_source(network_nb, "%use .agent1"))


def test_netstat_lists_the_gate_and_the_connection(network_nb):
    # the kernel shows the console's rows as a table, a column per key
    header, *rows = outputs(by_source(network_nb, "%console netstat")).splitlines()
    assert header.split()[:4] == ["key", "accept", "address", "id"] and "type" in header
    listen = [r for r in rows if " LISTEN" in r]
    tcp = [r for r in rows if " TCP " in r]
    assert len(listen) == 1 and " 127.0.0.1:" in listen[0], rows
    assert len(tcp) == 1 and " 127.0.0.1:" in tcp[0], rows


def test_the_patch_answers_on_the_same_connection(network_nb):
    assert outputs(by_source(network_nb, "_P.client.handler.message")) == "patched\n"
    before = outputs(by_source(network_nb, "%%python\nimport socket"))
    after = outputs(by_source(network_nb, '%%python\nprint(ask("hello"))'))
    assert after.startswith("v2: HELLO\n"), after
    port = before.strip().splitlines()[-1]
    assert port.startswith("connection from local port ")
    assert after.strip().splitlines()[-1] == port


def test_the_notebook_node_calls_the_other_node(network_nb):
    started = by_source(network_nb, "%%python\nimport pathlib")
    assert "remote node started, cluster port" in outputs(started), outputs(started, "error")
    call = by_source(network_nb, "local skynet = require \"skynet\"\nlocal cluster")
    assert outputs(call, "result") == '"hello notebook, from the remote node"', \
        outputs(call, "error")
    proxy = by_source(network_nb, "local skynet = require \"skynet\"\nlocal cluster", 1)
    assert outputs(proxy).startswith("hello proxy, from the remote node")
    result = outputs(proxy, "result")
    assert result.startswith("false") and "call failed" in result, result
    assert "Invalid name" in outputs(proxy, "log")
