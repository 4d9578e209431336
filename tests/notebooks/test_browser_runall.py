"""Every walkthrough (01-08) with Run All in a real JupyterLab, as a learner runs it.

The deliberate error cells carry the `raises-exception` tag, which JupyterLab turns into
`stop_on_error: false`: Run All goes on past them, as nbclient does in the notebook
tests. Each notebook is run whole in the browser; the test checks that no cell is left
unrun (on screen and in the saved file), that the errors are exactly the tagged cells,
and that log lines are muted, not red. The server is configured as `make lab` configures
it (new notebooks default to the Skynet kernel), with the kernelspecs `skykernel
install` writes (logo, docs page). Screenshots of failures go to tests/artifacts/.
"""

from __future__ import annotations

import json
import re
import time
import urllib.request
from pathlib import Path

import nbformat
import pytest
from lab_harness import ARTIFACTS, ROOT, browser, jupyter_lab, make_args

from skykernel.install import install

WALKTHROUGHS = sorted((ROOT / "notebooks").glob("0[1-8]-*.ipynb"))
STATUS_IDLE = "Skynet (Lua 5.4) | Idle"
#: JupyterLab keeps every cell in the page (no windowing), so each one can be read.
NO_WINDOWING = {"@jupyterlab/notebook-extension:tracker": {"windowingMode": "none"}}


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory):
    tmp = tmp_path_factory.mktemp("runall")
    prefix = tmp / "prefix"
    install(prefix=str(prefix))  # the specs `make lab` installs, found first on JUPYTER_PATH
    env = {"JUPYTER_PATH": str(prefix / "share" / "jupyter")}
    # a test server on 127.0.0.1 with no token: its REST calls (closing a notebook's
    # kernel) need no XSRF cookie either
    args = [*make_args(), "--ServerApp.disable_check_xsrf=True"]
    with jupyter_lab(tmp, WALKTHROUGHS, *args, settings=NO_WINDOWING, env=env) as url:
        yield url, tmp / "work"


@pytest.fixture(scope="module")
def chromium():
    with browser() as b:
        yield b


def _get(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=30) as r:
        return r.read()


def _shut_down_sessions(url: str) -> None:
    """Each notebook's kernel goes when its test ends: one node at a time on the machine."""
    for session in json.loads(_get(url + "/api/sessions")):
        req = urllib.request.Request(f"{url}/api/sessions/{session['id']}", method="DELETE")
        urllib.request.urlopen(req, timeout=30).close()


def test_the_server_make_lab_starts_defaults_to_skynet_and_serves_its_logo_and_docs(lab):
    url, _ = lab
    specs = json.loads(_get(url + "/api/kernelspecs"))
    assert specs["default"] == "skynet"  # a new notebook gets the Skynet kernel
    for name in ("skynet", "skynet-lua55"):
        resources = specs["kernelspecs"][name]["resources"]
        assert set(resources) >= {"logo-32x32", "logo-64x64", "logo-svg"}
        assert _get(url + resources["logo-64x64"]).startswith(b"\x89PNG\r\n\x1a\n")
        assert b"<svg" in _get(url + resources["logo-svg"])
    # the kernel's Help menu link to our docs is served by the same server
    docs = _get(url + "/kernelspecs/skynet/docs.html").decode()
    assert "skykernel" in docs and "inject" in docs


@pytest.mark.parametrize("path", WALKTHROUGHS, ids=[p.stem for p in WALKTHROUGHS])
def test_run_all_runs_every_cell(lab, chromium, path: Path) -> None:
    from playwright.sync_api import expect

    url, work = lab
    name = path.name
    committed = nbformat.read(path, as_version=4)
    code = [c for c in committed.cells if c.cell_type == "code"]
    tagged = [i for i, c in enumerate(code)
              if "raises-exception" in c.metadata.get("tags", [])]
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page = chromium.new_page(viewport={"width": 1400, "height": 1000})
    page.set_default_timeout(30_000)
    try:
        page.goto(f"{url}/lab/tree/{name}?reset")
        status = page.locator(".jp-StatusBar-Widget", has_text=STATUS_IDLE)
        expect(status).to_be_visible(timeout=90_000)
        panel = page.locator(".jp-NotebookPanel:visible")
        panel.locator(".jp-Notebook").first.click()
        page.keyboard.press("Escape")
        page.locator("li[role='menuitem'], .lm-MenuBar-itemLabel", has_text="Run").first.click()
        page.locator(".lm-Menu-itemLabel", has_text="Run All Cells").first.click()

        cells = panel.locator(".jp-CodeCell")
        assert cells.count() == len(code)
        prompt = re.compile(r"^\s*\[\d+\]:\s*$")
        # the last cell gets its number only if Run All went past every error cell
        last = cells.nth(len(code) - 1).locator(".jp-InputPrompt")
        try:
            expect(last).to_have_text(prompt, timeout=240_000)
        except AssertionError:
            shown = [cells.nth(i).locator(".jp-InputPrompt").inner_text()
                     for i in range(len(code))]
            unrun = [code[i].source.split("\n")[0] for i, p in enumerate(shown)
                     if not prompt.match(p)]
            raise AssertionError(f"Run All left cells unrun in {name}: {unrun}") from None
        expect(status).to_be_visible(timeout=60_000)
        shown = [cells.nth(i).locator(".jp-InputPrompt").inner_text() for i in range(len(code))]
        assert [i for i, p in enumerate(shown) if not prompt.match(p)] == []

        # the errors on screen are the tagged cells' (red is for errors only)
        red = [i for i in range(len(code)) if cells.nth(i).locator(
            ".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']").count()]
        assert red == tagged, (name, red, tagged)
        if name.startswith("01-"):
            started = cells.nth(next(i for i, c in enumerate(code)
                                     if c.source.startswith("%newservice counter")))
            expect(started.locator(".sk-log")).to_contain_text("counter ready")

        # saved, every code cell has its execution count on disk too
        page.keyboard.press("Control+s")
        deadline = time.monotonic() + 60
        while True:
            saved = nbformat.read(work / name, as_version=4)
            counts = [c.execution_count for c in saved.cells if c.cell_type == "code"]
            if all(n is not None for n in counts):
                break
            if time.monotonic() > deadline:
                raise AssertionError(f"{name} saved with unrun cells: {counts}")
            time.sleep(0.5)
        page.screenshot(path=str(ARTIFACTS / f"runall-{path.stem}.png"), full_page=True)
    except Exception:
        page.screenshot(path=str(ARTIFACTS / f"runall-{path.stem}-failure.png"), full_page=True)
        raise
    finally:
        page.close()
        _shut_down_sessions(url)
