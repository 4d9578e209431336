"""Module reload in a running service: plan (dry run) or apply, in one service or in every
service that has the module loaded. The Lua half is runtime/lualib/skykernel/reload.lua."""

from __future__ import annotations

from dataclasses import dataclass, field

from ..node.handle import format_address
from ..node.service import LuaService
from ._lua import lua_str, lua_value, run_in
from .patchlog import patchlog, source_hash

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


async def reload_module(node, address: int | str | None, name: str, source: str | None = None,
                        *, dry_run: bool = False) -> list[ModuleReport]:
    """Reload `name` in the service at `address`, or (address None) in every Lua service
    that has it loaded. `source` None reads the file on disk again."""
    if address is None:
        targets = [h for h, s in sorted(node.handles.services.items())
                   if isinstance(s, LuaService) and not s.dead and s.booted]
        everywhere = True
    else:
        targets = [node.resolve(address)]
        everywhere = False
    chunk = (f"local r = require 'skykernel.reload'\n"
             f"if {'true' if everywhere else 'false'} and not r.loaded({lua_str(name)}) then "
             f"print('status\\tnot-loaded') return end\n"
             f"print(r.run({lua_str(name)}, {lua_str(source)}, {lua_value(dry_run)}))")
    reports = []
    for handle in targets:
        addr = format_address(handle)
        report = parse_report(addr, await run_in(node, handle, chunk))
        if report.status == "not-loaded":
            continue
        report.module = report.module or name
        reports.append(report)
        if report.status == "applied":
            what = ", ".join(report.changed + [f"+{a}" for a in report.added]
                             + [f"-{r}" for r in report.removed]) or "no function changed"
            patchlog(node).record(
                "module", addr, name, source_hash(source, report.path), what,
                undo=("module", handle, report.id))
    return reports
