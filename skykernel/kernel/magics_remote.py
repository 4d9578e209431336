"""Magics for remote skynet nodes: %connect, %nodes, %disconnect, %probe, and the remote
side of %use, %services, %console and %%inject (the base magics ask `kernel.remote`).

A remote node is reached only through its debug console (`skykernel.remote`); a cell for
a remote target is wrapped, written to a file the node can read, and `inject`ed.
"""

from __future__ import annotations

import asyncio
import json
import shlex
from collections.abc import Awaitable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from ..remote import parse
from ..remote.session import RemoteError, RemoteNode, Remotes
from .luasyntax import clean_traceback
from .magics import MagicError

if TYPE_CHECKING:
    from .kernel import SkynetKernel

T = TypeVar("T")

CODECACHE_NOTE = (
    "a real skynet node keeps no code-cache generations: it cannot tell which files are "
    "cached, since when, or which service runs which version (skynet counts nothing). "
    "What it can do: `%console NODE clearcache` starts an empty cache; services started "
    "afterwards, and later `require`s of modules not yet loaded, read the files again.")


class RemoteMagics:
    HELP = {
        "connect": "%connect HOST:PORT [as NAME] [shared=DIR as NODEDIR] [timeout=S]  attach "
                   "to a skynet debug console",
        "nodes": "%nodes                     the attached remote nodes and the target",
        "disconnect": "%disconnect NAME           detach a remote node",
        "probe": "%probe upvalues|protocols|codecache [NODE:ADDR]  introspection data of a "
                 "(remote) service",
    }

    def __init__(self, kernel: SkynetKernel) -> None:
        self.kernel = kernel
        self.remotes = Remotes()
        kernel.remote = self  # the base magics and run_lua consult this

    def _print(self, text: str) -> None:
        self.kernel.stream("stdout", text if text.endswith("\n") else text + "\n")

    async def _interruptible(self, work: Awaitable[T], stopped: str) -> T:
        """Await work so that an interrupt (the stop button, SIGINT) ends it at once: the
        kernel's interrupt handler cancels whatever `cell_waiter` holds. `stopped` says
        what the interrupt left behind, for the error."""
        kernel = self.kernel
        task = asyncio.ensure_future(work)
        kernel.cell_waiter = task
        try:
            return await task
        except asyncio.CancelledError:
            current = asyncio.current_task()
            if current is not None and current.cancelling():
                raise  # this request itself is being cancelled, not just the wait
            raise MagicError(f"interrupted: {stopped}") from None
        finally:
            if kernel.cell_waiter is task:
                kernel.cell_waiter = None

    # --- magics of this group --------------------------------------------------------

    async def line_connect(self, rest: str) -> None:
        words = shlex.split(rest)
        if not words or ":" not in words[0]:
            raise MagicError("usage: " + self.HELP["connect"])
        host, _, port_text = words[0].rpartition(":")
        host = host.strip("[]")
        if not port_text.isdigit():
            raise MagicError(f"not a port: {port_text!r}; usage: " + self.HELP["connect"])
        name: str | None = None
        shared_local: str | None = None
        shared_node: str | None = None
        timeout = 60.0
        last = "host"
        i = 1
        while i < len(words):
            w = words[i]
            if w == "as" and i + 1 < len(words):
                if last == "shared":
                    shared_node = words[i + 1]
                else:
                    name = words[i + 1]
                last = "as"
                i += 2
                continue
            if w.startswith("shared="):
                shared_local, last = w[len("shared="):], "shared"
            elif w.startswith("timeout="):
                try:
                    timeout = float(w[len("timeout="):])
                except ValueError:
                    raise MagicError(f"not a number of seconds: {w}") from None
                last = "timeout"
            else:
                raise MagicError(f"unexpected {w!r}; usage: " + self.HELP["connect"])
            i += 1
        shared = None
        if shared_local is not None:
            local = Path(shared_local).expanduser().resolve()
            shared = (local, shared_node or str(local))
        try:
            node = await self._interruptible(
                self.remotes.connect(host, int(port_text), name, shared=shared,
                                     timeout=timeout),
                f"%connect {host}:{port_text} stopped; nothing was attached")
        except RemoteError as e:
            raise MagicError(str(e)) from None
        note = "" if node.same_host or node.shared else (
            "\n(another host: cells need shared=DIR as NODEDIR; %console works as is)")
        self._print(f"connected {node.name} = {node.address}; use %use {node.name}:ADDR to run "
                    f"cells there, %services {node.name}, %console {node.name} CMD{note}")

    async def line_nodes(self, rest: str) -> None:
        if not self.remotes.nodes:
            self._print("no remote nodes (use %connect HOST:PORT as NAME)")
            return
        lines = [n.describe() for n in self.remotes.nodes.values()]
        target = self.remotes.target
        lines.append(f"cells run in {target[0]}:{target[1]}" if target
                     else "cells run in the local node")
        self._print("\n".join(lines))

    async def line_disconnect(self, rest: str) -> None:
        name = rest.strip()
        if not name:
            raise MagicError("usage: %disconnect NAME")
        was_target = self.remotes.target is not None and self.remotes.target[0] == name
        try:
            await self.remotes.disconnect(name)
        except RemoteError as e:
            raise MagicError(str(e)) from None
        self._print(f"disconnected {name}" + ("; cells run in the local node again"
                                              if was_target else ""))

    async def line_probe(self, rest: str) -> dict[str, Any] | None:
        words = rest.split()
        if not words:
            raise MagicError("usage: " + self.HELP["probe"])
        kind = words[0]
        where = self._where(words[1] if len(words) > 1 else None)
        if where is None:
            raise MagicError("%probe NODE:ADDR is for remote services; the views' magics show "
                             "the local node")
        node, address = where
        if kind == "codecache":
            self._print(f"{node.name}: {CODECACHE_NOTE.replace('NODE', node.name)}")
            return None
        try:
            from ..views import probe as views_probe
        except ImportError:
            raise MagicError("views are not available in this install (skykernel.views.probe "
                             "is missing); %console and cells still work") from None
        try:
            data = await self._interruptible(
                views_probe.probe(self.runner(node, address), kind, inline=True),
                _reset_note(node))
        except ValueError as e:
            raise MagicError(str(e)) from None
        except (RemoteError, views_probe.ProbeError) as e:
            return self.kernel.error_reply("ProbeError", str(e).split("\n")[0],
                                           [f"ProbeError: {e}"])
        self.show_view(kind, data)
        return None

    def show_view(self, kind: str, data: Any) -> None:
        """The same widget a local view uses when the views package offers one for data;
        otherwise the JSON, readable."""
        try:
            from ..views import widget_for  # type: ignore[attr-defined]
        except ImportError:
            widget_for = None
        if widget_for is not None:
            try:
                self.kernel.display(widget_for(kind, data))
                return
            except Exception:  # noqa: BLE001 - fall back to the data itself
                pass
        text = json.dumps(data, indent=1, sort_keys=True)
        self.kernel.send_response(self.kernel.iopub_socket, "display_data", {
            "data": {"application/json": data, "text/plain": text}, "metadata": {}})

    # --- views and %services of a remote target (else the next group's magic) --------

    def _next(self, prefix: str, name: str) -> Any:
        """The magic a later group (or the base) offers under the same name."""
        magics = self.kernel.magics
        groups = list(magics._groups)
        after = groups[groups.index(self) + 1:] if self in groups else groups
        for group in (*after, magics):
            method = getattr(group, f"{prefix}_{name}", None)
            if method is not None:
                return method
        raise MagicError(f"no %{name}")

    def _remote_arg(self, rest: str) -> tuple[tuple[RemoteNode, str] | None, str]:
        """An optional leading NODE:ADDR, else the remote target; and the rest."""
        first, _, tail = rest.strip().partition(" ")
        if first and ":" in first and not first.startswith(":"):
            where = self._where(first)
            if where is not None:
                return where, tail.strip()
        return self._where(None), rest.strip()

    async def line_services(self, rest: str) -> Any:
        if await self.services(rest):
            return None
        return await self._next("line", "services")(rest)

    async def line_upvalues(self, rest: str) -> Any:
        where, expr = self._remote_arg(rest)
        if where is None:
            return await self._next("line", "upvalues")(rest)
        from ..views.probe import probe
        from ..views.tree import UpvalueExplorer

        node, address = where
        run = self.runner(node, address)

        async def fetch(path: tuple[str, ...], offset: int, limit: int) -> dict[str, Any]:
            return await probe(run, "upvalues", inline=True, root=expr or None,
                               path=list(path), offset=offset, limit=limit, label=expr)

        view = UpvalueExplorer(fetch, title=f"{node.name}:{address} {expr or '_U, _P'}")
        fill = getattr(view, "populate", None) or view.open  # the views' API, either age
        try:
            await self._interruptible(fill(1), _reset_note(node))
        except MagicError:
            raise
        except Exception as e:  # noqa: BLE001 - ProbeError, RemoteError: shown, not raised
            raise MagicError(f"%upvalues {node.name}:{address}: {e}") from None
        self.kernel.display(view)
        return None

    async def line_protocols(self, rest: str) -> Any:
        where, _ = self._remote_arg(rest)
        if where is None:
            return await self._next("line", "protocols")(rest)
        from ..views.chain import ProtocolChainView
        from ..views.probe import probe

        node, address = where
        run = self.runner(node, address)

        async def fetch() -> tuple[dict[str, Any], dict[str, int]]:
            # a real node keeps no generations: no file gets a generation number
            return await probe(run, "protocols", inline=True), {}

        view = ProtocolChainView(fetch, title=f"{node.name}:{address}")
        try:
            await self._interruptible(view.refresh(), _reset_note(node))
        except MagicError:
            raise
        except Exception as e:  # noqa: BLE001 - ProbeError, RemoteError: shown, not raised
            raise MagicError(f"%protocols {node.name}:{address}: {e}") from None
        self.kernel.display(view)
        return None

    async def line_codecache(self, rest: str) -> Any:
        where = self._where(None)
        if where is None:
            return await self._next("line", "codecache")(rest)
        self._print(f"{where[0].name}: {CODECACHE_NOTE.replace('NODE', where[0].name)}")
        return None

    # --- hooks the base magics and the kernel call -----------------------------------

    def _where(self, text: str | None) -> tuple[RemoteNode, str] | None:
        try:
            if text is None:
                return self.remotes.target_node()
            return self.remotes.split(text)
        except RemoteError as e:
            raise MagicError(str(e)) from None

    def runner(self, node: RemoteNode, address: str):
        """A views Runner (chunk -> printed text) that injects through the console."""
        from ..views.probe import ProbeError

        async def run(chunk: str) -> str:
            answer = await node.inject_text(address, chunk)
            text = parse.strip_console_position(answer.text)
            if not answer.ok:
                raise ProbeError(text)
            return text

        return run

    def target_runner(self):
        """The Runner for the remote target, or None when cells run locally."""
        where = self.remotes.target_node()
        return None if where is None else self.runner(*where)

    @property
    def has_target(self) -> bool:
        return self.remotes.target is not None

    async def use(self, rest: str) -> bool:
        """%use NODE:ADDR; False when rest is a local address (the remote target ends)."""
        where = self._where(rest)
        if where is None:
            self.remotes.target = None
            return False
        node, address = where
        try:  # skynet's console answers ping with an error for an unknown address
            answer = await self._interruptible(
                node.command(f"ping {address}", timeout=min(node.client.timeout, 10)),
                _reset_note(node))
        except RemoteError as e:
            raise MagicError(str(e)) from None
        if not answer.ok:
            raise MagicError(f"no service {address} on {node.name}: "
                             f"{parse.strip_console_position(answer.text)} "
                             f"(%services {node.name} lists them)")
        self.remotes.target = (node.name, address)
        self._print(f"cells now run in {node.name}:{address} ({node.address})")
        return True

    async def services(self, rest: str) -> bool:
        """%services NODE (or no argument while the target is remote)."""
        name = rest.strip()
        if name:
            if name not in self.remotes.nodes:
                return False
            node = self.remotes.nodes[name]
        elif self.remotes.target is not None:
            node = self.remotes.get(self.remotes.target[0])
        else:
            return False
        try:
            header, rows, notes = await self._interruptible(node.services_report(),
                                                            _reset_note(node))
        except RemoteError as e:
            raise MagicError(str(e)) from None
        self._print(f"{node.name} ({node.address})\n" + parse.format_table(header, rows))
        for note in notes:  # streams of their own: the table's may be cut for length
            self._print(note)
        return True

    async def console(self, rest: str) -> dict[str, Any] | bool:
        """%console NODE CMD (or CMD while the target is remote); False: the local node."""
        first, _, cmd = rest.strip().partition(" ")
        if first in self.remotes.nodes:
            node = self.remotes.nodes[first]
        elif self.remotes.target is not None:
            node, cmd = self.remotes.get(self.remotes.target[0]), rest.strip()
        else:
            return False
        if not cmd.strip():
            raise MagicError(f"usage: %console {node.name} CMD (try help)")
        try:
            answer = await self._interruptible(node.command(cmd.strip()), _reset_note(node))
        except (RemoteError, ValueError) as e:
            raise MagicError(str(e)) from None
        if not answer.ok:
            text = parse.strip_console_position(answer.text)
            self.kernel.stream("stderr", text + "\n" if text else "")
            first_line = text.split("\n")[0] if text else "error"
            return self.kernel.error_reply("ConsoleError", first_line,
                                           [f"ConsoleError: {text or 'error'}"])
        shaped = parse.table(cmd, answer.lines)
        if shaped is not None:
            self._print(parse.format_table(*shaped))
            if answer.cut_lines:  # a stream of its own: the table's may be cut for length
                self._print(answer.note)
        elif answer.lines:
            self._print(answer.text)  # the note stands where the lines were cut
        return True

    async def inject_cell(self, rest: str, body: str) -> dict[str, Any] | bool:
        """%%inject NODE:ADDR; False for a local address."""
        where = self._where(rest)
        if where is None:
            return False
        return await self.run(body, *where)

    async def run(self, source: str, node: RemoteNode | None = None,
                  address: str | None = None) -> dict[str, Any] | None:
        """Run a cell in the remote target (or node/address); None on success."""
        kernel = self.kernel
        if node is None or address is None:
            where = self.remotes.target_node()
            assert where is not None
            node, address = where
        name = f"cell[{kernel.execution_count}]"
        kernel.cell_waiter = asyncio.ensure_future(
            node.run_cell(address, source, session=kernel.session_key, name=name))
        try:
            result = await kernel.cell_waiter
        except asyncio.CancelledError:
            return kernel.error_reply("KeyboardInterrupt", "interrupted", [
                "KeyboardInterrupt: stopped waiting; the connection was reset (the chunk may "
                "still be running on the node)"])
        except RemoteError as e:
            return kernel.error_reply("RemoteError", str(e), [f"RemoteError: {e}"])
        finally:
            kernel.cell_waiter = None
        output = result.output
        if output and not output.endswith("\n"):
            output += "\n"
        kernel.stream("stdout", output)
        if not result.ok:
            message = result.error or "error"
            lines = clean_traceback(message)
            return kernel.error_reply("LuaError", lines[0] if lines else message,
                                      lines or [message])
        if result.values:
            kernel.result("\t".join(result.values))
        return None

    async def shutdown(self) -> None:
        await self.remotes.close_all()


def _reset_note(node: RemoteNode) -> str:
    return (f"stopped waiting for {node.name} ({node.address}); the connection was reset "
            "(the command may still be running there)")
