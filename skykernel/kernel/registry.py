"""Magics: the lines of a cell that start with `%`; they act on the target, not in Lua.

A magic is one async function in the module of its area (`AREAS`), marked where it is
written with `@line_magic` (`%name`) or `@cell_magic` (`%%name`, the rest of the cell is
its body). Its name is the function's name (a trailing `_` dropped); its help is its
docstring, whose first line is the usage `%help` lists and must start with the magic's
own `%name` (checked when the module is imported; it may wrap, up to the first blank
line), the rest what `%help NAME` adds. It
receives a `Context`: the target cells run in, the targets, the cell's output, and state
kept per kernel. Nothing here is global: each kernel builds its own `Magics`.
"""

from __future__ import annotations

import importlib
import textwrap
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from .output import Output, Reply
    from .target import Target
    from .targets import Targets

#: The modules that hold magics, in the order %help lists them. They are imported on
#: first need, not at start: a fresh kernel answers its first kernel_info sooner.
AREAS = (
    "skykernel.kernel.magics_core",
    "skykernel.kernel.magics_views",
    "skykernel.kernel.magics_reload",
    "skykernel.kernel.magics_remote",
)

S = TypeVar("S")
F = TypeVar("F", bound=Callable[..., Awaitable[Any]])


class MagicError(Exception):
    """A magic was misused; the message says how to use it."""


@dataclass(frozen=True)
class Magic:
    name: str
    cell: bool
    func: Callable[..., Awaitable[Any]]
    usage: str
    doc: str

    @property
    def prefix(self) -> str:
        return "%%" if self.cell else "%"

    def usage_error(self, why: str = "") -> MagicError:
        return MagicError((f"{why}; " if why else "") + f"usage: {self.usage}")


def _mark(func: F, cell: bool) -> F:
    name = func.__name__.rstrip("_")
    prefix = "%%" if cell else "%"
    doc = (func.__doc__ or "").strip()
    first, _, rest = doc.partition("\n\n")
    usage = " ".join(line.strip() for line in first.splitlines())
    if not (usage.startswith(prefix + name + " ") or usage == prefix + name):
        raise TypeError(f"{func.__module__}.{func.__name__}: a magic's docstring starts with "
                        f"its usage, `{prefix}{name} ...`; got {usage!r}")
    func.magic = Magic(name, cell, func, usage, textwrap.dedent(rest).strip())  # type: ignore[attr-defined]
    return func


def line_magic(func: F) -> F:
    """`%name ARGS`: func(ctx, rest)."""
    return _mark(func, False)


def cell_magic(func: F) -> F:
    """`%%name ARGS` on a cell's first line: func(ctx, rest, body)."""
    return _mark(func, True)


@dataclass
class Context:
    """What a magic gets: where cells run, and the means to answer."""

    target: Target
    targets: Targets
    out: Output
    magics: Magics
    #: the namespace of %%python cells (this kernel's)
    python: dict[str, Any] = field(default_factory=dict)
    #: runs code as a cell's (Lua parts and magics), for magics that wrap code (%%time)
    run_code: Callable[[str], Awaitable[Reply | None]] | None = None
    #: the running cell's name in Lua errors (`cell[3]`)
    cell_name: str = "cell"
    #: the source of cell N of this session, if the kernel kept it
    history: Callable[[int], str | None] | None = None

    def state(self, kind: type[S]) -> S:
        """This kernel's instance of kind (made on first use): a magic's memory."""
        return self.magics.state(kind)


class Magics:
    """One kernel's magics: found in AREAS on first use, with their per-kernel state."""

    def __init__(self, context: Callable[[], Awaitable[Context]],
                 areas: tuple[str, ...] = AREAS) -> None:
        self._context = context
        self.areas = areas
        self._magics: dict[tuple[str, bool], Magic] = {}
        self._states: dict[type, Any] = {}
        self.loaded = False

    def load(self) -> None:
        if self.loaded:
            return
        found: dict[tuple[str, bool], Magic] = {}
        for area in self.areas:
            module = importlib.import_module(area)
            for value in vars(module).values():
                magic = getattr(value, "magic", None)
                if not isinstance(magic, Magic) or getattr(value, "__module__", "") != area:
                    continue
                key = (magic.name, magic.cell)
                if key in found:  # one implementation per magic, never a shadow
                    raise TypeError(f"{magic.prefix}{magic.name} is defined twice")
                found[key] = magic
        self._magics = found
        self.loaded = True

    def all(self) -> list[Magic]:
        self.load()
        return list(self._magics.values())

    def get(self, name: str, cell: bool) -> Magic | None:
        self.load()
        return self._magics.get((name, cell))

    def state(self, kind: type[S]) -> S:
        value = self._states.get(kind)
        if value is None:
            value = self._states[kind] = kind()
        return value

    def listing(self) -> str:
        return "\n".join(m.usage for m in self.all())

    # --- running -----------------------------------------------------------------------

    def unknown(self, name: str, cell: bool) -> MagicError:
        """One line: the name, the nearest magics, and where the list is."""
        import difflib

        prefix = "%%" if cell else "%"
        names = [m.name for m in self.all() if m.cell == cell]
        near = difflib.get_close_matches(name, names, n=3, cutoff=0.6)
        other = self.get(name, not cell)
        hint = ""
        if other is not None:
            hint = f"; did you mean {other.prefix}{name}?"
        elif near:
            hint = "; did you mean " + " or ".join(prefix + n for n in near) + "?"
        return MagicError(f"unknown {'cell ' if cell else ''}magic {prefix}{name}{hint} "
                          "(%lsmagic lists them, %help NAME explains one)")

    async def run_line(self, ctx: Context, line: str) -> Reply | None:
        name, _, rest = line.strip().partition(" ")
        magic = self.get(name, False)
        if magic is None:
            raise self.unknown(name, False)
        return await magic.func(ctx, rest.strip())

    async def run_cell(self, ctx: Context, line: str, body: str) -> Reply | None:
        name, _, rest = line.strip().partition(" ")
        magic = self.get(name, True)
        if magic is None:
            raise self.unknown(name, True)
        return await magic.func(ctx, rest.strip(), body)

    async def run_line_magic(self, line: str) -> Reply | None:
        """Run `%line` from Python (a %%python cell), in the current target."""
        return await self.run_line(await self._context(), line)
