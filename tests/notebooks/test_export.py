"""Notebook 04 executed by nbclient (widget state saved), exported to HTML offline, and
opened in chromium, two ways:

- with its widget state: the views render from their saved data with skykernel's own
  front-end module (it rides in the state), given local copies of require.js,
  @jupyter-widgets/html-manager and anywidget from the npm registry, no CDN;
- without widget state (what GitHub and a plain `nbconvert --to html` show): each view's
  text/html fallback, readable, the service's own code first.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import tarfile
from pathlib import Path

import nbformat
import pytest
from nbconvert import HTMLExporter
from test_browser import ARGS, ARTIFACTS, CHROMIUM
from test_notebooks import execute

NPM_CACHE = ARTIFACTS / "npm"
PACKAGES = {"html-manager": "@jupyter-widgets/html-manager@1", "requirejs": "requirejs@2",
            "anywidget": "anywidget@0.11"}


def npm_package(name: str) -> Path:
    """The unpacked npm package (npm pack once into tests/artifacts/npm)."""
    target = NPM_CACHE / name
    if (target / "package").is_dir():
        return target / "package"
    if shutil.which("npm") is None:
        pytest.fail("npm is missing: the offline export test fetches require.js, "
                    "@jupyter-widgets/html-manager and anywidget from the npm registry")
    target.mkdir(parents=True, exist_ok=True)
    out = subprocess.run(["npm", "pack", PACKAGES[name]], cwd=target, capture_output=True,
                         text=True, timeout=120, check=True)
    tgz = target / out.stdout.strip().splitlines()[-1]
    with tarfile.open(tgz) as tar:
        tar.extractall(target, filter="data")
    return target / "package"


@pytest.fixture(scope="module")
def notebook(tmp_path_factory: pytest.TempPathFactory) -> nbformat.NotebookNode:
    return execute("04-seeing-a-patch.ipynb", tmp_path_factory.mktemp("export"))


def test_views_keep_text_fallbacks(notebook: nbformat.NotebookNode) -> None:
    views = [c for c in notebook.cells if c.cell_type == "code"
             and c.source.startswith("%upvalues .shop _P.lua.CMD")]
    after = next(o for o in views[1].outputs if o["output_type"] == "display_data")
    # the new function is named by the cell that defined it
    assert re.search(r"x  function  cell\[\d+\]:1  ● changed", after["data"]["text/plain"])
    assert "sk-changed" in after["data"]["text/html"]
    first = next(o for c in notebook.cells if c.cell_type == "code"
                 and c.source == "%upvalues .shop" for o in c.outputs
                 if o["output_type"] == "display_data")
    lines = first["data"]["text/plain"].splitlines()
    assert lines[1].startswith("your code: lua protocol") and lines[2].startswith(
        "▾ _P.lua.CMD")


def test_offline_export_renders_the_views_from_saved_state(
        notebook: nbformat.NotebookNode) -> None:
    state = notebook.metadata["widgets"]["application/vnd.jupyter.widget-state+json"]["state"]
    models = [s for s in state.values() if s["model_name"] == "AnyModel"]
    assert models and all(s["state"]["_esm"] for s in models)  # the module rides along
    require = npm_package("requirejs") / "require.js"
    embed = npm_package("html-manager") / "dist" / "embed-amd.js"
    anywidget = npm_package("anywidget") / "dist" / "index"
    exporter = HTMLExporter(require_js_url=require.as_uri(),
                            widget_renderer_url=embed.as_uri())
    body, _ = exporter.from_notebook_node(notebook)
    assert "cdn.jsdelivr" not in body and "unpkg.com" not in body
    # the reader's local copy of anywidget's front end, where a CDN would be
    tag = f'<script src="{require.as_uri()}"></script>'
    assert tag in body
    body = body.replace(tag, tag + "<script>requirejs.config({paths: {anywidget: "
                        f"'{anywidget.as_uri()}'}}}});</script>")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    html = ARTIFACTS / "04-seeing-a-patch.html"
    html.write_text(body)
    nbformat.write(notebook, ARTIFACTS / "04-seeing-a-patch.executed.ipynb")

    from playwright.sync_api import expect, sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            page = browser.new_page(viewport={"width": 1200, "height": 900})
            page.goto(html.as_uri())
            first = page.locator(".skv-upvalues").first
            expect(first.locator(".skv-row").first).to_contain_text("_P.lua.CMD",
                                                                    timeout=30_000)
            expect(page.locator(".skv-codecache .sk-chart").first).to_be_attached()
            expect(page.locator(".skv-upvalues .sk-changed").first).to_be_attached()
            expect(page.locator(".skv-services tr.sk-service").first).to_be_visible()
            first.screenshot(path=str(ARTIFACTS / "export-upvalues.png"))
            # a request needs the kernel: folding is local, and still works
            x = first.locator(".skv-row").filter(
                has=page.locator(".skv-key", has_text=re.compile("^x$"))).first
            expect(x).to_have_class(re.compile(r"\bskv-opened\b"))
            x.click()
            expect(x).not_to_have_class(re.compile(r"\bskv-opened\b"))
        finally:
            browser.close()


def test_export_without_widget_state_shows_the_html_fallbacks(
        notebook: nbformat.NotebookNode, tmp_path: Path) -> None:
    bare = nbformat.from_dict(notebook)
    bare.metadata.pop("widgets", None)
    body, _ = HTMLExporter().from_notebook_node(bare)
    html = tmp_path / "bare.html"
    html.write_text(body)

    from playwright.sync_api import expect, sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            page = browser.new_page(viewport={"width": 1000, "height": 900})
            page.goto(html.as_uri())
            first = page.locator(".sk-upvalues").first
            expect(first).to_contain_text("your code: lua protocol")
            expect(first.locator(".sk-row").first).to_contain_text("_P.lua.CMD")
            expect(page.locator(".sk-protocols").first.locator("details")).to_contain_text(
                "skynet's own protocols")
            expect(page.locator(".sk-services table").first).to_contain_text("./service/shop.lua")
            page.screenshot(path=str(ARTIFACTS / "export-fallback.png"), full_page=True)
        finally:
            browser.close()
