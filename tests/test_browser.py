"""The views in a real browser: JupyterLab + Debian chromium driven by playwright.

Runs notebook 04 cell by cell in JupyterLab, checks each view rendered, that expanding a
lazy node and a purge click round-trip to the kernel, and that a patch's changes are
highlighted. Screenshots go to tests/artifacts/. Never skipped: without chromium it fails
and says how to get it (`make chromium`).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "tests" / "artifacts"
CHROMIUM = "/usr/bin/chromium"
NOTEBOOK = "04-seeing-a-patch.ipynb"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run",
        "--disable-dev-shm-usage"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory):
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: the browser tests need Debian's chromium "
                    "(run `make chromium`, i.e. apt-get install -y chromium)")
    tmp = tmp_path_factory.mktemp("lab")
    work = tmp / "work"
    work.mkdir()
    shutil.copy(ROOT / "notebooks" / NOTEBOOK, work / NOTEBOOK)
    settings = tmp / "settings"
    settings.mkdir()
    (settings / "overrides.json").write_text(
        '{"@jupyterlab/apputils-extension:notification": '
        '{"fetchNews": "false", "checkForUpdates": false}}')
    env = dict(os.environ, JUPYTER_CONFIG_DIR=str(tmp / "config"),
               JUPYTER_RUNTIME_DIR=str(tmp / "runtime"),
               JUPYTERLAB_WORKSPACES_DIR=str(tmp / "workspaces"),
               JUPYTERLAB_SETTINGS_DIR=str(tmp / "user-settings"))
    port = free_port()
    log = open(tmp / "lab.log", "w")  # noqa: SIM115 - closed below
    proc = subprocess.Popen(
        [sys.executable, "-m", "jupyterlab", "--no-browser", "--ip", "127.0.0.1",
         "--port", str(port), "--IdentityProvider.token=", "--ServerApp.password=",
         "--allow-root", "--ServerApp.port_retries=0",
         "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
         f"--LabServerApp.app_settings_dir={settings}",
         f"--ServerApp.root_dir={work}"],
        cwd=work, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + 60
        while True:
            if proc.poll() is not None:
                pytest.fail("jupyter lab exited:\n" + (tmp / "lab.log").read_text()[-3000:])
            try:
                urllib.request.urlopen(url + "/api/status", timeout=2)
                break
            except OSError:
                if time.time() > deadline:
                    pytest.fail("jupyter lab did not answer within 60 s")
                time.sleep(0.3)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


def cell_output(page, start: str):
    """The output area of the code cell whose source starts with `start` (the last one)."""
    cells = page.locator(".jp-CodeCell").filter(
        has=page.locator(".jp-InputArea-editor", has_text=start))
    return cells.last.locator(".jp-OutputArea")


def test_views_render_and_round_trip_in_jupyterlab(lab: str) -> None:
    from playwright.sync_api import expect, sync_playwright

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.set_default_timeout(30_000)
            page.goto(f"{lab}/lab/tree/{NOTEBOOK}")
            expect(page.locator(".jp-StatusBar-Widget", has_text="Skynet (Lua 5.4) | Idle")
                   ).to_be_visible(timeout=60_000)
            page.locator(".jp-NotebookPanel .jp-Notebook").first.click()
            page.keyboard.press("Escape")
            page.locator("li[role='menuitem'], .lm-MenuBar-itemLabel", has_text="Run").first.click()
            page.locator(".lm-Menu-itemLabel", has_text="Run All Cells").first.click()
            # the last cell is %services: wait for its widget, then for the kernel to idle
            services = cell_output(page, "%services").locator(".sk-services")
            expect(services).to_be_visible(timeout=90_000)
            expect(page.locator(".jp-StatusBar-Widget", has_text="Skynet (Lua 5.4) | Idle")
                   ).to_be_visible(timeout=60_000)

            # every view rendered as a widget
            for cls in ("sk-upvalues", "sk-protocols", "sk-codecache", "sk-services"):
                expect(page.locator(f".jp-OutputArea-output .{cls}").first).to_be_attached()
            expect(page.locator(".sk-protocols").first).to_contain_text("CMD.x")

            # the patch is highlighted: CMD.x changed since the view before it
            after = page.locator(".sk-upvalues").nth(2)
            expect(after.locator(".sk-changed").first).to_be_attached()
            expect(after).to_contain_text("● changed")
            expect(page.locator(".sk-protocols").nth(1).locator("tr.sk-replaced").first
                   ).to_contain_text("CMD.x")

            # expanding a lazy node probes the kernel: _P -> lua -> CMD
            first = page.locator(".sk-upvalues").first
            first.scroll_into_view_if_needed()
            first.locator("button.sk-node", has_text="_P").first.click()
            lua = first.locator("button.sk-node", has_text="lua")
            expect(lua.first).to_be_visible()
            lua.first.click()
            expect(first.locator("button.sk-node", has_text="CMD").first).to_be_visible()
            first.screenshot(path=str(ARTIFACTS / "browser-upvalues.png"))

            # refresh after the patch: the open view highlights what changed since it drew
            first.locator("button.sk-node", has_text="CMD").first.click()
            expect(first.locator("button.sk-node", has_text="x").first).to_be_visible()
            first.locator("button", has_text="refresh").first.click()
            expect(first.locator(".sk-status")).to_contain_text("refreshed")

            # purge from the last generations view reports what it freed
            gens = page.locator(".sk-codecache").last
            gens.scroll_into_view_if_needed()
            gens.locator("button.sk-clear").click()
            expect(gens.locator(".sk-status")).to_contain_text("generation 4 starts")
            gens.locator("button.sk-purge").click()
            expect(gens.locator(".sk-status")).to_contain_text("bytes freed")
            expect(gens.locator(".sk-chart")).to_be_attached()
            gens.screenshot(path=str(ARTIFACTS / "browser-codecache.png"))

            # services: `use` retargets the kernel
            services.scroll_into_view_if_needed()
            row = services.locator(".widget-hbox", has_text=".shop").first
            row.locator("button.sk-use").click()
            expect(services.locator(".sk-status")).to_contain_text("cells now run in")
            services.screenshot(path=str(ARTIFACTS / "browser-services.png"))
            page.locator(".sk-protocols").nth(1).screenshot(
                path=str(ARTIFACTS / "browser-protocols.png"))
            page.screenshot(path=str(ARTIFACTS / "browser-notebook.png"), full_page=True)
        except Exception:
            page.screenshot(path=str(ARTIFACTS / "browser-failure.png"), full_page=True)
            raise
        finally:
            browser.close()
