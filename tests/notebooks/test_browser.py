"""The views in a real browser: JupyterLab + Debian chromium driven by playwright.

A learner's first screens: a notebook with a service of their own (`bank`, a `CMD` table
whose handlers share `balance`) and a snax one (`sbank`), then %services, %upvalues,
%protocols and %codecache, looked at 1000 and 1400 px wide in JupyterLab's light and
dark themes. The tests measure what the learner sees (element boxes: headers over their
values, one scroll area, the numbers on screen) and click through notebook 04 (expand,
refresh, clear, purge, use, explore), each click a message on the view's one comm.
Screenshots go to tests/artifacts/. Never skipped: without chromium it fails and says how
to get it (`make chromium`).
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "tests" / "artifacts"
CHROMIUM = "/usr/bin/chromium"
NOTEBOOK = "04-seeing-a-patch.ipynb"
VIEWS = "views.ipynb"
IDLE = "Skynet (Lua 5.4) | Idle"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run",
        "--disable-dev-shm-usage"]

BANK = '''%%service bank
local skynet = require "skynet"
require "skynet.manager"

local balance = {}
local CMD = {}

function CMD.deposit(who, n)
  balance[who] = (balance[who] or 0) + n
  return balance[who]
end

function CMD.withdraw(who, n)
  balance[who] = (balance[who] or 0) - n
  return balance[who]
end

function CMD.balance(who) return balance[who] or 0 end

skynet.start(function()
  skynet.dispatch("lua", function(session, source, cmd, ...)
    local f = assert(CMD[cmd], cmd)
    skynet.ret(skynet.pack(f(...)))
  end)
  skynet.register(".bank")
end)'''

SBANK = '''%%service sbank
local balance = 0
function response.deposit(n) balance = balance + n return balance end
function response.get() return balance end
function accept.reset() balance = 0 end
function init() end'''

CELLS = [BANK, "%newservice bank", '%call .bank lua "deposit", "ann", 10', SBANK,
         'local snax = require "snax"\nsb = snax.newservice("sbank")\nreturn sb.req.deposit(5)',
         "%services", "%upvalues .bank", "%protocols .bank", "%codecache"]


def views_notebook() -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(c) for c in CELLS]
    nb.metadata["kernelspec"] = {"name": "skynet", "display_name": "Skynet (Lua 5.4)",
                                 "language": "lua"}
    return nb


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
    nbformat.write(views_notebook(), work / VIEWS)
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


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            yield b
        finally:
            b.close()


def row(page: Any, within: Any, key: str) -> Any:
    """The first tree row (in `within`) whose key is exactly `key`."""
    return within.locator(".skv-row").filter(
        has=page.locator(".skv-key", has_text=re.compile(f"^{re.escape(key)}$"))).first


def cell_output(page: Any, start: str) -> Any:
    """The output area of the code cell whose source starts with `start` (the last one)."""
    cells = page.locator(".jp-CodeCell").filter(
        has=page.locator(".jp-InputArea-editor", has_text=start))
    return cells.last.locator(".jp-OutputArea")


def open_and_run_all(page: Any, lab: str, name: str, last: str) -> None:
    """Open a notebook, run every cell, wait for the last cell's view and for idle."""
    from playwright.sync_api import expect

    # a workspace of its own: no tab (and kernel status) of another test's notebook
    page.goto(f"{lab}/lab/workspaces/{Path(name).stem}/tree/{name}?reset")
    expect(page.locator(".jp-StatusBar-Widget", has_text=IDLE)).to_be_visible(timeout=60_000)
    page.locator(".jp-NotebookPanel .jp-Notebook").first.click()
    page.keyboard.press("Escape")
    page.locator(".lm-MenuBar-itemLabel", has_text="Run").first.click()
    page.locator(".lm-Menu-itemLabel", has_text="Run All Cells").first.click()
    expect(cell_output(page, last).locator(".skv")).to_be_visible(timeout=120_000)
    expect(page.locator(".jp-StatusBar-Widget", has_text=IDLE)).to_be_visible(timeout=60_000)


def set_theme(page: Any, dark: bool) -> None:
    """Settings > Theme, as a reader switches it."""
    from playwright.sync_api import expect

    page.locator(".lm-MenuBar-itemLabel", has_text="Settings").first.click()
    page.locator(".lm-Menu-itemLabel", has_text="Theme").first.hover()
    name = "JupyterLab Dark" if dark else "JupyterLab Light"
    page.locator(".lm-Menu-itemLabel", has_text=name).first.click()
    expect(page.locator("body")).to_have_attribute("data-jp-theme-light",
                                                   "false" if dark else "true")
    page.wait_for_timeout(500)  # the theme's stylesheet applies


