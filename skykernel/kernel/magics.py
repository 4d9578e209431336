"""Magics: the lines of a cell that start with `%` and talk to the node, not to Lua.

Wherever a magic takes an address, `:0000000b`, `.name` and bare hex all work.
"""

from __future__ import annotations

import ast
import asyncio
import contextlib
import fnmatch
import io
import re
import shlex
import textwrap
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..node.handle import format_address
from ..node.inject import inject

if TYPE_CHECKING:
    from .kernel import SkynetKernel


#: History is kept per kernel process; this is its session number.
HISTORY_SESSION = 1


class MagicError(Exception):
    """A magic was misused; the message says how to use it."""


MAGICS: dict[str, str] = {
    "use": "%use ADDR|.name|NODE:ADDR  run the next cells in this service",
    "inject": "%%inject ADDR              run this one cell in another service",
    "services": "%services                  list services (address, name, file, ...)",
    "newservice": "%newservice NAME [args]    start a service (like skynet.newservice)",
    "kill": "%kill ADDR                 kill a service (skynet.kill)",
    "exit": "%exit [ADDR]               make a service exit (debug EXIT)",
    "send": "%send ADDR PROTO args...   skynet.send from the target; args are Lua",
    "call": "%call ADDR PROTO args...   skynet.call from the target; shows the reply",
    "service": "%%service NAME             save the cell as service/NAME.lua",
    "module": "%%module NAME              save the cell as lualib/NAME.lua",
    "codecache": "%codecache [mode X|clear|purge]  the code cache and its generations",
    "log": "%log [N]                   the last N log lines (default 20)",
    "console": "%console [NODE] CMD...     a debug-console command (this node or NODE)",
    "python": "%%python                   run the cell as Python (node, kernel in scope)",
    "boot": "%boot [CONFIG]             reboot the node (from a skynet config file)",
    "help": "%help                      this list",
}


