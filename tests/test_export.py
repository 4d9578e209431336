"""Notebook 04 executed by nbclient (widget state saved), exported to HTML offline with
local copies of require.js and @jupyter-widgets/html-manager from the npm registry, and
opened in chromium: the widgets render with no CDN."""

from __future__ import annotations

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
PACKAGES = {"html-manager": "@jupyter-widgets/html-manager@1", "requirejs": "requirejs@2"}


def npm_package(name: str) -> Path:
    """The unpacked npm package (npm pack once into tests/artifacts/npm)."""
    target = NPM_CACHE / name
    if (target / "package").is_dir():
        return target / "package"
    if shutil.which("npm") is None:
        pytest.fail("npm is missing: the offline export test fetches require.js and "
                    "@jupyter-widgets/html-manager from the npm registry")
    target.mkdir(parents=True, exist_ok=True)
    out = subprocess.run(["npm", "pack", PACKAGES[name]], cwd=target, capture_output=True,
                         text=True, timeout=120, check=True)
    tgz = target / out.stdout.strip().splitlines()[-1]
    with tarfile.open(tgz) as tar:
        tar.extractall(target, filter="data")
    return target / "package"


def test_offline_html_export_renders_the_widgets(tmp_path: Path) -> None:
    nb = execute("04-seeing-a-patch.ipynb", tmp_path)
    state = nb.metadata["widgets"]["application/vnd.jupyter.widget-state+json"]["state"]
    assert any(s["model_name"] == "ButtonModel" for s in state.values())
    views = [c for c in nb.cells if c.cell_type == "code"
             and c.source.startswith("%upvalues .shop _P.lua.CMD")]
    after = next(o for o in views[1].outputs if o["output_type"] == "display_data")
    assert "x  function  (load):1  ● changed" in after["data"]["text/plain"]
    assert "sk-changed" in after["data"]["text/html"]  # what nbconvert/GitHub fall back to
    require = npm_package("requirejs") / "require.js"
    embed = npm_package("html-manager") / "dist" / "embed-amd.js"
    exporter = HTMLExporter(require_js_url=require.as_uri(),
                            widget_renderer_url=embed.as_uri())
    body, _ = exporter.from_notebook_node(nb)
    assert "cdn.jsdelivr" not in body and "unpkg.com" not in body
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    html = ARTIFACTS / "04-seeing-a-patch.html"
    html.write_text(body)
    nbformat.write(nb, ARTIFACTS / "04-seeing-a-patch.executed.ipynb")

    from playwright.sync_api import expect, sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            page = browser.new_page(viewport={"width": 1200, "height": 900})
            page.goto(html.as_uri())
            first = page.locator(".sk-upvalues").first
            expect(first.locator("button", has_text="_P").first).to_be_visible(timeout=30_000)
            expect(page.locator(".sk-codecache .sk-chart").first).to_be_attached()
            expect(page.locator(".sk-changed").first).to_be_attached()
            first.screenshot(path=str(ARTIFACTS / "export-upvalues.png"))
        finally:
            browser.close()