#: JavaScript measuring a services table: column boxes, scroll areas, what is on screen.
MEASURE_SERVICES = """(view) => {
  const box = (e) => { const r = e.getBoundingClientRect(); return [r.left, r.right]; };
  const table = view.querySelector('table');
  const heads = [...table.querySelectorAll('thead th')].map(box);
  const rows = [...table.querySelectorAll('tbody tr')].map(
    (tr) => [...tr.querySelectorAll('td')].map(box));
  const scrolling = [...view.querySelectorAll('*')].filter((e) => {
    const s = getComputedStyle(e);
    return ['auto', 'scroll'].includes(s.overflowX) && e.scrollWidth > e.clientWidth + 1;
  }).map((e) => e.className);
  const scrollAreas = view.querySelectorAll('.skv-scroll').length;
  const out = view.closest('.jp-OutputArea-output').getBoundingClientRect();
  const names = [...table.querySelectorAll('thead th')].map((th) => th.textContent);
  const files = [...table.querySelectorAll('td.skv-file')].map((td) => td.textContent);
  const nameCells = [...table.querySelectorAll('td.skv-name')].map((td) => td.textContent);
  return {heads, rows, scrolling, scrollAreas, outRight: out.right, names, files, nameCells};
}"""


def assert_aligned(m: dict[str, Any]) -> None:
    """Every cell sits under its header: same left and right edge, in every row."""
    assert m["rows"], "the services table has no rows"
    for row in m["rows"]:
        assert len(row) == len(m["heads"])
        for (hl, hr), (cl, cr) in zip(m["heads"], row, strict=True):
            assert abs(hl - cl) < 1 and abs(hr - cr) < 1, (m["heads"], row)


def test_first_screens_in_light_and_dark_at_1000_and_1400(lab: str, browser: Any) -> None:
    from playwright.sync_api import expect

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.set_default_timeout(30_000)
    try:
        open_and_run_all(page, lab, VIEWS, "%codecache")
        services = cell_output(page, "%services").locator(".skv-services")
        upvalues = cell_output(page, "%upvalues .bank").locator(".skv-upvalues")
        protocols = cell_output(page, "%protocols .bank").locator(".skv-protocols")
        codecache = cell_output(page, "%codecache").locator(".skv-codecache")
        for width in (1400, 1000):
            page.set_viewport_size({"width": width, "height": 1000})
            for dark in (False, True):
                set_theme(page, dark)
                theme = "dark" if dark else "light"
                # %services: one aligned table in one scroll area
                services.scroll_into_view_if_needed()
                m = services.evaluate(MEASURE_SERVICES)
                assert m["scrollAreas"] == 1
                assert set(m["scrolling"]) <= {"skv-scroll"}, m["scrolling"]
                assert_aligned(m)
                at = {name: i + 1 for i, name in enumerate(m["names"][1:])}
                assert at["mqlen"] < at["messages"] < at["memory"] < at["file"]
                # the numbers are on screen, not cut off by the output's edge
                assert m["heads"][at["memory"]][1] <= m["outRight"], (width, m)
                assert m["heads"][at["messages"]][1] <= m["outRight"], (width, m)
                assert any(n.startswith("snaxd sbank") for n in m["nameCells"])
                assert any(n.startswith("python") for n in m["nameCells"])
                assert not [f for f in m["files"] if f.startswith("/")], m["files"]
                assert "./service/bank.lua" in m["files"]
                expect(services).to_contain_text("the kernel's own client of the node")
                services.screenshot(path=str(ARTIFACTS / f"services-{width}-{theme}.png"))

                # %upvalues: the service's own handlers first, `balance` in sight
                upvalues.scroll_into_view_if_needed()
                rows = upvalues.locator(".skv-row")
                expect(rows.first).to_contain_text("_P.lua.CMD")
                expect(rows.nth(1)).to_contain_text("balance")
                balance = upvalues.locator(".skv-row", has_text="balance  table").first
                expect(upvalues.locator(".skv-row .skv-key", has_text="balance").nth(1)
                       ).to_be_visible()
                assert balance is not None
                expect(upvalues.locator("details.skv-internals")).not_to_have_attribute(
                    "open", "")
                expect(upvalues.locator(".skv-row .skv-key", has_text="_U")).to_be_hidden()
                upvalues.screenshot(path=str(ARTIFACTS / f"upvalues-{width}-{theme}.png"))

                # %protocols: lua -> CMD first, skynet's dbgcmd folded
                protocols.scroll_into_view_if_needed()
                first = protocols.locator(".sk-proto").first
                expect(first).to_contain_text("lua")
                expect(first).to_contain_text("CMD")
                expect(first.locator("tr.sk-handler").first).to_be_visible()
                expect(protocols.locator("tr.sk-handler", has_text="dbgcmd.RUN")).to_be_hidden()
                protocols.screenshot(path=str(ARTIFACTS / f"protocols-{width}-{theme}.png"))

                codecache.scroll_into_view_if_needed()
                expect(codecache.locator(".sk-generation").first).to_be_visible()
                codecache.screenshot(path=str(ARTIFACTS / f"codecache-{width}-{theme}.png"))
        set_theme(page, False)
    except Exception:
        page.screenshot(path=str(ARTIFACTS / "browser-failure-views.png"), full_page=True)
        raise
    finally:
        page.close()


