"""The debug console's `debug ADDR`: skynet's single-step debugger (skynet.remotedebug),
driven over TCP on real skynet (both builds, where present) and on skykernel. What the
console sends back over the whole session is the same byte stream; skynet writes a
prompt the moment a watched message pauses, skykernel with the reply to the next line
(docs/differences.md)."""

from __future__ import annotations

import asyncio
import socket
import time

import realskynet
from conftest import Tree

TARGET = """
local skynet = require "skynet"
local counter = 0
local function add(a, b)
    local s = a + b
    counter = counter + s
    return s
end
skynet.start(function()
    skynet.dispatch("lua", function(session, source, cmd, x)
        local y = x * 2
        local r = add(x, y)
        skynet.retpack(r, counter)
    end)
end)
"""

MAIN = """
local skynet = require "skynet"
require "skynet.manager"
skynet.start(function()
    local t = skynet.newservice("target")
    skynet.newservice("debug_console", %d)
    skynet.dispatch("lua", function(_, _, cmd, x)
        skynet.retpack(skynet.call(t, "lua", "add", x))
    end)
    skynet.error("READY")
end)
"""

#: (line typed, or TRIGGER: another connection makes main call the target)
SESSION = ["debug 9", "counter", "print(1,2)", 'watch("lua")', "TRIGGER", "x", "s", "y", "s",
           "a", "n", "n", "s", "n", "x", "c", "cont"]

EXPECTED = (
    ":00000009>" "nil\t\n:00000009>" "1\t2\t\n\n:00000009>" "\n:00000009>"
    "./service/target.lua(11)>"  # the watched message paused at its first line
    "5\t\n./service/target.lua(11)>" "./service/target.lua(12)>"
    "10\t\n./service/target.lua(12)>" "./service/target.lua(5)>"  # s: into add
    "5\t\n./service/target.lua(5)>" "./service/target.lua(6)>" "./service/target.lua(7)>"
    "./service/target.lua(13)>"  # back in the handler
    ":00000009>"  # n: the handler returned, nothing is paused
    "nil\t\n:00000009>" "nil\t\n:00000009>" "<CMD OK>\n"
)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def read_quiet(reader: asyncio.StreamReader, quiet: float) -> bytes:
    """What arrives until nothing has come for `quiet` seconds."""
    out = b""
    while True:
        try:
            chunk = await asyncio.wait_for(reader.read(65536), quiet)
        except TimeoutError:
            return out
        if not chunk:
            return out
        out += chunk


async def drive(port: int, quiet: float) -> tuple[str, bytes]:
    """Run SESSION on the console; returns the stream after the greeting and what the
    triggering call answered."""
    for _ in range(100):
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            break
        except OSError:
            await asyncio.sleep(0.1)
    else:
        raise AssertionError("the debug console never listened")
    greeting = await read_quiet(reader, quiet)
    assert greeting == b"Welcome to skynet console\n"
    stream = b""
    other: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None
    for line in SESSION:
        if line == "TRIGGER":
            other = await asyncio.open_connection("127.0.0.1", port)
            await read_quiet(other[0], quiet)
            other[1].write(b"call 8 'add', 5\n")
            stream += await read_quiet(reader, 3 * quiet)
            continue
        writer.write(line.encode() + b"\n")
        stream += await read_quiet(reader, quiet)
    answer = b""
    if other is not None:
        answer = await read_quiet(other[0], quiet)
        other[1].close()
    writer.close()
    return stream.decode(), answer


def test_debugger_session_as_on_skynet(tree: Tree, real_skynet: str) -> None:
    port = free_port()
    tree.write({"service/target.lua": TARGET, "service/main.lua": MAIN % port})
    config = realskynet.write_config(tree.root)
    proc = realskynet.start(config, real_skynet, cwd=tree.root)
    try:
        time.sleep(0.5)
        stream, answer = asyncio.run(drive(port, 0.5))
    finally:
        realskynet.stop(proc)
    assert stream == EXPECTED
    assert answer == b"1\t15\n2\t15\nn\t2\n<CMD OK>\n"


def test_debugger_session_on_skykernel(tree: Tree) -> None:
    port = free_port()
    tree.write({"service/target.lua": TARGET, "service/main.lua": MAIN % port})
    node = tree.node('start = "main"\n')

    async def main() -> tuple[str, bytes]:
        await node.start()
        try:
            return await asyncio.wait_for(drive(port, 0.3), 120)
        finally:
            await node.shutdown()

    stream, answer = asyncio.run(main())
    assert stream == EXPECTED
    assert answer == b"1\t15\n2\t15\nn\t2\n<CMD OK>\n"
    texts = [ln.text for ln in node.logger.history]
    assert texts.count("Enter debug mode") == 1 and texts.count("Leave debug mode") == 1
    assert "Attach to :00000009" in texts


def test_debug_of_nothing_is_an_error(tree: Tree) -> None:
    port = free_port()
    tree.write({"service/target.lua": TARGET, "service/main.lua": MAIN % port})
    node = tree.node('start = "main"\n')

    async def main() -> list[bytes]:
        await node.start()
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            await read_quiet(reader, 0.3)
            replies = []
            for line in ("debug", "debug :00000077", "list"):
                writer.write(line.encode() + b"\n")
                replies.append(await read_quiet(reader, 0.5))
            writer.close()
            return replies
        finally:
            await node.shutdown()

    no_address, dead, after = asyncio.run(main())
    assert no_address.endswith(b"<CMD Error>\n")
    assert dead == b"Debugger attach failed\n<CMD Error>\n"
    assert after.endswith(b"<CMD OK>\n") and b"snlua target" in after  # the console goes on

