"""Thinned bytecode: the runtime's chunks lose their locals' names and nothing else, in
both Lua versions' dump formats."""

from __future__ import annotations

import pytest

from skykernel.node import luastate
from skykernel.node.bytecode import thin, version
from skykernel.node.codecache import CodeCache

SOURCE = b"""
local counter = 0
local names = { "a", "b" }
local function bump(step)
    local before = counter
    counter = counter + step
    return before, counter, 3.5, "text", nil, true, false, 2^40, -7, 1 << 40, math.mininteger
end
return function(step)
    local inner = function() return names[1] end
    return inner(), debug.getinfo(1, "l").currentline, bump(step)
end
"""

VERSIONS = pytest.mark.parametrize("lua", luastate.VERSIONS)


def load(code: bytes, lua_version: str):
    lua = luastate.module(lua_version).LuaRuntime(encoding=None)
    return lua, lua.globals().load(code, b"=chunk", b"b")


@VERSIONS
def test_thinned_chunk_runs_the_same_and_keeps_lines_and_upvalue_names(lua: str):
    full = CodeCache(lua=lua).compile(SOURCE, "./probe.lua")
    assert version(full) == lua
    thinned = thin(full)
    assert len(thinned) < len(full)
    results = []
    for code in (full, thinned):
        state, chunk = load(code, lua)
        f = chunk()
        results.append(tuple(f(2)))
        upvalue_names = state.eval(b"function(f) local t = {} local i = 1 while true do "
                                   b"local n = debug.getupvalue(f, i) if not n then break end "
                                   b"t[#t + 1] = n i = i + 1 end return table.concat(t, ' ') end")
        assert upvalue_names(f) == b"names _ENV bump"
        source = state.eval(b"function(f) local i = debug.getinfo(f, 'S') "
                            b"return i.short_src, i.linedefined end")(f)
        assert source == (b"./probe.lua", 9)
    assert results[0] == results[1]
    # the current line survives (error positions keep working), constants are intact
    assert results[1] == (b"a", 11, 0, 2, 3.5, b"text", None, True, False, 2.0**40, -7,
                          1 << 40, -(1 << 63))


@VERSIONS
def test_thinned_chunk_has_no_local_names(lua: str):
    full = CodeCache(lua=lua).compile(SOURCE, "./probe.lua")
    for code, expected in ((full, b"step"), (thin(full), None)):
        state, chunk = load(code, lua)
        first_param = state.eval(b"function(f) return debug.getlocal(f, 1) end")
        assert first_param(chunk()) == expected


@VERSIONS
def test_without_lines_errors_have_no_position(lua: str):
    full = CodeCache(lua=lua).compile(b"local x = ...\nreturn function() error('boom') end",
                                      "./probe.lua")
    errors = []
    for code in (thin(full), thin(full, lines=False)):
        state, chunk = load(code, lua)
        errors.append(state.eval(b"function(f) return pcall(f) end")(chunk(1)))
    assert errors == [(False, b"./probe.lua:2: boom"), (False, b"boom")]


@VERSIONS
def test_every_runtime_file_thins_to_the_same_program(lua: str):
    """A string first written as a local's name and used again later, long strings,
    padding that moves: the runtime's own files exercise what a small probe may not.
    Lua's own dump of the loaded thin chunk is the thin chunk again (so the rewrite
    writes what Lua writes), and stripped of all debug information it is the full
    chunk's (so code, constants and nesting are untouched)."""
    from skykernel.node.node import RUNTIME_DIR

    cache = CodeCache(lua=lua)
    state = luastate.module(lua).LuaRuntime(encoding=None)
    redump = state.eval(b"function(code, strip) return string.dump(load(code, '=x', 'b'), "
                        b"strip) end")
    files = sorted(RUNTIME_DIR.rglob("*.lua"))
    assert len(files) > 20
    for path in files:
        full = cache.compile(path.read_bytes(), str(path))
        for lines in (True, False):
            thinned = thin(full, lines)
            assert redump(thinned, False) == thinned, path
            assert redump(thinned, True) == redump(full, True), path


def test_a_dump_of_the_other_version_is_told_apart():
    dumps = {v: CodeCache(lua=v).compile(b"return 1", "x.lua") for v in luastate.VERSIONS}
    assert {v: version(d) for v, d in dumps.items()} == {v: v for v in luastate.VERSIONS}
    for lua, other in (("5.4", "5.5"), ("5.5", "5.4")):
        _, (chunk, err) = load(dumps[other], lua)
        assert chunk is None and b"version mismatch" in err


def test_not_a_lua_chunk_is_refused():
    with pytest.raises(ValueError, match="not a Lua 5.4 or 5.5 binary chunk"):
        thin(b"local x = 1")
    with pytest.raises(ValueError, match="not a Lua 5.4 or 5.5 binary chunk"):
        thin(b"\x1bLua\x53" + bytes(40))
