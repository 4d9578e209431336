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
    """Lua's parser of one version: the node's, since 5.5 accepts code 5.4 refuses
    (`global` declarations) and refuses code 5.4 accepts (assigning a loop variable)."""

    def __init__(self, version: str | None = None) -> None:
        from ..node.luastate import default_version, new_state

        self.version = version or default_version()
        self._lua = new_state(version=self.version, unpack_returned_tuples=False)
        self._check = self._lua.execute(_CHECK)

    def is_complete(self, code: str) -> str:
        """'complete', 'incomplete' or 'invalid', as Jupyter's is_complete_request wants."""
        lua_lines = [ln for ln in code.splitlines() if not ln.lstrip().startswith("%")]
        if code.lstrip().startswith("%%") or not "".join(lua_lines).strip():
            return "complete"
        return self._check("\n".join(lua_lines).encode()).decode()
