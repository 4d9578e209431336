"""Magics that attach and detach remote skynet nodes: %connect, %nodes, %disconnect.

Once attached, a node's services are targets like the in-process node's (`%use
NODE:ADDR`), and every other magic works on them (skykernel/kernel/target_remote.py).
"""

from __future__ import annotations

import shlex
from pathlib import Path

from ..remote.session import RemoteError
from .registry import Context, MagicError, line_magic


def _connect_args(rest: str) -> tuple[str, int, str | None, tuple[Path, str] | None, float]:
    """HOST:PORT [as NAME] [shared=DIR as NODEDIR] [timeout=S]"""
    words = shlex.split(rest)
    if not words or ":" not in words[0]:
        raise connect.magic.usage_error()
    host, _, port_text = words[0].rpartition(":")
    host = host.strip("[]")
    if not port_text.isdigit():
        raise connect.magic.usage_error(f"not a port: {port_text!r}")
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
            raise connect.magic.usage_error(f"unexpected {w!r}")
        i += 1
    shared = None
    if shared_local is not None:
        local = Path(shared_local).expanduser().resolve()
        shared = (local, shared_node or str(local))
    return host, int(port_text), name, shared, timeout


@line_magic
async def connect(ctx: Context, rest: str) -> None:
    """%connect HOST:PORT [as NAME] [shared=DIR as NODEDIR] [timeout=S]  attach to a skynet
    debug console

    Only connects out, to the address named. For another host, cells need a directory both
    sides see (shared=); the timeout bounds each command (dialling: at most 10 s)."""
    host, port, name, shared, timeout = _connect_args(rest)
    try:
        node = await ctx.targets.waiter.wait(
            ctx.targets.remotes.connect(host, port, name, shared=shared, timeout=timeout),
            f"%connect {host}:{port} stopped; nothing was attached")
    except RemoteError as e:
        raise MagicError(str(e)) from None
    note = "" if node.same_host or node.shared else (
        "\n(another host: cells need shared=DIR as NODEDIR; %console works as is)")
    ctx.out.print(f"connected {node.name} = {node.address}; use %use {node.name}:ADDR to run "
                  f"cells there, %services {node.name}, %console {node.name} CMD{note}")


@line_magic
async def nodes(ctx: Context, rest: str) -> None:
    """%nodes                     the attached remote nodes and where cells run"""
    remotes = ctx.targets.remotes
    if not remotes.nodes:
        ctx.out.print("no remote nodes (use %connect HOST:PORT as NAME)")
        return
    lines = [n.describe() for n in remotes.nodes.values()]
    where = "the local node" if ctx.target.node_name == "local" else ctx.target.label()
    lines.append(f"cells run in {where}")
    ctx.out.print("\n".join(lines))


@line_magic
async def disconnect(ctx: Context, rest: str) -> None:
    """%disconnect NAME           detach a remote node (cells come back to the local node)"""
    name = rest.strip()
    if not name:
        raise disconnect.magic.usage_error()
    was_target = await ctx.targets.disconnect(name)
    ctx.out.print(f"disconnected {name}"
                  + ("; cells run in the local node again" if was_target else ""))
