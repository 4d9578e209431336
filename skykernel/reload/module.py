"""Module reload in a running service: plan (dry run) or apply, in one service or in every
service that has the module loaded. The Lua half is runtime/lualib/skykernel/reload.lua."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..luatext import lua_literal, lua_string
from ._lua import Place, place_of, requiring
from .patchlog import source_hash

KINDS = ("changed", "added", "removed", "joined", "newlocals", "kept", "refused")


@dataclass
class ModuleReport:
    """What a reload did (or, for a dry run or a refusal, would do / why not)."""

    address: str
    module: str
    status: str  # applied, dry-run, refused, not-loaded
    path: str | None = None
    id: int | None = None
    repointed: int = 0
    changed: list[str] = field(default_factory=list)
    added: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    joined: list[str] = field(default_factory=list)
    newlocals: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.status in ("applied", "dry-run")

    def describe(self) -> str:
        head = f"{self.address} {self.module}: {self.status}"
        if self.status == "applied":
            head += f" (patch #{self.id}, {self.repointed} references re-pointed)"
        lines = [head]
        for kind in KINDS:
            items = getattr(self, kind)
            if kind == "kept" and items:
                shown = ", ".join(items[:3]) + (", ..." if len(items) > 3 else "")
                lines.append(f"  kept: {len(items)} data value(s): {shown}")
                continue
            for item in items:
                lines.append(f"  {kind}: {item}")
        return "\n".join(lines)


def parse_report(address: str, text: str) -> ModuleReport:
    report = ModuleReport(address=address, module="", status="")
    for line in text.splitlines():
        kind, _, value = line.partition("\t")
        if kind in KINDS:
            getattr(report, kind).append(value)
        elif kind == "status":
            report.status = value
        elif kind == "module":
            report.module = value
        elif kind == "path":
            report.path = value
        elif kind == "id":
            report.id = int(value)
        elif kind == "repointed":
            report.repointed = int(value)
    return report


def module_chunk(place: Place, name: str, source: str | None, *, dry_run: bool,
                 everywhere: bool) -> str:
    """The chunk that plans (and unless dry_run applies) a reload of module `name` in one
    service and prints the report. Everywhere, a service without the module answers
    `not-loaded` before any inlined module is loaded into it."""
    head, (reload,) = requiring(place, "skykernel.reload")
    skip = (f"if package.loaded[{lua_string(name)}] == nil then "
            f"print('status\\tnot-loaded') return end\n") if everywhere else ""
    return (f"{skip}{head}local r = {reload}\n"
            f"print(r.run({lua_string(name)}, {lua_literal(source)}, {lua_literal(dry_run)}))")


async def reload_module(where: Any, address: int | str | None, name: str,
                        source: str | None = None, *, dry_run: bool = False
                        ) -> list[ModuleReport]:
    """Reload `name` in the service at `address` of `where` (the in-process node or any
    Place), or (address None) in every Lua service that has it loaded. `source` None reads
    the file on disk again (on the node's side)."""
    place = place_of(where)
    everywhere = address is None
    targets = await place.lua_services() if everywhere else [place.resolve(address)]
    chunk = module_chunk(place, name, source, dry_run=dry_run, everywhere=everywhere)
    reports = []
    for target in targets:
        label = place.label(target)
        report = parse_report(label, await place.run(target, chunk))
        if report.status == "not-loaded":
            continue
        report.module = report.module or name
        reports.append(report)
        if report.status == "applied":
            what = ", ".join(report.changed + [f"+{a}" for a in report.added]
                             + [f"-{r}" for r in report.removed]) or "no function changed"
            place.patches.record(
                "module", label, name, source_hash(source, report.path), what,
                undo=("module", target, report.id))
    return reports
