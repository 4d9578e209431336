"""Real skynet, the C reference, for interop tests and side-by-side benchmarks.

It is found at `$SKYKERNEL_REAL_SKYNET` (a folder holding `run` and the builds), else at
`../shared/anchors/skynet/` beside the checkout. Where it is absent (a user's clone),
tests that need it skip with a message saying where it was looked for; in CI it is there.

`run CONFIG` takes the same config file `skykernel run` takes and appends real skynet's
own paths. Real skynet never exits by itself when its services are done, so a program
for it ends by logging a marker line (`END` by default) and this module stops the node.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ENV_VAR = "SKYKERNEL_REAL_SKYNET"
BUILDS = ("master", "1.8")

_LINE = re.compile(r"^\[:([0-9a-f]{8})\] ?(.*)$")


def where_looked() -> str:
    env = os.environ.get(ENV_VAR)
    default = ROOT.parent / "shared" / "anchors" / "skynet"
    return f"${ENV_VAR}={env}" if env else f"{default} (or set ${ENV_VAR})"


def skynet_dir() -> Path | None:
    """The folder with `run` and the builds, or None when real skynet is not here."""
    env = os.environ.get(ENV_VAR)
    path = Path(env) if env else ROOT.parent / "shared" / "anchors" / "skynet"
    if (path / "run").is_file() and any((path / b / "skynet").is_file() for b in BUILDS):
        return path
    return None


def builds() -> list[str]:
    """The real skynet builds present (`master`: Lua 5.5, `1.8`: Lua 5.4)."""
    root = skynet_dir()
    if root is None:
        return []
    return [b for b in BUILDS if (root / b / "skynet").is_file()]


def missing_message() -> str:
    return f"real skynet is not here: looked at {where_looked()}"


def write_config(root: Path, extra: str = "", start: str = "main") -> Path:
    """`root/config.real`: services from root's service/, `start` booted, no harbor, then
    `extra` (more config lines); its path, for start and run."""
    config = root / "config.real"
    config.write_text(f'luaservice = "./service/?.lua"\nstart = "{start}"\nharbor = 0\n'
                      + extra)
    return config


def start(config: Path, build: str = "master", cwd: Path | None = None) -> subprocess.Popen[str]:
    """Start real skynet on `config` (paths in it relative to cwd); log on stdout."""
    root = skynet_dir()
    if root is None:
        raise RuntimeError(missing_message())
    return subprocess.Popen(
        [str(root / "run"), "--skynet", build, str(config)], cwd=cwd or config.parent,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)


def stop(proc: subprocess.Popen[str]) -> None:
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    proc.wait(timeout=10)


def run(config: Path, build: str = "master", *, until: str = "END", timeout: float = 30,
        cwd: Path | None = None) -> list[str]:
    """Run until a log line's text is `until` (or the process ends); the log texts.

    Raises TimeoutError with the log so far when the marker does not come in time."""
    proc = start(config, build, cwd)
    texts: list[str] = []
    found = threading.Event()

    def read() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            texts.append(log_text(line.rstrip("\n")))
            if texts[-1] == until:
                found.set()
        found.set()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        if not found.wait(timeout):
            raise TimeoutError(f"real skynet ({build}) did not log {until!r} within "
                               f"{timeout:g} s; log:\n" + "\n".join(texts))
        return list(texts)
    finally:
        stop(proc)
        reader.join(5)


# "file.lua:12: " prefixes in messages and tracebacks: skynet's paths and ours differ
_POSITION = re.compile(r"(?:\.\.\.)?[\w./\-]*\.lua:\d+: ")


def without_positions(text: str) -> str:
    """text with its "path/file.lua:12: " prefixes left out, for comparing a log of
    real skynet's with skykernel's."""
    return _POSITION.sub("", text)


def log_text(line: str) -> str:
    """`[:00000008] hello` -> `hello`; other lines (tracebacks) as they are."""
    m = _LINE.match(line)
    return m.group(2) if m else line


class RealNode:
    """Real skynet as a process, its log lines read as they come."""

    def __init__(self, config, build: str, cwd) -> None:
        self.proc = start(config, build, cwd)
        self.texts: list[str] = []
        self.seen = threading.Condition()
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            with self.seen:
                self.texts.append(log_text(line.rstrip("\n")))
                self.seen.notify_all()

    def wait_log(self, text: str, timeout: float = 60) -> str:
        deadline = time.monotonic() + timeout
        with self.seen:
            while True:
                for t in self.texts:
                    if text in t:
                        return t
                left = deadline - time.monotonic()
                if left <= 0 or self.proc.poll() is not None:
                    raise AssertionError(f"real skynet did not log {text!r}; log:\n"
                                         + "\n".join(self.texts[-60:]))
                self.seen.wait(min(left, 0.5))

    def results(self, done: str) -> dict[str, str]:
        self.wait_log(done)
        out: dict[str, str] = {}
        for text in self.texts:
            tag, _, rest = text.partition(" ")
            if tag.isupper() and tag not in out:
                out[tag] = rest
        return out

    def stop(self) -> None:
        stop(self.proc)
        self.reader.join(5)
        print("real skynet log:\n" + "\n".join(self.texts))
