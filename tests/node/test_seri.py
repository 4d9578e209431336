"""skynet.seri (in Lua and in C) and skykernel.node.seri (Python) against skynet's lua-seri
bytes."""

from __future__ import annotations

import math
import struct
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:  # the package may not be installed into the venv
    sys.path.insert(0, str(ROOT))

from seri_support import IMPLS, open_seri  # noqa: E402

from skykernel.node import seri as pyseri  # noqa: E402
from skykernel.node.luastate import LuaError, default_version, module  # noqa: E402

LuaRuntime = module().LuaRuntime  # the suite's Lua (SKYKERNEL_LUA), as services run it

DEPTH_ERR = "serialize can't pack too depth table"

OBSERVED = [
    # (Lua expression, Python values, bytes skynet writes)
    ("{1,2,x=3}", ({1: 1, 2: 2, b"x": 3},), bytes.fromhex("160a010a020c780a0300")),
    ("nil,true,false", (None, True, False), bytes.fromhex("000901")),
    ("-1", (-1,), bytes.fromhex("22ffffffff")),
]

BOUNDARY_INTS = [
    (0, "02"),
    (1, "0a01"),
    (255, "0aff"),
    (256, "120001"),
    (65535, "12ffff"),
    (65536, "2200000100"),
    (2**31 - 1, "22ffffff7f"),
    (-(2**31), "2200000080"),
    (2**31, "320000008000000000"),
    (2**63 - 1, "32ffffffffffffff7f"),
    (-(2**63), "320000000000000080"),
    (-2, "22feffffff"),
]


@pytest.fixture(scope="module", params=IMPLS)
def lua(request: pytest.FixtureRequest) -> LuaRuntime:
    """A state whose global `seri` is one implementation: skynet/seri.lua or the C."""
    rt = LuaRuntime(encoding=None, register_eval=False, register_builtins=False)
    rt.globals().seri = open_seri(rt, default_version(), request.param)
    return rt


def lpack(lua: LuaRuntime, expr: str) -> bytes:
    return lua.eval(f"seri.pack({expr})".encode())


def lround(lua: LuaRuntime, expr: str, check: str) -> bool:
    """Pack expr in Lua, unpack it there, and evaluate check on the values `v`."""
    fn = lua.eval(f"function(s) local v = table.pack(seri.unpack(s)); return {check} end".encode())
    return fn(lpack(lua, expr))


def lerror(lua: LuaRuntime, code: str) -> str:
    """The Lua error message, without the traceback lupa appends."""
    with pytest.raises(LuaError) as exc:
        lua.execute(code.encode())
    return str(exc.value).split("\n")[0]


@pytest.mark.parametrize(("expr", "values", "wire"), OBSERVED)
def test_observed_bytes(lua: LuaRuntime, expr: str, values: tuple, wire: bytes) -> None:
    assert lpack(lua, expr) == wire
    assert pyseri.pack(*values) == wire


def test_observed_bytes_unpack(lua: LuaRuntime) -> None:
    assert pyseri.unpack(OBSERVED[0][2]) == ({1: 1, 2: 2, b"x": 3},)
    assert pyseri.unpack(OBSERVED[1][2]) == (None, True, False)
    assert pyseri.unpack(OBSERVED[2][2]) == (-1,)
    digits = lua.eval(b"function(s) local t = seri.unpack(s); return t[1]+t[2]*10+t.x*100 end")
    assert digits(OBSERVED[0][2]) == 321
    assert lua.eval(b"function(s) return select('#', seri.unpack(s)) end")(OBSERVED[1][2]) == 3


@pytest.mark.parametrize(("value", "hexwire"), BOUNDARY_INTS)
def test_integers(lua: LuaRuntime, value: int, hexwire: str) -> None:
    wire = bytes.fromhex(hexwire)
    assert lpack(lua, f"math.tointeger({value})" if value == -(2**63) else str(value)) == wire
    assert pyseri.pack(value) == wire
    assert pyseri.unpack(wire) == (value,)
    check = "math.type(v[1]) == 'integer' and v[1] == math.tointeger(x) and v.n == 1"
    assert lua.eval(
        f"function(s, x) local v = table.pack(seri.unpack(s)); return {check} end".encode()
    )(wire, value)


