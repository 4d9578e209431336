"""Run a chunk of Lua inside a live service from Python: the notebook's cell path.

This is skynet's debug `RUN` (what the console's `inject` sends), with the option table
our debug protocol accepts (docs/inject.md): returned values come back rendered, print
shows nils, and a session key keeps one environment across chunks, as a REPL needs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .node import Node

CONTRACT = 1
"""The version of RUN's option table (`opts.skykernel`)."""


@dataclass(frozen=True)
class InjectResult:
    ok: bool
    output: str
    error: str | None = None
    values: list[str] = field(default_factory=list)
    #: a `repl` cell's output in order, when it made more than stdout: a JSON list of
    #: kind, payload pairs (`out`, `err` text; `display` a mimebundle's JSON); else None
    events: str | None = None
    #: what the kernel noticed about the cell (a patch that reads a global where the
    #: handler it replaced had an upvalue), shown after its output
    hints: tuple[str, ...] = ()

    def __str__(self) -> str:
        parts = [p for p in (self.output, self.error, "\t".join(self.values)) if p]
        return "\n".join(parts)


def _text(value: Any) -> str:
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return "" if value is None else str(value)


def run_options(*, session: str | None = None, returns: bool = True, nils: bool = True,
                expression: bool = False, reset: bool = False, repl: bool = False,
                args: tuple[Any, ...] = ()) -> dict[str, Any]:
    """The option table RUN recognises (a table whose `skykernel` field is CONTRACT)."""
    opts: dict[str, Any] = {"skykernel": CONTRACT, "returns": returns, "nils": nils}
    if session is not None:
        opts["session"] = session
    if expression:
        opts["expression"] = True
    if repl:
        opts["repl"] = True
    if reset:
        opts["reset"] = True
    if args:
        opts["args"] = {**dict(enumerate(args, 1)), "n": len(args)}
    return opts


async def inject(node: Node, address: int | str, source: str | bytes, *,
                 session: str | None = None, returns: bool = True,
                 filename: str | None = None, expression: bool = False,
                 nils: bool = True, reset: bool = False, repl: bool = False,
                 args: tuple[Any, ...] = ()) -> InjectResult:
    """Run `source` in the service at `address`; raises CallError if it cannot answer."""
    opts = run_options(session=session, returns=returns, nils=nils, expression=expression,
                       reset=reset, repl=repl, args=args)
    reply = await node.call(address, "debug", "RUN", source, filename, opts)
    ok, output, error, values, events = (*reply, None, None, None, None, None)[:5]
    rendered = [_text(v) for v in values] if isinstance(values, list) else []
    return InjectResult(bool(ok), _text(output), None if error is None else _text(error),
                        rendered, None if events is None else _text(events))


__all__ = ["CONTRACT", "InjectResult", "inject", "run_options"]