class Magics:
    def __init__(self, kernel: SkynetKernel) -> None:
        self.kernel = kernel
        self._history: list[tuple[int, int, str]] = []
        self.python_ns: dict[str, Any] = {"asyncio": asyncio}
        self._groups: list[Any] = []

    # --- dispatch ----------------------------------------------------------------------

    def add(self, group: Any) -> None:
        """Add a group of magics: an object whose `line_X` / `cell_X` methods are %X / %%X
        and whose `HELP` dict ({"X": "usage line"}) joins %help. Each feature area (views,
        reload, remote nodes) keeps its magics in its own module this way."""
        self._groups.append(group)
        MAGICS.update(getattr(group, "HELP", {}))

    def _find(self, prefix: str, name: str) -> Any:
        # groups first: a feature group may take over a base magic (views show %services
        # and %codecache as widgets) and call the base method for what it keeps
        for group in (*self._groups, self):
            method = getattr(group, f"{prefix}_{name}", None)
            if method is not None:
                return method
        return None

    async def run_line_magic(self, line: str) -> dict[str, Any] | None:
        name, _, rest = line.strip().partition(" ")
        method = self._find("line", name)
        if method is None:
            raise MagicError(f"unknown magic %{name}; magics:\n" + "\n".join(MAGICS.values()))
        return await method(rest.strip())

    async def run_cell_magic(self, line: str, body: str) -> dict[str, Any] | None:
        name, _, rest = line.strip().partition(" ")
        method = self._find("cell", name)
        if method is None:
            raise MagicError(f"unknown cell magic %%{name}; magics:\n" + "\n".join(MAGICS.values()))
        return await method(rest.strip(), body)

    @property
    def node(self):
        return self.kernel.node

    def _print(self, text: str) -> None:
        self.kernel.stream("stdout", text if text.endswith("\n") else text + "\n")

    # --- line magics -------------------------------------------------------------------

    async def line_help(self, rest: str) -> None:
        """Shown in the pager, like `?` in other kernels."""
        self.kernel.payload.append({
            "source": "page", "start": 0,
            "data": {"text/plain": "skykernel magics\n\n" + "\n".join(MAGICS.values())},
        })

    async def line_use(self, rest: str) -> None:
        if not rest:
            raise MagicError("usage: %use ADDR|.name|NODE:ADDR")
        if self.kernel.remote is not None and await self.kernel.remote.use(rest):
            return  # NODE:ADDR names a service of a remote node
        handle = self.kernel.resolve(rest)
        self.kernel.target = handle
        svc = self.node.handles.services[handle]
        self._print(f"cells now run in {format_address(handle)} ({svc.name})")

    async def line_services(self, rest: str) -> None:
        if self.kernel.remote is not None and await self.kernel.remote.services(rest):
            return  # a remote node's services
        header = ("address", "name", "file", "gen", "mqlen", "memory", "messages")
        self._print(_table([header, *(row[:-1] for row in service_rows(self.node))]))

    async def line_newservice(self, rest: str) -> None:
        args = shlex.split(rest)
        if not args:
            raise MagicError("usage: %newservice NAME [args]")
        try:
            handle = await self.node.newservice(*args)
        except Exception as e:  # noqa: BLE001
            raise MagicError(f"newservice {args[0]} failed: {e} (see the log above)") from None
        self._print(f"{format_address(handle)} {args[0]}")

    async def line_kill(self, rest: str) -> None:
        if not rest.strip():
            raise MagicError("usage: " + MAGICS["kill"])
        handle = self.kernel.resolve(rest)
        self.node.kill(handle)
        await self.node.settle()
        self._print(f"killed {format_address(handle)}")

    async def line_exit(self, rest: str) -> None:
        handle = self.kernel.resolve(rest) if rest else self.kernel.current_target()
        self.node.send(handle, "debug", "EXIT")
        await self.node.settle()

    async def _from_target(self, what: str, rest: str) -> dict[str, Any] | None:
        parts = rest.split(None, 2)
        if len(parts) < 2:
            raise MagicError(f"usage: %{what} ADDR PROTO [lua args]")
        handle = self.kernel.resolve(parts[0])
        args = f", {parts[2]}" if len(parts) > 2 else ""
        verb = "return" if what == "call" else ""
        src = (f"local skynet = require 'skynet'\n"
               f"{verb} skynet.{what}({handle}, {parts[1]!r}{args})")
        return await self.kernel.run_lua(src)

    async def line_send(self, rest: str) -> dict[str, Any] | None:
        return await self._from_target("send", rest)

    async def line_call(self, rest: str) -> dict[str, Any] | None:
        return await self._from_target("call", rest)

    async def line_log(self, rest: str) -> None:
        n = int(rest) if rest.strip().isdigit() else 20
        self._print("\n".join(str(line) for line in self.node.logger.tail(n)) or "(no log)")

    async def line_boot(self, rest: str) -> None:
        await self.kernel.boot(rest or None)
        self._print(f"node booted; cells run in {format_address(self.kernel.target or 0)}")

    async def line_codecache(self, rest: str) -> None:
        cache = self.node.codecache
        words = rest.split()
        if words[:1] == ["mode"]:
            mode = words[1].upper() if len(words) > 1 else ""
            arg = f"{mode!r}" if mode else ""
            src = f"return require('skynet.codecache').mode({arg})"
            return await self.kernel.run_lua(src)
        if words[:1] == ["clear"]:
            self._print(f"code cache cleared: generation {cache.clear()} starts")
            return
        if words[:1] == ["purge"]:
            from ..node.generations import purge

            result = purge(self.node)
            pinned = "; ".join(f"generation {g} by {', '.join(f':{h:08x}' for h in hs)}"
                               for g, hs in sorted(result.pinned.items()))
            self._print(f"freed generations {result.freed or 'none'} ({result.freed_bytes} bytes)"
                        + (f"; kept {pinned}" if pinned else ""))
            return
        rows = [("generation", "files", "bytes")]
        for number, gen in sorted(cache.generations.items()):
            rows.append((str(number), str(len(gen.chunks)), str(gen.bytes)))
        self._print(_table(rows))

    async def line_console(self, rest: str) -> None:
        if self.kernel.remote is not None:
            answer = await self.kernel.remote.console(rest)
            if answer is not False:  # %console NODE CMD went to a remote node
                return answer if isinstance(answer, dict) else None
        from ..node.console import run_command

        self._print(await run_command(self.node, rest))

    # --- cell magics -------------------------------------------------------------------

    async def cell_inject(self, rest: str, body: str) -> dict[str, Any] | None:
        if not rest:
            raise MagicError("usage: %%inject ADDR")
        if self.kernel.remote is not None:
            answer = await self.kernel.remote.inject_cell(rest, body)
            if answer is not False:  # NODE:ADDR
                return answer if isinstance(answer, dict) else None
        return await self.kernel.run_lua(body, self.kernel.resolve(rest))

    def _save(self, folder: str, name: str, body: str) -> Path:
        if not re.fullmatch(r"[A-Za-z_][\w.]*", name or ""):
            raise MagicError(f"usage: %%{'service' if folder == 'service' else 'module'} NAME"
                             " (a Lua name, dots for folders)")
        path = Path(folder, *name.split(".")).with_suffix(".lua")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(body if body.endswith("\n") else body + "\n")
        return path

    async def cell_service(self, rest: str, body: str) -> None:
        path = self._save("service", rest, body)
        self._print(f"saved {path}; start it with %newservice {rest}")

    async def cell_module(self, rest: str, body: str) -> None:
        path = self._save("lualib", rest, body)
        self._print(f"saved {path}; require \"{rest}\" loads it")

    async def cell_python(self, rest: str, body: str) -> dict[str, Any] | None:
        ns = self.python_ns
        ns.update(node=self.node, kernel=self.kernel, display=self.kernel.display,
                  clear_output=self.kernel.clear_output)
        out = io.StringIO()
        try:
            code = compile(textwrap.dedent(body), "<cell>", "exec",
                           flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)
            with contextlib.redirect_stdout(out):
                result = eval(code, ns)  # noqa: S307 - the user's own cell
                if asyncio.iscoroutine(result):
                    await result
        except Exception as e:  # noqa: BLE001
            self.kernel.stream("stdout", out.getvalue())
            import traceback

            tb = traceback.format_exception(e)
            return self.kernel.error_reply(type(e).__name__, str(e), tb)
        self.kernel.stream("stdout", out.getvalue())
        return None

    # --- completion, inspection, history ----------------------------------------------

    async def complete(self, code: str, cursor_pos: int) -> dict[str, Any]:
        before = code[:cursor_pos]
        line = before.rsplit("\n", 1)[-1]
        matches: list[str] = []
        start = cursor_pos
        m_magic = re.match(r"^\s*(%%?)(\w*)$", line)
        m_use = re.match(r"^\s*%(use|kill|exit|inject|%inject)\s+(\S*)$", line)
        if m_magic:
            prefix = m_magic.group(2)
            matches = [m_magic.group(1) + n for n in MAGICS if n.startswith(prefix)]
            start = cursor_pos - len(prefix) - len(m_magic.group(1))
        elif m_use and self.node is not None:
            prefix = m_use.group(2)
            for s in self.node.services():
                for cand in (s.address, *s.names):
                    if cand.startswith(prefix):
                        matches.append(cand)
            start = cursor_pos - len(prefix)
        else:
            word = re.search(r"[\w.:]*$", line).group(0)
            names, offset = await self._complete_lua(word)
            matches = names
            start = cursor_pos - len(word) + offset
        return {"status": "ok", "matches": matches, "cursor_start": start,
                "cursor_end": cursor_pos, "metadata": {}}

    async def _complete_lua(self, word: str) -> tuple[list[str], int]:
        node = await self.kernel.ensure_node()
        src = (f"local c = require 'skykernel.complete'\n"
               f"local names, offset = c.names(_ENV, {word!r})\n"
               f"print(offset) print(names)")
        try:
            result = await inject(node, self.kernel.current_target(), src,
                                  session=self.kernel.session_key, returns=False)
        except Exception:  # noqa: BLE001 - completion must never break the kernel
            return [], 0
        if not result.ok:
            return [], 0
        first, _, rest = result.output.partition("\n")
        names = [n for n in rest.splitlines() if n]
        return names, int(first or 0)

    async def inspect(self, code: str, cursor_pos: int) -> dict[str, Any]:
        before = code[:cursor_pos]
        after = re.match(r"[\w]*", code[cursor_pos:]).group(0)
        word = (re.search(r"[\w.:]*$", before).group(0) + after).replace(":", ".")
        if not word:
            return {"status": "ok", "found": False, "data": {}, "metadata": {}}
        node = await self.kernel.ensure_node()
        src = f"print(require('skykernel.complete').describe(_ENV, {word!r}))"
        try:
            result = await inject(node, self.kernel.current_target(), src,
                                  session=self.kernel.session_key, returns=False)
        except Exception:  # noqa: BLE001
            return {"status": "ok", "found": False, "data": {}, "metadata": {}}
        found = result.ok and not result.output.rstrip().endswith(": nil")
        data = {"text/plain": result.output.rstrip()} if found else {}
        return {"status": "ok", "found": found, "data": data, "metadata": {}}

    def record(self, count: int, code: str) -> None:
        self._history.append([HISTORY_SESSION, count, code, ""])

    def record_output(self, text: str) -> None:
        if self._history:
            self._history[-1][3] = text

    def history(self, kind: str, output: bool, n: int | None, pattern: str | None,
                session: int | None, start: int | None, stop: int | None,
                unique: bool) -> list[tuple[Any, ...]]:
        """This kernel session's cells, for tail, range and glob search requests."""
        items = self._history
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


def service_rows(node: Any) -> list[tuple[Any, ...]]:
    """(address, name, main file, its generation, mqlen, memory, messages, handle) for each
    live service: the %services table, as text or as a widget."""
    rows = []
    for s in node.services():
        main = next((f for f in s.generations if f.endswith(f"/{s.name}.lua")
                     or f.endswith(f"/{s.name}/init.lua")), "")
        gen = str(s.generations.get(main, "")) if main else ""
        mem = f"{s.memory / 1024:.1f} KB" if s.memory else ""
        names = " ".join(s.names)
        rows.append((s.address, f"{s.name} {names}".strip(), main, gen, str(s.mqlen), mem,
                     str(s.messages), s.handle))
    return rows


def _table(rows: list[tuple[str, ...]]) -> str:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip()
                     for r in rows)
