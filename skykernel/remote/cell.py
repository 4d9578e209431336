"""A notebook cell as a plain skynet `inject`: the cell wrapped in a chunk that only prints.

skynet's debug RUN captures `print` and nothing else. So the wrapper runs the cell through
the notebook's own RUN (`skynet/inject.lua`'s `run`: a session environment kept between
cells, nils printed, an expression's value returned, values rendered by
`skykernel/pretty.lua`), carried inside the chunk the way the views' probes carry their
modules (`skykernel.luatext.preload`), and prints what it returns after a marker line with
a random nonce; `read_reply` splits it off again. Printed lines that would look like the
console's `<CMD OK>` end marker are escaped. With `track`, the wrapper also notes the
handler swaps the cell made in `_P` / `_U` (`skykernel/swaps.lua`), in the same round trip.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass

from ..luatext import clean_traceback, long_string, lua_literal, lua_string, preload
from ..luatext import require as lua_require
from ..node.inject import CONTRACT, InjectResult

#: What every wrapped cell carries; `track` adds the swaps module.
MODULES = ("skynet.inject",)
TRACK_MODULES = ("skykernel.swaps",)

_WRAPPER = """-- skykernel remote cell (a plain inject: only print comes back)
do
%(preload)slocal skynet = require "skynet"
local inject = %(inject)s
local swaps = %(swaps)s
local out, mark = print, %(mark)s
local funcs = { skynet.dispatch_message, skynet.register_protocol }
local function emit(s)
	out((("\\n" .. s):gsub("\\n(\\\\*<CMD )", "\\n\\\\%%1")):sub(2))
end
if swaps then
	swaps.snapshot(inject.tables(funcs))
end
local ok, output, err, values, events = inject.run(skynet, %(source)s, %(name)s, %(opts)s, funcs)
if output ~= "" then
	emit(output)
end
if swaps then
	local swapped = swaps.diff(inject.tables(funcs))
	if swapped ~= "" then
		out(mark .. " swaps")
		emit(swapped)
	end
end
if not ok then
	out(mark .. " error")
	emit(err or "error")
elseif values[1] ~= nil then
	out(mark .. " values")
	emit(table.concat(values, "\\t"))
end
if events then
	out(mark .. " events")
	emit(events)
end
end
"""


@dataclass(frozen=True)
class WrappedCell:
    chunk: str
    marker: str


def wrap(source: str, *, session: str | None, name: str | None = None, reset: bool = False,
         returns: bool = True, expression: bool = True, nils: bool = True,
         track: bool = False, repl: bool = False) -> WrappedCell:
    """The chunk to write to a file for `inject ADDR FILE`. The options are RUN's
    (docs/inject.md); `name` names the chunk (`@name`, else `=(load)`)."""
    marker = f"--skykernel-{secrets.token_hex(6)}--"
    opts: dict[str, object] = {"skykernel": CONTRACT, "returns": returns, "nils": nils,
                               "expression": expression}
    if session is not None:
        opts["session"] = session
    if reset:
        opts["reset"] = True
    if repl:
        opts["repl"] = True
    modules = MODULES + (TRACK_MODULES if track else ())
    chunk = _WRAPPER % {
        "preload": preload(modules),
        "inject": lua_require("skynet.inject", inline=True),
        "swaps": lua_require("skykernel.swaps", inline=True) if track else "false",
        "mark": lua_string(marker),
        "source": long_string(source),
        "name": lua_literal(name),
        "opts": lua_literal(opts),
    }
    return WrappedCell(chunk, marker)


_ESCAPED = re.compile(r"^\\(\\*<CMD )", re.M)


def _unescape(text: str) -> str:
    return _ESCAPED.sub(r"\1", text)


def read_reply(text: str, marker: str) -> tuple[InjectResult, str]:
    """What the wrapped cell printed, as the result and the swaps line ('' if none)."""
    lines = text.split("\n")
    sections: dict[str, str] = {}
    end = len(lines)
    for i in range(len(lines) - 1, -1, -1):
        if lines[i].startswith(marker + " "):
            kind = lines[i][len(marker) + 1:]
            sections[kind] = _unescape("\n".join(lines[i + 1:end]))
            end = i
    output = _unescape("\n".join(lines[:end]))
    swaps = sections.get("swaps", "")
    events = sections.get("events")
    if "error" in sections:
        error = "\n".join(clean_traceback(sections["error"])) or sections["error"]
        return InjectResult(False, output, error, events=events), swaps
    values = sections.get("values", "")
    return InjectResult(True, output, None, values.split("\t") if values else [],
                        events), swaps


def read_output(text: str, marker: str) -> InjectResult:
    """What the wrapped cell printed, split into output, error and values."""
    return read_reply(text, marker)[0]
