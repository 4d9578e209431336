"""A real JupyterLab for the browser tests: a server on 127.0.0.1 over a temp folder, and
Debian's chromium driven by playwright (never a downloaded browser).

`jupyter_lab(tmp, notebooks, *args)` copies notebooks into a fresh work folder, starts
the server with its config, runtime, workspaces and settings dirs in tmp (the news toast
silenced, `settings` merged into the overrides, `env` added), and yields its URL;
`browser()` yields a chromium. Both fail saying what to do when something is missing.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "tests" / "artifacts"
CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run",
        "--disable-dev-shm-usage"]
#: JupyterLab settings every test server gets: no news or update toasts.
QUIET = {"@jupyterlab/apputils-extension:notification":
         {"fetchNews": "false", "checkForUpdates": False}}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def make_args() -> list[str]:
    """The extra server arguments `make lab` passes (the Makefile's LAB_ARGS), so the
    tests' server is configured as a learner's is."""
    for line in (ROOT / "Makefile").read_text().splitlines():
        if line.startswith("LAB_ARGS :="):
            return line.split(":=", 1)[1].split()
    return []


@contextmanager
def jupyter_lab(tmp: Path, notebooks: Iterable[Path], *args: str,
                settings: dict[str, Any] | None = None,
                env: dict[str, str] | None = None) -> Iterator[str]:
    work = tmp / "work"
    work.mkdir()
    for nb in notebooks:
        shutil.copy(nb, work / nb.name)
    app_settings = tmp / "settings"
    app_settings.mkdir()
    (app_settings / "overrides.json").write_text(json.dumps({**QUIET, **(settings or {})}))
    env = dict(os.environ, JUPYTER_CONFIG_DIR=str(tmp / "config"),
               JUPYTER_RUNTIME_DIR=str(tmp / "runtime"),
               JUPYTERLAB_WORKSPACES_DIR=str(tmp / "workspaces"),
               JUPYTERLAB_SETTINGS_DIR=str(tmp / "user-settings"), **(env or {}))
    port = free_port()
    log_path = tmp / "lab.log"
    log = open(log_path, "w")  # noqa: SIM115 - closed below
    proc = subprocess.Popen(
        [sys.executable, "-m", "jupyterlab", "--no-browser", "--ip", "127.0.0.1",
         "--port", str(port), "--IdentityProvider.token=", "--ServerApp.password=",
         "--allow-root", "--ServerApp.port_retries=0",
         "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
         f"--LabServerApp.app_settings_dir={app_settings}",
         f"--ServerApp.root_dir={work}", *args],
        cwd=work, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + 60
        while True:
            if proc.poll() is not None:
                pytest.fail("jupyter lab exited:\n" + log_path.read_text()[-3000:])
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


@contextmanager
def browser() -> Iterator[Any]:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: the browser tests need Debian's chromium "
                    "(run `make chromium`, i.e. apt-get install -y chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            yield chromium
        finally:
            chromium.close()
