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

# Frames that belong to the runtime, not to the user's code. Lua 5.4 names a C function
# by its global name ("in function 'xpcall'"), 5.5 by how it was called ("in upvalue
# 'xpcall'", "in global 'error'").
_RUNTIME_FRAME = re.compile(
    r"runtime/lualib/(skynet|skykernel|loader)|^\s*\[C\]: in (\w+ '(xpcall|pcall|error)'|\?)"
    r"|^\s*\(\.\.\.tail calls\.\.\.\)"
)


class LuaSyntax:
    """Lua's parser of one version: the node's, since 5.5 accepts code 5.4 refuses
    (`global` declarations) and refuses code 5.4 accepts (assigning a loop variable)."""

    def __init__(self, version: str | None = None) -> None:
        from ..node.luastate import default_version, new_state

        self.version = version or default_version()
        self._lua = new_state(version=self.version, unpack_returned_tuples=False)
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
