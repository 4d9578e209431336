"""Shared fixtures: a node booted on a temporary service tree, and its log lines.

Tests write small Lua service trees into a temp dir (or use tests/services/), boot a
real Node on them with no mocks, and assert on the log lines the services print.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from skykernel.node.config import load_config
from skykernel.node.logger import Logger
from skykernel.node.luaversion import VERSION_ENV, LuaVersionError, default_version
from skykernel.node.node import Node

ROOT = Path(__file__).resolve().parent.parent
SERVICES = Path(__file__).resolve().parent / "services"

DEFAULT_CONFIG = 'luaservice = "./service/?.lua;./service/?/init.lua"\nharbor = 0\n'


def pytest_configure(config: pytest.Config) -> None:
    """Every node, kernel and bare state the tests build without naming a Lua version
    follows SKYKERNEL_LUA (5.4 when unset): a bad value stops the run here, named."""
    try:
        default_version()
    except LuaVersionError as e:
        raise pytest.UsageError(str(e)) from None


def pytest_report_header(config: pytest.Config) -> str:
    return f"skykernel: Lua {default_version()} ({VERSION_ENV}={os.environ.get(VERSION_ENV, '')})"


def write_tree(root: Path, files: dict[str, str]) -> Path:
    """Write {relative path: text} under root; returns root."""
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


def messages(node: Node, source: int | None = None) -> list[str]:
    """The text of every log line (of one source, if given), oldest first."""
    return [ln.text for ln in node.logger.history if source is None or ln.source == source]


class Tree:
    """A service tree in a temp dir (the cwd during the test) and nodes booted on it."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.nodes: list[Node] = []

    def write(self, files: dict[str, str]) -> Tree:
        write_tree(self.root, files)
        return self

    def node(self, config: str = 'start = ""\n', **kwargs: Any) -> Node:
        """A node on this tree; by default it starts no service of its own."""
        cfg = self.root / "config"
        cfg.write_text(DEFAULT_CONFIG + config)
        node = Node(load_config(str(cfg)), logger=Logger(), **kwargs)
        self.nodes.append(node)
        return node

    def run(self, start: str = "main", config: str = "", timeout: float = 30,
            until: str | None = "END", **kwargs: Any) -> list[str]:
        """Boot with `start`; run until a service logs `until` (None: until every user
        service exited, as `skykernel run` does); return the log texts."""
        node = self.node(f'start = "{start}"\n' + config, **kwargs)

        async def main() -> None:
            done = asyncio.Event()
            loop = asyncio.get_running_loop()
            if until is not None:
                # services log on the node's worker threads: the event is the loop's
                node.logger.sinks.append(lambda line: line.text in (until, "abort")
                                         and loop.call_soon_threadsafe(done.set))
            await node.start()
            try:
                if until is None:
                    await asyncio.wait_for(node.run_until_done(), timeout)
                else:
                    await asyncio.wait_for(done.wait(), timeout)
                    await node.wait_idle()
            finally:
                await node.shutdown()

        try:
            asyncio.run(main())
        finally:
            print("\n".join(str(line) for line in node.logger.history))  # shown on failure
        return messages(node)


@pytest.fixture
def tree(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Tree]:
    """skynet resolves config paths against the cwd, so each test runs in its tree."""
    monkeypatch.chdir(tmp_path)
    yield Tree(tmp_path)


def run_cli(*args: str, cwd: Path, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """`python -m skykernel ...` from the source checkout, as if the package were not
    installed: `-S` skips site-packages (and any editable install of skykernel in it),
    so only the checkout and lupa's own directory are importable."""
    import lupa

    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), str(Path(lupa.__file__).parent.parent)])
    return subprocess.run([sys.executable, "-S", "-m", "skykernel", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=timeout)


def lines_with(lines: list[str], pred: str | Callable[[str], bool]) -> list[str]:
    if isinstance(pred, str):
        return [ln for ln in lines if pred in ln]
    return [ln for ln in lines if pred(ln)]


@pytest.fixture(params=["master", "1.8"])
def real_skynet(request: pytest.FixtureRequest) -> str:
    """Each real skynet build in turn (master: Lua 5.5, 1.8: Lua 5.4); skips, saying where
    it looked, when real skynet is not beside the checkout."""
    import realskynet

    if request.param not in realskynet.builds():
        pytest.skip(realskynet.missing_message() + f" (build {request.param})")
    return request.param
