"""Thinning Lua bytecode (5.4 and 5.5): drop local-variable names, keep the rest.

`string.dump(f, true)` strips everything a debugger uses, upvalue names and lines
included. inject's `_U`/`_P` need the upvalue names of the runtime's dispatch path, and
error messages want their `file:line`, but nobody reads the names of the runtime's
locals, and every service carries its own copy of them. This rewrites a dump without
that table.

The two versions' dumps (ldump.c) carry the same information in different layouts:

- 5.4 writes sizes as varints whose *last* byte has the high bit set, integer constants
  as 8 raw bytes, every string in full, and a function's source before its code.
- 5.5 writes varints whose *other* bytes have the high bit set, integer constants as
  zigzag varints, and a string it already wrote as a back reference (its number in the
  order strings were first written); the source comes after the nested functions, and
  the code and absolute line arrays are padded to 4-byte offsets from the dump's start.

So a 5.5 rewrite cannot copy string bytes or padding through: dropping a local's name
renumbers every string written after it (and one first written as a local's name must
be written in full where it next appears), and every byte dropped moves the padding.
It reads each string to its value and writes the output's own string table and padding.
"""

from __future__ import annotations

_NUMFLT, _NUMINT, _SHRSTR, _LNGSTR = 0x13, 0x03, 0x04, 0x14
_SIGNATURE = b"\x1bLua"

# signature, version, format, LUAC_DATA, then the sizes and check values of the types
HEADER_54 = 4 + 1 + 1 + 6 + 3 + 8 + 8  # sizes of int/Instruction/number (3), int, number
HEADER_55 = 4 + 1 + 1 + 6 + (1 + 4) + (1 + 4) + (1 + 8) + (1 + 8)  # size + value, each


class _Rewrite:
    """One pass over a dump: reads the input, appends the thinned copy to `out`."""

    def __init__(self, data: bytes, header: int) -> None:
        self.data = data
        self.pos = header
        self.out = bytearray(data[:header])

    def byte(self) -> int:
        b = self.data[self.pos]
        self.pos += 1
        return b

    def take(self, n: int) -> bytes:
        if self.pos + n > len(self.data):
            raise ValueError("truncated Lua binary chunk")
        out = self.data[self.pos : self.pos + n]
        self.pos += n
        return out

    def copy(self, n: int) -> None:
        self.out += self.take(n)

    def finish(self) -> bytes:
        if self.pos != len(self.data):
            raise ValueError("unexpected bytes after the main function")
        return bytes(self.out)


class _Rewrite54(_Rewrite):
    def size(self) -> int:
        x = 0
        while True:
            b = self.byte()
            x = (x << 7) | (b & 0x7F)
            if b & 0x80:
                return x

    def put_size(self, x: int) -> None:
        groups = [x & 0x7F]
        x >>= 7
        while x:
            groups.append(x & 0x7F)
            x >>= 7
        groups.reverse()
        groups[-1] |= 0x80
        self.out += bytes(groups)

    def copy_size(self) -> int:
        n = self.size()
        self.put_size(n)
        return n

    def string(self) -> bytes | None:
        n = self.size()
        return None if n == 0 else self.take(n - 1)

    def put_string(self, s: bytes | None) -> None:
        if s is None:
            self.put_size(0)
        else:
            self.put_size(len(s) + 1)
            self.out += s

    def function(self, lines: bool) -> None:
        self.put_string(self.string())  # source
        self.copy_size()  # linedefined
        self.copy_size()  # lastlinedefined
        self.copy(3)  # numparams, is_vararg, maxstacksize
        self.copy(4 * self.copy_size())  # code
        for _ in range(self.copy_size()):  # constants
            tag = self.byte()
            self.out.append(tag)
            if tag in (_NUMFLT, _NUMINT):
                self.copy(8)
            elif tag in (_SHRSTR, _LNGSTR):
                self.put_string(self.string())
        self.copy(3 * self.copy_size())  # upvalues: instack, idx, kind
        for _ in range(self.copy_size()):  # nested functions
            self.function(lines)
        self.debug(lines)

    def debug(self, lines: bool) -> None:
        """Locals' names go; upvalue names stay, and lines (for error positions) unless
        asked to go too."""
        lineinfo = self.take(self.size())
        abslines = [(self.size(), self.size()) for _ in range(self.size())]
        if lines:
            self.put_size(len(lineinfo))
            self.out += lineinfo
            self.put_size(len(abslines))
            for pc, line in abslines:
                self.put_size(pc)
                self.put_size(line)
        else:
            self.put_size(0)
            self.put_size(0)
        for _ in range(self.size()):  # locvars: name, startpc, endpc
            self.string()
            self.size()
            self.size()
        self.put_size(0)
        for _ in range(self.copy_size()):  # upvalue names
            self.put_string(self.string())


