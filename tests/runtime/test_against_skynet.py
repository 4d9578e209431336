"""tests/against_skynet.py, the plugin that reruns the tests' Lua programs on real skynet
(`make against-skynet`): run on a probe test of its own, it reports a line both sides
log alike as the same and a skykernel-only module as a difference."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
import realskynet
from conftest import ROOT

PROBE = '''
from conftest import Tree


def test_probe(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    Tree(tmp_path).write({"service/main.lua": """
local skynet = require "skynet"
skynet.start(function()
	skynet.error("ALIKE", 6 * 7)
	skynet.error("OURS", (pcall(require, "skykernel.pretty")))
	skynet.error("END")
end)
"""}).run()
'''


def test_the_report_shows_what_differs_and_only_that(tmp_path):
    if "master" not in realskynet.builds():
        pytest.skip(realskynet.missing_message() + " (build master)")
    (tmp_path / "test_probe.py").write_text(PROBE)
    report = tmp_path / "report.txt"
    env = dict(os.environ, SKYKERNEL_AGAINST_REPORT=str(report))
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "against_skynet",
         "-c", str(ROOT / "pyproject.toml"), "--rootdir", str(ROOT), str(tmp_path)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stdout + done.stderr
    text = report.read_text()
    assert "test_probe.py::test_probe" in text
    changed = [ln for ln in text.splitlines() if ln[:1] in "+-" and ln[:3] not in ("+++", "---")]
    assert changed == ["-OURS true", "+OURS false"]
