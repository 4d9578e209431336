"""This kernel session's cells, for history requests (tail, range, glob search)."""

from __future__ import annotations

import fnmatch
from typing import Any

#: History is kept per kernel process; this is its session number.
HISTORY_SESSION = 1


class History:
    def __init__(self) -> None:
        self._items: list[list[Any]] = []  # [session, count, source, output]

    def record(self, count: int, code: str) -> None:
        self._items.append([HISTORY_SESSION, count, code, ""])

    def source(self, count: int) -> str | None:
        """The source of cell `count` (the last run of that number), if kept."""
        for h in reversed(self._items):
            if h[1] == count:
                return h[2]
        return None

    def record_output(self, text: str) -> None:
        if self._items:
            self._items[-1][3] = text

    def query(self, kind: str, output: bool, n: int | None, pattern: str | None,
              session: int | None, start: int | None, stop: int | None,
              unique: bool) -> list[tuple[Any, ...]]:
        items = self._items
        if kind == "range":
            items = [h for h in items if (session in (None, 0, h[0]))
                     and (start is None or h[1] >= start) and (stop is None or h[1] < stop)]
        elif kind == "search":
            items = [h for h in items if fnmatch.fnmatchcase(h[2], pattern or "*")]
            if unique:
                seen: dict[str, list[Any]] = {}
                for h in items:
                    seen.pop(h[2], None)
                    seen[h[2]] = h
                items = list(seen.values())
        if n and kind != "range":
            items = items[-n:]
        if output:
            return [(h[0], h[1], (h[2], h[3])) for h in items]
        return [(h[0], h[1], h[2]) for h in items]
