"""An asyncio client for skynet's debug console: one command per line, answers end with
`<CMD OK>` or `<CMD Error>`.

The console has no request ids, so a connection can carry one command at a time and an
answer that never came leaves the stream out of step: after a timeout, a cancel or a lost
connection the socket is closed, and the next command dials again (which is also how a
node that restarted on the same port is picked up).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

GREETING = "Welcome to skynet console"
END_OK = "<CMD OK>"
END_ERROR = "<CMD Error>"

#: Answers can be long (an inject's output); a line longer than this closes the connection.
LINE_LIMIT = 16 * 1024 * 1024


class ConsoleError(Exception):
    """The console could not be reached or did not answer; the message says what to do."""


class ConnectFailed(ConsoleError):
    pass


class ConnectionLost(ConsoleError):
    pass


class CommandTimeout(ConsoleError):
    pass


@dataclass(frozen=True)
class Answer:
    """A console answer: its lines (without the end marker) and whether it ended OK."""

    ok: bool
    lines: list[str]

    @property
    def text(self) -> str:
        return "\n".join(self.lines)


class ConsoleClient:
    """One TCP connection to `host:port`, dialled on demand, one command at a time."""

    def __init__(self, host: str, port: int, *, timeout: float = 60.0,
                 connect_timeout: float = 10.0) -> None:
        self.host = host
        self.port = port
        self.timeout = timeout
        self.connect_timeout = connect_timeout
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._lock = asyncio.Lock()
        #: How many times a connection was (re)established; 1 after the first connect.
        self.connects = 0

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def connected(self) -> bool:
        return self._writer is not None and not self._writer.is_closing()

    async def connect(self) -> None:
        """Dial and read the greeting; raise ConnectFailed with the reason."""
        self.reset()
        try:
            reader, writer = await asyncio.wait_for(
                asyncio.open_connection(self.host, self.port, limit=LINE_LIMIT),
                self.connect_timeout)
        except TimeoutError:
            raise ConnectFailed(f"{self.address}: no answer to connect within "
                                f"{self.connect_timeout:g} s") from None
        except OSError as e:
            reason = e.strerror or str(e)
            raise ConnectFailed(f"cannot connect to {self.address}: {reason} (is a skynet node "
                                "with a debug_console listening there?)") from None
        try:
            first = await asyncio.wait_for(reader.readline(), self.connect_timeout)
        except (TimeoutError, OSError):
            first = b""
        text = first.decode("utf-8", "replace").rstrip("\r\n")
        if text != GREETING:
            writer.close()
            raise ConnectFailed(f"{self.address} did not greet like a skynet debug console "
                                f"(got {text!r})")
        self._reader, self._writer = reader, writer
        self.connects += 1

    def reset(self, *, abort: bool = False) -> None:
        """Drop the connection (the next command dials again). abort: discard what is not
        sent yet instead of flushing it (a node that stopped reading would hold it)."""
        writer, self._reader, self._writer = self._writer, None, None
        if writer is not None:
            if abort:
                writer.transport.abort()
            else:
                writer.close()

    async def close(self, *, abort: bool = False, wait: float = 2.0) -> None:
        """Close the connection, waiting at most `wait` seconds for it to be closed. Must run
        on the loop that opened it: asyncio streams belong to one loop."""
        writer = self._writer
        self.reset(abort=abort)
        if writer is not None:
            try:
                await asyncio.wait_for(writer.wait_closed(), wait)
            except (TimeoutError, OSError):
                pass  # closed on our side; the peer's part is its own business

    async def command(self, line: str, timeout: float | None = None) -> Answer:
        """Send one command line and read its answer.

        Raises ConnectFailed (could not dial), ConnectionLost (closed mid-answer) or
        CommandTimeout (no end marker in time); each of them leaves the client reset."""
        if "\n" in line or "\r" in line:
            raise ValueError("a console command is one line")
        if not line.strip():
            raise ValueError("an empty line gets no answer from the console")
        if line.startswith("GET "):
            raise ValueError("`GET ...` is the console's HTTP mode: it closes the connection")
        limit = self.timeout if timeout is None else timeout
        async with self._lock:
            for _ in range(2):  # let a hang-up that already arrived mark the stream at EOF
                await asyncio.sleep(0)
            if not self.connected or (self._reader is not None and self._reader.at_eof()):
                await self.connect()  # first use, after a reset, or the node hung up idle
            try:
                return await asyncio.wait_for(self._exchange(line), limit)
            except TimeoutError:
                self.reset()
                raise CommandTimeout(
                    f"{self.address} gave no answer to {_short(line)!r} within {limit:g} s; "
                    "the connection was reset (the command may still be running there)"
                ) from None
            except asyncio.CancelledError:
                self.reset()  # the answer would arrive later and confuse the next command
                raise
            except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError) as e:
                self.reset()
                raise ConnectionLost(
                    f"the connection to {self.address} was lost during {_short(line)!r}"
                    f" ({type(e).__name__}); the next command reconnects") from None

    async def _exchange(self, line: str) -> Answer:
        assert self._reader is not None and self._writer is not None
        self._writer.write(line.encode() + b"\n")
        await self._writer.drain()
        lines: list[str] = []
        while True:
            raw = await self._reader.readline()
            if not raw:
                raise asyncio.IncompleteReadError(b"", None)
            text = raw.decode("utf-8", "replace")
            if text.endswith("\n"):
                text = text[:-1]
            if text == END_OK:
                return Answer(True, lines)
            if text == END_ERROR:
                return Answer(False, lines)
            lines.append(text)


def _short(line: str) -> str:
    return line if len(line) <= 60 else line[:57] + "..."