def test_clicks_round_trip_on_each_views_one_comm(lab: str, browser: Any) -> None:
    from playwright.sync_api import expect

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.set_default_timeout(30_000)
    try:
        open_and_run_all(page, lab, NOTEBOOK, "%services")
        # every view rendered by the front-end module
        for cls in ("skv-upvalues", "skv-protocols", "skv-codecache", "skv-services"):
            expect(page.locator(f".jp-OutputArea-output .{cls}").first).to_be_attached()
        # %upvalues .shop opens onto CMD, x and y open on the shared stock and sold
        first = page.locator(".skv-upvalues").first
        expect(first.locator(".skv-row").first).to_contain_text("_P.lua.CMD")
        expect(first.locator(".skv-row", has_text="stock").first).to_be_visible()
        expect(first.locator(".skv-row", has_text="shared with").first).to_be_visible()

        # the patch is marked: CMD.x changed since the view before it, and replaced
        after = page.locator(".skv-upvalues").nth(2)
        expect(after.locator(".sk-changed").first).to_be_attached()
        expect(after).to_contain_text("● changed")
        expect(page.locator(".skv-protocols").nth(1).locator("tr.sk-replaced").first
               ).to_contain_text("CMD.x")

        # expanding a lazy node asks the kernel: skynet internals -> _P -> lua
        first.scroll_into_view_if_needed()
        first.locator("details.skv-internals > summary").click()
        row(page, first.locator("details"), "_P").click()
        lua = row(page, first.locator("details"), "lua")
        expect(lua).to_be_visible()
        lua.click()
        expect(row(page, first.locator("details"), "CMD")).to_be_visible()
        first.screenshot(path=str(ARTIFACTS / "browser-upvalues.png"))
        first.locator("button.sk-refresh").click()
        expect(first.locator(".sk-status")).to_contain_text("refreshed")

        # purge from the last generations view reports what it freed
        gens = page.locator(".skv-codecache").last
        gens.scroll_into_view_if_needed()
        gens.locator("button.sk-clear").click()
        expect(gens.locator(".sk-status")).to_contain_text("generation 4 starts")
        gens.locator("button.sk-purge").click()
        expect(gens.locator(".sk-status")).to_contain_text("bytes freed")
        expect(gens.locator(".sk-chart")).to_be_attached()
        gens.screenshot(path=str(ARTIFACTS / "browser-codecache.png"))

        # services: `use` retargets the kernel, `explore` opens a tree under the table
        services = cell_output(page, "%services").locator(".skv-services")
        services.scroll_into_view_if_needed()
        shop = services.locator("tr.sk-service", has_text=".shop").first
        shop.locator("button.sk-use").click()
        expect(services.locator(".sk-status")).to_contain_text("cells now run in")
        expect(services.locator("tr.skv-current")).to_contain_text(".shop")
        shop.locator("button.sk-explore").click()
        tree = services.locator(".skv-explorer .sk-upvalues")
        expect(tree.locator(".skv-row").first).to_contain_text("_P.lua.CMD", timeout=30_000)
        x = row(page, tree, "x")
        expect(x).to_have_class(re.compile("skv-opened"))
        x.click()  # folds, and the kernel remembers it
        expect(x).not_to_have_class(re.compile("skv-opened"))
        services.screenshot(path=str(ARTIFACTS / "browser-services.png"))
        page.locator(".skv-protocols").nth(1).screenshot(
            path=str(ARTIFACTS / "browser-protocols.png"))
        page.screenshot(path=str(ARTIFACTS / "browser-notebook.png"), full_page=True)
    except Exception:
        page.screenshot(path=str(ARTIFACTS / "browser-failure.png"), full_page=True)
        raise
    finally:
        page.close()
