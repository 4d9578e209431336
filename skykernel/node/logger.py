"""The logger service (skynet_error + service_logger): `[:%08x] message` lines."""

from __future__ import annotations

import sys
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import TextIO

LogSink = Callable[["LogLine"], None]


@dataclass(frozen=True)
class LogLine:
    source: int
    text: str
    time: float

    def __str__(self) -> str:
        return f"[:{self.source:08x}] {self.text}"


class Logger:
    """Collects every log line; the CLI prints them, the kernel shows them in cells.

    A bounded history is kept so a notebook can ask for the last lines (`%log`), and
    sinks are told of each new line as it happens, on the thread that logged it (mostly a
    worker of the node): a sink that touches an event loop must hand over to it.
    """

    def __init__(self, path: str | None = None, echo: TextIO | None = None, keep: int = 10_000):
        self.history: deque[LogLine] = deque(maxlen=keep)
        self.sinks: list[LogSink] = []
        self._echo = echo
        self._file = open(path, "a", encoding="utf-8") if path else None
        self._lock = threading.RLock()
        self.count = 0

    def write(self, source: int, text: str | bytes) -> None:
        """Any thread may log (services run on workers): lines keep one order everywhere."""
        if isinstance(text, bytes):
            text = text.decode("utf-8", "replace")
        with self._lock:
            line = LogLine(source, text, time.time())
            self.count += 1
            self.history.append(line)
            if self._file:
                self._file.write(f"{line}\n")
                self._file.flush()
            if self._echo:
                self._echo.write(f"{line}\n")
                self._echo.flush()
            for sink in list(self.sinks):
                sink(line)

    def tail(self, n: int) -> list[LogLine]:
        with self._lock:
            return list(self.history)[-n:] if n > 0 else []

    def close(self) -> None:
        if self._file:
            self._file.close()
            self._file = None


def stdout_logger(path: str | None = None) -> Logger:
    return Logger(path, echo=None if path else sys.stdout)
