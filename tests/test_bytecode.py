"""Thinned bytecode: the runtime's chunks lose their locals' names and nothing else."""

from __future__ import annotations

import pytest
from lupa import lua54

from skykernel.node.bytecode import thin
from skykernel.node.codecache import CodeCache

SOURCE = b"""
local counter = 0
local names = { "a", "b" }
local function bump(step)
    local before = counter
    counter = counter + step
    return before, counter, 3.5, "text", nil, true, false, 2^40
end
return function(step)
    local inner = function() return names[1] end
    return bump(step), inner(), debug.getinfo(1, "l").currentline
end
"""


def load(code: bytes):
    lua = lua54.LuaRuntime(encoding=None)
    return lua, lua.globals().load(code, b"=chunk", b"b")


def test_thinned_chunk_runs_the_same_and_keeps_lines_and_upvalue_names():
    full = CodeCache().compile(SOURCE, "./probe.lua")
    thinned = thin(full)
    assert len(thinned) < len(full)
    results = []
    for code in (full, thinned):
        lua, chunk = load(code)
        f = chunk()
        results.append(tuple(f(2)))
        upvalue_names = lua.eval(b"function(f) local t = {} local i = 1 while true do "
                                 b"local n = debug.getupvalue(f, i) if not n then break end "
                                 b"t[#t + 1] = n i = i + 1 end return table.concat(t, ' ') end")
        assert upvalue_names(f) == b"names bump _ENV"
        source = lua.eval(b"function(f) local i = debug.getinfo(f, 'S') "
                          b"return i.short_src, i.linedefined end")(f)
        assert source == (b"./probe.lua", 9)
    assert results[0] == results[1]
    assert results[1][-1] == 11  # the current line survives: error positions keep working


def test_thinned_chunk_has_no_local_names():
    full = CodeCache().compile(SOURCE, "./probe.lua")
    for code, expected in ((full, b"step"), (thin(full), None)):
        lua, chunk = load(code)
        first_param = lua.eval(b"function(f) return debug.getlocal(f, 1) end")
        assert first_param(chunk()) == expected


def test_not_a_lua54_chunk_is_refused():
    with pytest.raises(ValueError, match="not a Lua 5.4 binary chunk"):
        thin(b"local x = 1")
