"""What the kernel needs to know about Lua text without asking the node.

Completeness is judged by Lua's own parser in a private state: an error that ends at
`<eof>` means "keep typing", any other error means "run it and show the error".
"""

from __future__ import annotations

import re

_CHECK = b"""
local function check(code)
    local f, err = load(code, "=cell")
    if f then return "complete" end
    f = load("return " .. code, "=cell")
    if f then return "complete" end
    if err:find("<eof>$") then return "incomplete" end
    return "invalid"
end
-- An expression cell shows its value, as `1+1` does in other kernels.
local function expression(code)
    if load("return " .. code, "=cell") then return "return " .. code end
    return code
end
return check, expression
"""

# Frames that belong to the runtime, not to the user's code.
_RUNTIME_FRAME = re.compile(
    r"runtime/lualib/(skynet|skykernel|loader)|^\s*\[C\]: in (function '(xpcall|pcall|"
    r"error)'|\?)|^\s*\(\.\.\.tail calls\.\.\.\)"
)


class LuaSyntax:
    def __init__(self) -> None:
        from ..node.luastate import new_state

        self._lua = new_state(unpack_returned_tuples=False)
        self._check, self._expression = self._lua.execute(_CHECK)

    def is_complete(self, code: str) -> str:
        """'complete', 'incomplete' or 'invalid', as Jupyter's is_complete_request wants."""
        lua_lines = [ln for ln in code.splitlines() if not ln.lstrip().startswith("%")]
        if code.lstrip().startswith("%%") or not "".join(lua_lines).strip():
            return "complete"
        return self._check("\n".join(lua_lines).encode()).decode()


    def as_expression(self, code: str) -> str:
        """`return CODE` when CODE is one expression, else CODE unchanged."""
        return self._expression(code.encode()).decode()


def clean_traceback(text: str) -> list[str]:
    """A Lua traceback with the runtime's own frames left out."""
    lines = text.splitlines()
    kept = [ln for ln in lines if not _RUNTIME_FRAME.search(ln)]
    while kept and kept[-1].strip() == "stack traceback:":
        kept.pop()
    return kept