@pytest.mark.parametrize("value", [0.0, 1.0, -1.5, 3.141592653589793, 1e300, -0.0, math.inf])
def test_floats_stay_floats(lua: LuaRuntime, value: float) -> None:
    wire = b"\x42" + struct.pack("<d", value)
    assert pyseri.pack(value) == wire
    assert pyseri.unpack(wire) == (value,)
    assert type(pyseri.unpack(wire)[0]) is float
    fn = lua.eval(b"function(s) local v = seri.unpack(s); return math.type(v), v end")
    assert fn(wire) == (b"float", value)
    assert lua.eval(b"function(x) return seri.pack(x) end")(value) == wire


def test_float_one_round_trip_in_lua(lua: LuaRuntime) -> None:
    assert lpack(lua, "1.0") == b"\x42" + struct.pack("<d", 1.0)
    assert lround(lua, "1.0, 2^53", "math.type(v[1]) == 'float' and math.type(v[2]) == 'float'")
    assert lround(lua, "0/0", "v[1] ~= v[1]")


@pytest.mark.parametrize(
    ("length", "header"),
    [(0, "04"), (31, "fc"), (32, "152000"), (65535, "15ffff"), (65536, "2500000100")],
)
def test_strings(lua: LuaRuntime, length: int, header: str) -> None:
    s = bytes(range(256)) * (length // 256) + bytes(range(length % 256))
    wire = bytes.fromhex(header) + s
    assert lua.eval(b"function(s) return seri.pack(s) end")(s) == wire
    assert pyseri.pack(s) == wire
    assert pyseri.unpack(wire) == (s,)
    assert lua.eval(b"function(w) return seri.unpack(w) end")(wire) == s


def test_str_packs_as_utf8() -> None:
    assert pyseri.pack("é") == b"\x14\xc3\xa9"


@pytest.mark.parametrize(("n", "header"), [(30, "f6"), (31, "fe0a1f"), (200, "fe0ac8")])
def test_arrays(lua: LuaRuntime, n: int, header: str) -> None:
    items = list(range(1, n + 1))
    wire = bytes.fromhex(header) + pyseri.pack(*items) + b"\x00"
    assert lpack(lua, "{" + ",".join(map(str, items)) + "}") == wire
    assert pyseri.pack(items) == wire
    assert pyseri.pack(tuple(items)) == wire
    assert pyseri.pack(dict(enumerate(items, 1))) == wire
    assert pyseri.unpack(wire) == (items,)
    fn = lua.eval(b"function(w) local t = seri.unpack(w); return #t, t[1], t[#t] end")
    assert fn(wire) == (n, 1, n)


def test_large_array_size_u16(lua: LuaRuntime) -> None:
    wire = lpack(lua, "(function() local t = {} for i = 1, 300 do t[i] = i end return t end)()")
    assert wire[:4] == bytes.fromhex("fe122c01")
    assert pyseri.unpack(wire) == (list(range(1, 301)),)


def test_nested_and_mixed(lua: LuaRuntime) -> None:
    expr = '{id=1, name="abc", list={1,2,3,4,5}, nested={a=1, b=true}}'
    wire = lpack(lua, expr)
    assert len(wire) == 49
    assert pyseri.unpack(wire) == (
        {b"id": 1, b"name": b"abc", b"list": [1, 2, 3, 4, 5], b"nested": {b"a": 1, b"b": True}},
    )
    assert lround(
        lua,
        expr,
        "v[1].id == 1 and v[1].name == 'abc' and #v[1].list == 5 and v[1].list[5] == 5 "
        "and v[1].nested.a == 1 and v[1].nested.b == true",
    )
    mixed = "{1, 'two', 3.5, {}, [10]=10, [-1]=false, [2.5]='f', [0]={x={y={}}}, s=''}"
    assert lround(
        lua,
        mixed,
        "#v[1] == 4 and v[1][2] == 'two' and v[1][3] == 3.5 and next(v[1][4]) == nil "
        "and v[1][10] == 10 and v[1][-1] == false and v[1][2.5] == 'f' "
        "and next(v[1][0].x.y) == nil and v[1].s == ''",
    )
    assert pyseri.unpack(lpack(lua, mixed)) == (
        {
            1: 1,
            2: b"two",
            3: 3.5,
            4: [],
            10: 10,
            -1: False,
            2.5: b"f",
            0: {b"x": {b"y": []}},
            b"s": b"",
        },
    )
    assert lround(lua, "{[true]=1, [false]=0, [1]=true}", "v[1][true] == 1 and v[1][false] == 0")


def test_table_keys_and_multiple_values(lua: LuaRuntime) -> None:
    wire = lpack(lua, "1, nil, {[{}]=1}, nil")
    assert lua.eval(b"function(w) local v = table.pack(seri.unpack(w)); return v.n end")(wire) == 4
    assert wire[-1:] == b"\x00" and wire[:2] == b"\x0a\x01"
    assert lpack(lua, "") == b""
    count = lua.eval(b"function(...) return select('#', seri.unpack(...)) end")
    assert (count(None), count(b"")) == (0, 0)
    assert lua.eval(b"function() return seri.unpack(seri.pack(1, 2), 2) end")() == 1
    meta = "{__index=function() return 9 end, __len=function() return 5 end}"
    assert lpack(lua, f"setmetatable({{1}}, {meta})") == bytes.fromhex("0e0a0100")
    assert lua.eval(b"seri.packstring")(1, b"a") == b"\x0a\x01\x0ca"


@pytest.mark.parametrize(
    "build",
    [
        "for i = 10, 1, -1 do t[i] = i end",  # array slots land in the hash part
        "for i = 1, 10 do t[i] = i end",
        "t.x = 0 for i = 1, 10 do t[i] = i end t.x = nil",
        "for i = 1, 12 do t[i] = i end t[11] = nil t[12] = nil",
    ],
)
def test_array_slots_pack_once(lua: LuaRuntime, build: str) -> None:
    wire = lpack(lua, f"(function() local t = {{}} {build} t.x = 1 return t end)()")
    assert wire == bytes([6 | 10 << 3]) + pyseri.pack(*range(1, 11), b"x", 1) + b"\x00"


def test_shared_references_pack_twice(lua: LuaRuntime) -> None:
    wire = lua.eval(b"function() local s = {1} return seri.pack({s, s}) end")()
    assert wire == bytes.fromhex("16 0e0a0100 0e0a0100 00")
    shared = [1]
    assert pyseri.pack([shared, shared]) == wire


def test_python_to_lua(lua: LuaRuntime) -> None:
    wire = pyseri.pack({"k": [1, 2.0, None, "x"], 5: {"d": -70000}}, b"tail", 2**40)
    check = lua.eval(
        b"function(w) local t, s, n = seri.unpack(w); return t.k[1] == 1"
        b" and math.type(t.k[2]) == 'float' and t.k[3] == nil and t.k[4] == 'x'"
        b" and t[5].d == -70000 and s == 'tail' and n == 2^40 end"
    )
    assert check(wire) is True
    repack = lua.eval(b"function(w) return seri.pack(seri.unpack(w)) end")
    value = ({"k": [1, 2.0, "x"], 5: {"d": -70000}, 1: True}, b"tail", 2**40)
    assert pyseri.unpack(repack(pyseri.pack(*value))) == (
        {1: True, b"k": [1, 2.0, b"x"], 5: {b"d": -70000}},
        b"tail",
        2**40,
    )


def test_python_dict_rules() -> None:
    assert pyseri.pack({}) == b"\x06\x00"
    assert pyseri.pack({2: "a"}) == bytes.fromhex("06 0a02 0c61 00")
    assert pyseri.pack({True: 1}) == bytes.fromhex("06 09 0a01 00")
    assert pyseri.unpack(pyseri.pack({})) == ([],)
    assert pyseri.pack({1: "a", 3: "c"}) == bytes.fromhex("0e 0c61 0a03 0c63 00")
    assert pyseri.unpack(pyseri.pack({1: "a", 3: "c"})) == ({1: b"a", 3: b"c"},)
    assert pyseri.pack({b"x": 3, 2: 2, 1: 1}) == OBSERVED[0][2]
    with pytest.raises(ValueError, match="nil can't be a table key"):
        pyseri.pack({None: 1})


def test_lua_unsupported_types(lua: LuaRuntime) -> None:
    assert lerror(lua, "seri.pack(print)") == "Unsupport type function to serialize"
    assert lerror(lua, "seri.pack({f=function() end})") == "Unsupport type function to serialize"
    assert lerror(lua, "seri.pack(coroutine.create(print))") == "Unsupport type thread to serialize"
    with pytest.raises(LuaError, match="Unsupport type userdata to serialize"):
        lua.eval(b"seri.pack")(object())


def test_python_unsupported_types() -> None:
    with pytest.raises(TypeError, match="^Unsupport type set to serialize$"):
        pyseri.pack({1, 2})
    with pytest.raises(TypeError, match="^Unsupport type function to serialize$"):
        pyseri.pack([lambda: 0])
    with pytest.raises(ValueError, match=str(2**63)):
        pyseri.pack(2**63)
    with pytest.raises(ValueError, match=str(-(2**63) - 1)):
        pyseri.pack(-(2**63) - 1)


def nested_expr(levels: int, inner: str = "1") -> str:
    return "{" * levels + inner + "}" * levels


def test_depth_limit_lua(lua: LuaRuntime) -> None:
    wire = lpack(lua, nested_expr(32))
    assert wire == b"\x0e" * 32 + b"\x0a\x01" + b"\x00" * 32
    assert lerror(lua, f"seri.pack({nested_expr(33)})") == DEPTH_ERR
    # skynet checks depth per packed item, so an empty table one level deeper still packs.
    assert lpack(lua, nested_expr(33, "")) == b"\x0e" * 32 + b"\x06\x00" + b"\x00" * 32
    assert lerror(lua, f"seri.pack({nested_expr(34, '')})") == DEPTH_ERR
    assert lerror(lua, "local t = {} t[1] = t seri.pack(t)") == DEPTH_ERR
    assert lerror(lua, "local t = {} t.me = t seri.pack(t)") == DEPTH_ERR
    # a failed pack leaves the module usable
    assert lpack(lua, "{1,2,x=3}") == OBSERVED[0][2]


PROXY = """(function(levels, leaf)
    -- a chain of proxies, each showing its child through __pairs (as sharedata's do)
    local function proxy(child)
        return setmetatable({}, { __pairs = function() return next, { v = child } end })
    end
    local v = leaf
    for _ = 1, levels do v = proxy(v) end
    return v
end)"""


def test_pairs_packs_what_it_yields(lua: LuaRuntime) -> None:
    """A table with __pairs packs as its pairs (no array part), raw content unseen."""
    expr = 'setmetatable({ hidden = 1 }, { __pairs = function() return next, { a = 1 } end })'
    assert lpack(lua, expr) == bytes.fromhex("060c610a0100")
    assert lround(lua, expr, "v.n == 1 and v[1].a == 1 and v[1].hidden == nil")


def test_pairs_that_fails_leaves_the_module_usable(lua: LuaRuntime) -> None:
    err = lerror(lua, 'seri.pack({ 1, setmetatable({}, { __pairs = function() '
                      'return function() error("broken proxy", 0) end end }) })')
    assert err == "broken proxy"
    assert lpack(lua, "{1,2,x=3}") == OBSERVED[0][2]


def test_pairs_is_held_to_the_depth_limit(lua: LuaRuntime) -> None:
    """Proxies nest as deep as tables may, by the same rule: past the limit a table may
    only be empty, whatever shows its contents."""
    assert lround(lua, f"{PROXY}(32, 1)", "v.n == 1")
    assert lpack(lua, f"{PROXY}(33, nil)") == (bytes.fromhex("060c76") * 32 + b"\x06\x00"
                                                + b"\x00" * 32)
    assert lerror(lua, f"seri.pack({PROXY}(33, 1))") == DEPTH_ERR
    assert lerror(lua, f"seri.pack({PROXY}(1000, 1))") == DEPTH_ERR


def test_depth_limit_python(lua: LuaRuntime) -> None:
    v: list = [1]
    for _ in range(31):
        v = [v]
    assert pyseri.pack(v) == lpack(lua, nested_expr(32))
    assert pyseri.unpack(pyseri.pack(v)) == (v,)
    with pytest.raises(ValueError, match="^serialize can't pack too depth table$"):
        pyseri.pack([v])
    cycle: list = []
    cycle.append(cycle)
    with pytest.raises(ValueError, match="^serialize can't pack too depth table$"):
        pyseri.pack(cycle)
    d: dict = {}
    d["me"] = d
    with pytest.raises(ValueError, match="^serialize can't pack too depth table$"):
        pyseri.pack(d)


BAD_STREAMS = [
    b"\x0a",  # u8 without its byte
    b"\x12\x01",  # u16 cut short
    b"\x22\x01\x02",  # int32 cut short
    b"\x42\x00\x00\x00",  # double cut short
    b"\x1c" + b"ab",  # short string of 3 with 2 bytes
    b"\x15\x40",  # long string length cut short
    b"\x15\x40\x00abc",  # long string body cut short
    b"\x16\x0a\x01",  # table without its second item and end
    b"\x06\x0c\x61",  # hash key without value or end
    b"\x07",  # type 7 does not exist
    b"\x3a",  # number cookie 7 does not exist
    b"\xfe\x42" + bytes(8),  # array size must be an integer
    b"\x1d\x00",  # long string cookie 3 does not exist
]


@pytest.mark.parametrize("wire", BAD_STREAMS)
def test_invalid_streams(lua: LuaRuntime, wire: bytes) -> None:
    with pytest.raises(ValueError, match="^Invalid serialize stream"):
        pyseri.unpack(wire)
    with pytest.raises(LuaError, match="^Invalid serialize stream"):
        lua.eval(b"seri.unpack")(wire)


def unpack_depth_err(byte: int) -> str:
    return f"Invalid serialize stream (too depth table at byte {byte})"


def both_refuse(lua: LuaRuntime, wire: bytes) -> str:
    """Unpack wire in Lua and in Python; both must fail with the same message."""
    with pytest.raises(ValueError) as py:
        pyseri.unpack(wire)
    with pytest.raises(LuaError) as lu:
        lua.eval(b"seri.unpack")(wire)
    assert str(lu.value).split("\n")[0] == str(py.value)
    return str(py.value)


def test_unpack_depth_at_the_limit(lua: LuaRuntime) -> None:
    """What pack writes at the limit unpacks in both and packs again to the same bytes."""
    relua = lua.eval(b"function(w) return seri.pack(seri.unpack(w)) end")
    for expr in (nested_expr(32), nested_expr(33, ""), nested_expr(31, "{}, {x={}, y=2}")):
        wire = lpack(lua, expr)
        assert relua(wire) == wire
        assert pyseri.pack(*pyseri.unpack(wire)) == wire
    level = lua.eval(b"function(w) local t, n = seri.unpack(w), 0 "
                     b"while type(t) == 'table' do n = n + 1 t = t[1] end return n, t end")
    assert level(lpack(lua, nested_expr(32))) == (32, 1)
    assert level(lpack(lua, nested_expr(33, ""))) == (33, None)


def test_unpack_depth_one_over(lua: LuaRuntime) -> None:
    """One level more than pack can write fails in both unpackers, with one message."""
    assert both_refuse(lua, b"\x0e" * 33 + b"\x0a\x01" + b"\x00" * 33) == unpack_depth_err(33)
    assert both_refuse(lua, b"\x0e" * 33 + b"\x06\x00" + b"\x00" * 33) == unpack_depth_err(33)
    # the 33rd table holding only a hash pair, or a nil-typed end byte with a cookie
    assert both_refuse(lua, b"\x0e" * 32 + b"\x06\x0cx\x02\x00" + b"\x00" * 32) == (
        unpack_depth_err(33))
    assert pyseri.unpack(b"\x0e" * 32 + b"\x06\x08" + b"\x00" * 32) == pyseri.unpack(
        lpack(lua, nested_expr(33, "")))


@pytest.mark.parametrize(
    ("level", "header_bytes"),
    [
        (b"\x0e", 1),  # each table the array item of the one before
        (b"\x06", 1),  # each table the first hash key of the one before
        (b"\x06\x0cx", 3),  # each table the value of key "x"
        (b"\xfe\x0a\x01", 3),  # array size in the extended form
    ],
)
def test_deep_crafted_stream_is_refused(lua: LuaRuntime, level: bytes, header_bytes: int) -> None:
    """A stream nested far deeper than the limit fails at the 33rd table, no crash, no
    recursion into the rest (real skynet crashes on 200,000 levels)."""
    expected = unpack_depth_err(1 + 32 * header_bytes)
    assert both_refuse(lua, level * 1_000_000) == expected
    assert both_refuse(lua, level * 1_000_000 + b"\x00" * 1_000_001) == expected
    assert lpack(lua, "{1,2,x=3}") == OBSERVED[0][2]
    assert pyseri.unpack(OBSERVED[0][2]) == ({1: 1, 2: 2, b"x": 3},)


def test_keys_python_cannot_keep_apart(lua: LuaRuntime) -> None:
    """Lua keeps true apart from 1 (and false from 0); a dict would merge them and lose
    a value, so Python refuses such a table instead, in any order of the keys."""
    for expr in ("{[true]=1, [1]=true}", "{'a', [true]='t'}", "{[false]='f', [0]='z'}",
                 "{[0]='z', [false]='f', x=1}"):
        with pytest.raises(ValueError, match="are one key in Python$"):
            pyseri.unpack(lpack(lua, expr))
    crafted = bytes.fromhex("06 09 0c61 0a01 0c62 00")  # true="a", 1="b", hash part only
    with pytest.raises(ValueError, match="^table keys 1 and True are one key in Python$"):
        pyseri.unpack(crafted)
    assert pyseri.unpack(lpack(lua, "{[true]=1, [false]=0, [2]=2}")) == (
        {True: 1, False: 0, 2: 2},)
    assert pyseri.unpack(lpack(lua, "{[1.5]=1, [0.5]=0}")) == ({1.5: 1, 0.5: 0},)


def test_nan_key_is_refused(lua: LuaRuntime) -> None:
    """No Lua table holds a NaN key: both unpackers refuse one with the same message,
    and Python's pack refuses to write one (it did, and no Lua could read it back)."""
    wire = b"\x06\x0ca\x02" + b"\x42" + struct.pack("<d", math.nan) + b"\x0a\x01\x00"
    assert both_refuse(lua, wire) == "Invalid serialize stream (table index is NaN at byte 5)"
    with pytest.raises(ValueError, match="^table index is NaN$"):
        pyseri.pack({math.nan: 1})
    assert pyseri.unpack(pyseri.pack({b"v": math.nan}))[0][b"v"] != 0  # a NaN value is fine


def test_integral_float_keys_pack_as_lua_does(lua: LuaRuntime) -> None:
    """Lua turns an integral float key into an integer; Python's pack now does the same,
    so the bytes match (it wrote a float key before)."""
    assert pyseri.pack({0.0: True}) == lpack(lua, "{[0.0]=true}") == bytes.fromhex("06020900")
    assert pyseri.pack({1.0: b"a", 2.0: b"b"}) == lpack(lua, "{[1.0]='a', [2.0]='b'}") == (
        pyseri.pack([b"a", b"b"]))
    assert pyseri.pack({-0.0: 1}) == lpack(lua, "{[-0.0]=1}")
    assert pyseri.pack({2.5: 1}) == lpack(lua, "{[2.5]=1}")
    assert pyseri.pack({1e300: 1}) == lpack(lua, "{[1e300]=1}")
    assert pyseri.pack({2.0**63: 1}) == lpack(lua, "{[2^63]=1}")  # no int64: stays a float


def test_unpack_size_argument(lua: LuaRuntime) -> None:
    """unpack(msg, sz) reads the first sz bytes; sz <= 0 is no bytes (a negative sz read
    the stream counted from its end, as string.sub does)."""
    wire = pyseri.pack(1, 2, 3)
    count = lua.eval(b"function(w, sz) return select('#', seri.unpack(w, sz)) end")
    assert [count(wire, sz) for sz in (-2, -1, 0, 2, 4, 6, 99)] == [0, 0, 0, 1, 2, 3, 3]


DEPTH_PROGRAM = r"""
local skynet = require "skynet"
local function nested(levels, inner)
    local t = inner
    for _ = 1, levels do t = { t } end
    return t
end
local function hex(s)
    return (s:gsub(".", function(c) return string.format("%02x", c:byte()) end))
end
local function try(name, f, ...)
    local ok, r = pcall(f, ...)
    skynet.error(name, ok and hex(r) or r)
end
skynet.start(function()
    try("pack32", skynet.packstring, nested(32, 1))
    try("pack33", skynet.packstring, nested(33, 1))
    try("pack33empty", skynet.packstring, nested(32, {}))
    try("pack34empty", skynet.packstring, nested(33, {}))
    local cycle = {}
    cycle[1] = cycle
    try("packcycle", skynet.packstring, cycle)
    local deep = string.rep("\14", 1000) .. "\10\1" .. string.rep("\0", 1000)
    local ok, t = pcall(skynet.unpack, deep)
    local n = 0
    while ok and type(t) == "table" do n = n + 1 t = t[1] end
    skynet.error("unpack1000", ok, n, t)
    skynet.error("END")
end)
"""


def test_depth_limit_matches_real_skynet(lua: LuaRuntime, tree, real_skynet: str) -> None:
    """Pack fails where real skynet's fails, with its message; unpack is where we differ
    (docs/differences.md): real skynet unpacks streams its own pack never writes."""
    import realskynet

    tree.write({"service/main.lua": DEPTH_PROGRAM})
    config = realskynet.write_config(tree.root)
    real = dict(ln.split(" ", 1) for ln in realskynet.run(config, real_skynet, cwd=tree.root)
                if ln.startswith(("pack", "unpack")))
    assert real["pack32"] == lpack(lua, nested_expr(32)).hex()
    assert real["pack33empty"] == lpack(lua, nested_expr(33, "")).hex()
    for name, expr in (("pack33", nested_expr(33)), ("pack34empty", nested_expr(34, "")),
                       ("packcycle", "(function() local t = {} t[1] = t return t end)()")):
        assert real[name] == DEPTH_ERR == lerror(lua, f"seri.pack({expr})")
    assert real["unpack1000"] == "true 1000 1"
    assert both_refuse(lua, b"\x0e" * 1000 + b"\x0a\x01" + b"\x00" * 1000) == (
        unpack_depth_err(33))


def test_truncating_any_pack_fails(lua: LuaRuntime) -> None:
    expr = '{id=1, name="abc", list={1,2,3,4,5}, nested={a=1, b=true}, f=2^40, s=("x"):rep(40)}'
    wire = lpack(lua, expr)
    unpack = lua.eval(b"seri.unpack")
    for cut in range(1, len(wire)):
        with pytest.raises(LuaError, match="^Invalid serialize stream"):
            unpack(wire[:cut])
        with pytest.raises(LuaError, match="^Invalid serialize stream"):
            unpack(wire, cut)
        with pytest.raises(ValueError, match="^Invalid serialize stream"):
            pyseri.unpack(wire[:cut])


def test_lightuserdata_unpacks(lua: LuaRuntime) -> None:
    wire = b"\x03" + struct.pack("<q", 0x1234)
    assert pyseri.unpack(wire) == (0x1234,)
    assert lua.eval(b"seri.unpack")(wire) == 0x1234
