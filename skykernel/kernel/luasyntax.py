"""Whether a cell is complete Lua, answered without the node.

Completeness is judged by Lua's own parser in a private state: an error that ends at
`<eof>` means "keep typing", any other error means "run it and show the error". (Whether
a cell is an expression is the node's business: the notebook's RUN tries `return CELL`
first.)
"""

from __future__ import annotations

_CHECK = b"""
return function(code)
    local f, err = load(code, "=cell")
    if f then return "complete" end
    f = load("return " .. code, "=cell")
    if f then return "complete" end
    if err:find("<eof>$") then return "incomplete" end
    return "invalid"
end
"""


class LuaSyntax:
    def __init__(self) -> None:
        from ..node.luastate import new_state

        self._lua = new_state(unpack_returned_tuples=False)
        self._check = self._lua.execute(_CHECK)

    def is_complete(self, code: str) -> str:
        """'complete', 'incomplete' or 'invalid', as Jupyter's is_complete_request wants."""
        lua_lines = [ln for ln in code.splitlines() if not ln.lstrip().startswith("%")]
        if code.lstrip().startswith("%%") or not "".join(lua_lines).strip():
            return "complete"
        return self._check("\n".join(lua_lines).encode()).decode()
