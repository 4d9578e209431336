"""A node in its own process with a debug console: what remote tests attach to.

`NodeProcess` runs `skykernel run`, `RealNodeProcess` real skynet (tests/realskynet.py) on
the same kind of tree. Each is a separate OS process reached only over TCP. Its log
(stdout) is read by a thread, so tests can wait for a line without timing guesses.
"""

from __future__ import annotations

import os
import queue
import subprocess
import sys
import threading
from pathlib import Path

from conftest import ROOT, write_tree

CONFIG = '''harbor = 0
start = "main"
luaservice = "./service/?.lua"
console_port = "$CONSOLE_PORT"
'''

MAIN = '''local skynet = require "skynet"
require "skynet.manager"

local greeting = "hello"
local CMD = {}

function CMD.hello(who)
    return greeting .. " " .. tostring(who)
end

function CMD.sleep()
    skynet.error("sleeping")
    skynet.sleep(100000000)
    return "woke"
end

skynet.start(function()
    skynet.dispatch("lua", function(_, _, cmd, ...)
        local f = assert(CMD[cmd], cmd)
        skynet.ret(skynet.pack(f(...)))
    end)
    skynet.register(".agent")
    skynet.newservice("debug_console", "127.0.0.1", tonumber(skynet.getenv("console_port")))
end)
'''


def write_node_tree(root: Path) -> Path:
    return write_tree(root, {"config": CONFIG, "service/main.lua": MAIN})


class NodeProcess:
    """`python -m skykernel run config` in root; port 0 picks a free console port."""

    def __init__(self, root: Path, port: int = 0, config: str = "config") -> None:
        import lupa

        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join([str(ROOT), str(Path(lupa.__file__).parent.parent)])
        env["CONSOLE_PORT"] = str(port)
        self._start(subprocess.Popen(
            [sys.executable, "-u", "-S", "-m", "skykernel", "run", config], cwd=root,
            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True))

    def _start(self, proc: subprocess.Popen[str]) -> None:
        self.proc = proc
        self.lines: list[str] = []
        self._queue: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()
        line = self.wait_for("Start debug console at ")
        self.port = int(line.rsplit(":", 1)[1])

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self._queue.put(line.rstrip("\n"))
        self._queue.put(None)

    def wait_for(self, text: str, timeout: float = 60) -> str:
        """The next log line containing text (earlier lines are kept in self.lines)."""
        while True:
            try:
                line = self._queue.get(timeout=timeout)
            except queue.Empty:
                raise AssertionError(f"no {text!r} in the log; so far: {self.lines}") from None
            if line is None:
                raise AssertionError(f"the node exited before {text!r}: {self.lines}")
            self.lines.append(line)
            if text in line:
                return line

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(30)


class RealNodeProcess(NodeProcess):
    """Real skynet (`build`: master or 1.8) on a config in root, with the same interface.
    Its config's own debug_console must listen on port 0 (a free port) and log it."""

    def __init__(self, root: Path, build: str, config: str = "config") -> None:
        import realskynet

        self._start(realskynet.start(root / config, build, cwd=root))

    def kill(self) -> None:
        import realskynet

        realskynet.stop(self.proc)
