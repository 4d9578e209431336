"""skykernel.luatext, the one place Python writes Lua: every literal read back by a real
Lua 5.4 and 5.5 state equals what was written, inlined modules load without the
runtime's files, and tracebacks lose the machinery's frames, not the user's."""

from __future__ import annotations

import math

import pytest
from lupa import lua54, lua55

from skykernel import luatext
from skykernel.luatext import (
    clean_traceback,
    inline_key,
    long_string,
    lua_literal,
    lua_string,
    preload,
)

TEXTS = ["", "plain", 'quote " and \\ backslash', "line\nbreak\r\nand\rCR", "\x00\x01\x7f",
         "ü ß 日本", "]]", "]=]", "a]", "a]=", "[[x]]", "\\ddd 123 \\0"]


@pytest.fixture(params=["lua54", "lua55"])
def lua(request: pytest.FixtureRequest):
    module = {"lua54": lua54, "lua55": lua55}[request.param]
    return module.LuaRuntime(unpack_returned_tuples=True, encoding=None)


def _text(value: object) -> str:
    return value.decode("utf-8") if isinstance(value, bytes) else str(value)


@pytest.mark.parametrize("text", TEXTS)
def test_a_string_literal_is_exact(lua, text: str) -> None:
    assert _text(lua.eval(lua_string(text))) == text
    assert lua.eval(lua_string(text.encode() + b"\xff")) == text.encode() + b"\xff"


@pytest.mark.parametrize("text", TEXTS)
def test_a_long_string_never_closes_early(lua, text: str) -> None:
    written = long_string(text)
    assert written.startswith("[") and written.endswith("]")
    # Lua reads line ends in a long bracket as \n: the rest comes back as written
    assert _text(lua.eval(written)) == text.replace("\r\n", "\n").replace("\r", "\n")


def test_literals_of_plain_data(lua) -> None:
    check = lua.eval("function(t) return t.n, t.f, t.s, t[1], t[2], t.big, t.small, #t.list end")
    value = {"n": 7, "f": 0.5, "s": "x", 1: True, 2: None, "big": 2 ** 63 - 1,
             "small": -(2 ** 63), "list": ["a", 1, [2]]}
    n, f, s, one, two, big, small, length = check(lua.eval(lua_literal(value)))
    assert (n, f, s, one, two, big, small, length) == (7, 0.5, b"x", True, None, 2 ** 63 - 1,
                                                        -(2 ** 63), 3)
    assert lua.eval(lua_literal(math.inf)) == math.inf
    assert lua.eval(lua_literal(-math.inf)) == -math.inf
    assert math.isnan(lua.eval(lua_literal(math.nan)))
    assert lua.eval(lua_literal(1e300)) == 1e300
    with pytest.raises(ValueError, match="does not fit"):
        lua_literal(2 ** 63)
    with pytest.raises(TypeError, match="no Lua literal for object"):
        lua_literal(object())


def test_an_inlined_module_loads_with_its_skykernel_dependencies(lua) -> None:
    # a bare state: no package path to the runtime, so only the inlined text can load
    lua.execute("package.path = '' package.cpath = ''")
    chunk = preload(["skykernel.complete"]) + (
        f"local c = {luatext.require('skykernel.complete', inline=True)}\n"
        "return c.describe({answer = {1, 2}}, 'answer')")
    assert b"answer : table" in lua.execute(chunk)
    assert lua.eval("package.loaded['skykernel.pretty'] ~= nil")  # required by complete
    again = preload(["skykernel.complete"]) + "return package.preload['skykernel.complete']"
    assert lua.execute(again) is not None  # a second chunk leaves the loaded one alone


def test_modules_whose_names_are_skynets_own_ride_under_our_key() -> None:
    assert inline_key("snax.hotfix") == "skykernel.snax.hotfix"
    assert inline_key("skykernel.reload") == "skykernel.reload"
    head = preload(["snax.hotfix"])
    assert '"skykernel.snax.hotfix"' in head and '"skykernel.upvalue_index"' in head
    assert head.index("upvalue_index") < head.index("snax.hotfix")  # dependencies first
    assert luatext.require("snax.hotfix", inline=False) == 'require("snax.hotfix")'


def test_clean_traceback_keeps_the_users_frames() -> None:
    for xpcall in ("in function 'xpcall'", "in upvalue 'xpcall'"):  # Lua 5.4, 5.5
        text = ("cell[2]:3: boom\nstack traceback:\n\t[C]: in function 'error'\n"
                "\tcell[2]:3: in function 'f'\n"
                "\t/x/runtime/lualib/skynet.lua:10: in function 'skynet.call'\n"
                "\tcell[2]:5: in main chunk\n"
                f"\t[C]: {xpcall}\n\tskynet/inject.lua:140: in function 'run'")
        assert clean_traceback(text) == ["cell[2]:3: boom", "stack traceback:",
                                         "\tcell[2]:3: in function 'f'",
                                         "\tcell[2]:5: in main chunk"]
    assert clean_traceback("cell:1: syntax error near 'x'") == ["cell:1: syntax error near 'x'"]