class _Rewrite55(_Rewrite):
    def __init__(self, data: bytes, header: int) -> None:
        super().__init__(data, header)
        self.read_strings: list[bytes] = []  # the input's back references, from 1
        self.written: dict[bytes, int] = {}  # the output's, string -> its number

    def size(self) -> int:
        x = 0
        while True:
            b = self.byte()
            x = (x << 7) | (b & 0x7F)
            if not b & 0x80:
                return x

    def put_size(self, x: int) -> None:
        groups = [x & 0x7F]
        x >>= 7
        while x:
            groups.append((x & 0x7F) | 0x80)
            x >>= 7
        groups.reverse()
        self.out += bytes(groups)

    def copy_size(self) -> int:
        n = self.size()
        self.put_size(n)
        return n

    def skip_padding(self, align: int) -> None:
        """Padding is counted from the start of the dump, in the input as in the output."""
        self.take(-self.pos % align)

    def put_padding(self, align: int) -> None:
        self.out += bytes(-len(self.out) % align)

    def string(self) -> bytes | None:
        n = self.size()
        if n == 0:
            index = self.size()
            if index == 0:
                return None
            if index > len(self.read_strings):
                raise ValueError("bad string reference in Lua binary chunk")
            return self.read_strings[index - 1]
        s = self.take(n)[:-1]  # written with its terminating zero
        self.read_strings.append(s)
        return s

    def put_string(self, s: bytes | None) -> None:
        if s is None:
            self.put_size(0)
            self.put_size(0)
            return
        index = self.written.get(s)
        if index is not None:
            self.put_size(0)
            self.put_size(index)
            return
        self.put_size(len(s) + 1)
        self.out += s + b"\0"
        self.written[s] = len(self.written) + 1

    def function(self, lines: bool) -> None:
        self.copy_size()  # linedefined
        self.copy_size()  # lastlinedefined
        self.copy(3)  # numparams, flag, maxstacksize
        ncode = self.copy_size()
        self.skip_padding(4)
        self.put_padding(4)
        self.copy(4 * ncode)
        for _ in range(self.copy_size()):  # constants
            tag = self.byte()
            self.out.append(tag)
            if tag == _NUMFLT:
                self.copy(8)
            elif tag == _NUMINT:
                self.copy_size()  # zigzag varint
            elif tag in (_SHRSTR, _LNGSTR):
                self.put_string(self.string())
        self.copy(3 * self.copy_size())  # upvalues: instack, idx, kind
        for _ in range(self.copy_size()):  # nested functions
            self.function(lines)
        self.put_string(self.string())  # source
        self.debug(lines)

    def debug(self, lines: bool) -> None:
        """As 5.4's: locals' names go, upvalue names stay, lines unless asked."""
        lineinfo = self.take(self.size())
        nabs = self.size()
        abslines = b""
        if nabs:
            self.skip_padding(4)
            abslines = self.take(8 * nabs)  # {int pc; int line} each
        if lines:
            self.put_size(len(lineinfo))
            self.out += lineinfo
            self.put_size(nabs)
            if nabs:
                self.put_padding(4)
                self.out += abslines
        else:
            self.put_size(0)
            self.put_size(0)
        for _ in range(self.size()):  # locvars: name, startpc, endpc
            self.string()
            self.size()
            self.size()
        self.put_size(0)
        for _ in range(self.copy_size()):  # upvalue names
            self.put_string(self.string())


_FORMATS: dict[int, tuple[type[_Rewrite54] | type[_Rewrite55], int]] = {
    0x54: (_Rewrite54, HEADER_54),
    0x55: (_Rewrite55, HEADER_55),
}


def version(dump: bytes) -> str | None:
    """"5.4" or "5.5" for a binary chunk of that version, None for anything else."""
    if dump[:4] != _SIGNATURE or len(dump) < 5 or dump[4] not in _FORMATS:
        return None
    return f"{dump[4] >> 4}.{dump[4] & 0xF}"


def thin(dump: bytes, lines: bool = True) -> bytes:
    """The same chunk without its local variables' names (see the module docstring),
    and without line information too when `lines` is false."""
    if version(dump) is None:
        raise ValueError("not a Lua 5.4 or 5.5 binary chunk")
    kind, header = _FORMATS[dump[4]]
    r = kind(dump, header)
    r.copy(1)  # the main closure's upvalue count
    r.function(lines)
    return r.finish()
