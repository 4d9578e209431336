"""A notebook cell as a plain skynet `inject`: the cell wrapped in a chunk that only prints.

skynet's debug RUN captures `print` and nothing else, so everything the notebook wants back
(returned values, the error apart from the output) is printed after a marker line that
carries a random nonce; `read_output` splits it off again. The wrapper also keeps the
cell's globals in an environment that survives between cells (kept in the target's
registry under a session key), prints nils as the local kernel does, and escapes printed
lines that would look like the console's own `<CMD OK>` end marker.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass, field

REGISTRY_KEY = "skykernel.remote.sessions"

_WRAPPER = r"""-- skykernel remote cell (a plain inject: only print comes back)
local __src = [%(eq)s[
%(src)s]%(eq)s]
local __name, __key, __mark, __reset = %(name)s, %(key)s, %(mark)s, %(reset)s
local __print, __U, __P = print, _U, _P
local function __out(s)
  s = ("\n" .. s):gsub("\n(\\*<CMD )", "\n\\%%1")
  __print(s:sub(2))
end
local __mt = getmetatable(_ENV)
local __base = (__mt and __mt.__index) or _ENV
local __reg = debug.getregistry()
local __S = __reg[%(registry)s] or {}
__reg[%(registry)s] = __S
local __env = __S[__key]
if __reset or not __env then
  __env = setmetatable({}, { __index = __base })
  __S[__key] = __env
end
__env.print = function(...)
  local n, t = select("#", ...), {}
  for i = 1, n do t[i] = tostring((select(i, ...))) end
  __out(table.concat(t, "\t"))
end
__env._U, __env._P = __U, __P
local function __render(v, depth, seen)
  local tv = type(v)
  if tv == "string" then return string.format("%%q", v) end
  if tv ~= "table" then return tostring(v) end
  local mt = getmetatable(v)
  if type(mt) == "table" and mt.__tostring then return tostring(v) end
  if seen[v] then return "<cycle: " .. tostring(v) .. ">" end
  if depth > 3 then return tostring(v) end
  seen[v] = true
  local parts, count, n = {}, 0, #v
  for i = 1, n do
    count = count + 1
    if count > 40 then parts[#parts + 1] = "..." break end
    parts[#parts + 1] = __render(v[i], depth + 1, seen)
  end
  local keys = {}
  for k in next, v do
    if not (math.type(k) == "integer" and k >= 1 and k <= n) then keys[#keys + 1] = k end
  end
  table.sort(keys, function(a, b) return tostring(a) < tostring(b) end)
  for _, k in ipairs(keys) do
    count = count + 1
    if count > 40 then parts[#parts + 1] = "..." break end
    local ks = (type(k) == "string" and k:match("^[%%a_][%%w_]*$")) and k
      or ("[" .. __render(k, depth + 1, seen) .. "]")
    parts[#parts + 1] = ks .. " = " .. __render(v[k], depth + 1, seen)
  end
  seen[v] = nil
  if #parts == 0 then return "{}" end
  return "{ " .. table.concat(parts, ", ") .. " }"
end
local f, err = load("return " .. __src, __name, "t", __env)
if not f then f, err = load(__src, __name, "t", __env) end
if not f then
  __print(__mark .. " error")
  __out(tostring(err))
  return
end
local r = table.pack(xpcall(f, function(e) return debug.traceback(tostring(e), 2) end))
if not r[1] then
  __print(__mark .. " error")
  __out(tostring(r[2]))
  return
end
if r.n > 1 then
  local vals = {}
  for i = 2, r.n do vals[#vals + 1] = __render(r[i], 1, {}) end
  __print(__mark .. " values")
  __out(table.concat(vals, "\t"))
end
"""


@dataclass(frozen=True)
class CellResult:
    ok: bool
    output: str
    error: str | None = None
    values: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class WrappedCell:
    chunk: str
    marker: str


def _lua_string(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def wrap(source: str, *, session: str, name: str = "cell", reset: bool = False
         ) -> WrappedCell:
    """The chunk to write to a file for `inject ADDR FILE`."""
    level = 0
    while f"]{'=' * level}]" in source:
        level += 1
    marker = f"--skykernel-{secrets.token_hex(6)}--"
    chunk = _WRAPPER % {
        "eq": "=" * level, "src": source, "name": _lua_string(f"={name}"),
        "key": _lua_string(session), "mark": _lua_string(marker),
        "reset": "true" if reset else "false", "registry": _lua_string(REGISTRY_KEY),
    }
    return WrappedCell(chunk, marker)


_ESCAPED = re.compile(r"^\\(\\*<CMD )", re.M)
# xpcall's frame: "in function 'xpcall'" in Lua 5.4 (skynet 1.8), "in global" in 5.5 (master)
_MACHINERY = re.compile(r"\[C\]: in \w+ 'xpcall'|\(\.\.\.tail calls\.\.\.\)")


def _unescape(text: str) -> str:
    return _ESCAPED.sub(r"\1", text)


def clean_traceback(error: str) -> str:
    """Cut the traceback where the wrapper's xpcall starts (the rest is inject machinery)."""
    lines = error.split("\n")
    for i, line in enumerate(lines):
        if _MACHINERY.search(line):
            lines = lines[:i]
            break
    if lines and lines[-1].strip() == "stack traceback:":
        lines.pop()
    return "\n".join(lines)


def read_output(text: str, marker: str) -> CellResult:
    """Split what the wrapped cell printed into output, error and values."""
    lines = text.split("\n")
    for i in range(len(lines) - 1, -1, -1):
        if lines[i].startswith(marker + " "):
            kind = lines[i][len(marker) + 1:]
            output = _unescape("\n".join(lines[:i]))
            rest = _unescape("\n".join(lines[i + 1:]))
            if kind == "error":
                return CellResult(False, output, clean_traceback(rest))
            return CellResult(True, output, None, rest.split("\t") if rest else [])
    return CellResult(True, _unescape(text))
