"""Thinning Lua 5.4 bytecode: drop local-variable names, keep the rest.

`string.dump(f, true)` strips everything a debugger uses, upvalue names and lines
included. inject's `_U`/`_P` need the upvalue names of the runtime's dispatch path, and
error messages want their `file:line`, but nobody reads the names of the runtime's
locals, and every service carries its own copy of them. This rewrites a dump (the format
of Lua 5.4's ldump.c) without that table.
"""

from __future__ import annotations

HEADER_SIZE = 4 + 1 + 1 + 6 + 3 + 8 + 8  # signature, version, format, data, sizes, int, num
_NUMFLT, _NUMINT, _SHRSTR, _LNGSTR = 0x13, 0x03, 0x04, 0x14


class _Reader:
    def __init__(self, data: bytes, pos: int) -> None:
        self.data = data
        self.pos = pos

    def byte(self) -> int:
        b = self.data[self.pos]
        self.pos += 1
        return b

    def size(self) -> int:
        x = 0
        while True:
            b = self.byte()
            x = (x << 7) | (b & 0x7F)
            if b & 0x80:
                return x

    def take(self, n: int) -> bytes:
        out = self.data[self.pos : self.pos + n]
        self.pos += n
        return out

    def string(self) -> bytes | None:
        n = self.size()
        return None if n == 0 else self.take(n - 1)


def _size(x: int) -> bytes:
    groups = [x & 0x7F]
    x >>= 7
    while x:
        groups.append(x & 0x7F)
        x >>= 7
    groups.reverse()
    groups[-1] |= 0x80
    return bytes(groups)


def _string(s: bytes | None) -> bytes:
    return _size(0) if s is None else _size(len(s) + 1) + s


def _function(r: _Reader, out: list[bytes], lines: bool) -> None:
    out.append(_string(r.string()))  # source
    out.append(_size(r.size()) + _size(r.size()))  # linedefined, lastlinedefined
    out.append(r.take(3))  # numparams, is_vararg, maxstacksize
    ncode = r.size()
    out.append(_size(ncode) + r.take(4 * ncode))
    nk = r.size()
    out.append(_size(nk))
    for _ in range(nk):
        tag = r.byte()
        out.append(bytes([tag]))
        if tag in (_NUMFLT, _NUMINT):
            out.append(r.take(8))
        elif tag in (_SHRSTR, _LNGSTR):
            out.append(_string(r.string()))
    nup = r.size()
    out.append(_size(nup) + r.take(3 * nup))
    nprotos = r.size()
    out.append(_size(nprotos))
    for _ in range(nprotos):
        _function(r, out, lines)
    # debug information: locals' names go; upvalue names stay, and lines (for error
    # positions) unless asked to go too
    nline = r.size()
    lineinfo = r.take(nline)
    nabs = r.size()
    abslines = [_size(r.size()) + _size(r.size()) for _ in range(nabs)]
    if lines:
        out.append(_size(nline) + lineinfo)
        out.append(_size(nabs))
        out.extend(abslines)
    else:
        out.append(_size(0) + _size(0))
    for _ in range(r.size()):  # locvars
        r.string()
        r.size()
        r.size()
    out.append(_size(0))
    nnames = r.size()
    out.append(_size(nnames))
    for _ in range(nnames):
        out.append(_string(r.string()))


def thin(dump: bytes, lines: bool = True) -> bytes:
    """The same chunk without its local variables' names (see the module docstring),
    and without line information too when `lines` is false."""
    if dump[:4] != b"\x1bLua" or dump[4] != 0x54:
        raise ValueError("not a Lua 5.4 binary chunk")
    r = _Reader(dump, HEADER_SIZE)
    out = [dump[:HEADER_SIZE], bytes([r.byte()])]  # + the main closure's upvalue count
    _function(r, out, lines)
    if r.pos != len(dump):
        raise ValueError("unexpected bytes after the main function")
    return b"".join(out)
