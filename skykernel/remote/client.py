"""An asyncio client for skynet's debug console: one command per line, answers end with
`<CMD OK>` or `<CMD Error>`.

The console has no request ids, so a connection can carry one command at a time and an
answer that never came leaves the stream out of step: after a timeout, a cancel or a lost
connection the socket is closed, and the next command dials again (which is also how a
node that restarted on the same port is picked up).
"""

from __future__ import annotations

import asyncio
from collections import deque
from dataclasses import dataclass

GREETING = "Welcome to skynet console"
END_OK = "<CMD OK>"
END_ERROR = "<CMD Error>"
_END_OK = END_OK.encode() + b"\n"
_END_ERROR = END_ERROR.encode() + b"\n"

MB = 1024 * 1024
#: A line longer than this ends the command with an error and resets the connection.
LINE_LIMIT = 8 * MB
#: What is kept of one answer: the lines of its first ANSWER_HEAD bytes and of its last
#: ANSWER_TAIL bytes (where a cell's result is); the lines between are counted, not kept.
#: Together they stay under what the kernel shows of one output (1,000,000 characters),
#: so the note marking the cut is never cut itself. The whole answer is still read, up to
#: its end marker, to stay in step with the console.
ANSWER_HEAD = 768 * 1024
ANSWER_TAIL = 128 * 1024
#: Dialling and the greeting never wait longer than this (nor than the command timeout).
CONNECT_TIMEOUT = 10.0


class ConsoleError(Exception):
    """The console could not be reached or did not answer; the message says what to do."""


class ConnectFailed(ConsoleError):
    pass


class ConnectionLost(ConsoleError):
    pass


class CommandTimeout(ConsoleError):
    pass


class AnswerTooLong(ConsoleError):
    pass


def _size(n: int) -> str:
    return f"{n / MB:.1f} MB" if n >= MB else f"{n / 1024:.0f} KB"


@dataclass(frozen=True)
class Answer:
    """A console answer: its lines (without the end marker) and whether it ended OK.

    A long answer is cut: `cut_lines` lines (`cut_bytes` bytes) that stood before
    `lines[cut_at]` were not kept."""

    ok: bool
    lines: list[str]
    cut_lines: int = 0
    cut_bytes: int = 0
    cut_at: int = 0

    @property
    def note(self) -> str:
        """One line saying what was cut ('' when nothing was)."""
        if not self.cut_lines:
            return ""
        return (f"[... {self.cut_lines} lines ({_size(self.cut_bytes)}) of this answer cut: "
                f"the client keeps its first {_size(ANSWER_HEAD)} and its last "
                f"{_size(ANSWER_TAIL)} ...]")

    @property
    def text(self) -> str:
        """The kept lines, with the note where lines were cut."""
        if not self.cut_lines:
            return "\n".join(self.lines)
        return "\n".join([*self.lines[:self.cut_at], self.note, *self.lines[self.cut_at:]])


class ConsoleClient:
    """One TCP connection to `host:port`, dialled on demand, one command at a time."""

    def __init__(self, host: str, port: int, *, timeout: float = 60.0,
                 connect_timeout: float = CONNECT_TIMEOUT) -> None:
        self.host = host
        self.port = port
        self.timeout = timeout
        self.connect_timeout = connect_timeout
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._lock = asyncio.Lock()
        #: How many times a connection was (re)established; 1 after the first connect.
        self.connects = 0
        #: Set by close(): the client never dials again (a command waiting for its turn
        #: must not reconnect to a node that was just disconnected).
        self.closed = False

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def connected(self) -> bool:
        return self._writer is not None and not self._writer.is_closing()

    async def connect(self, timeout: float | None = None) -> None:
        """Dial and read the greeting, both within min(timeout, connect_timeout) seconds;
        raise ConnectFailed with the reason."""
        self.reset()
        limit = self.connect_timeout if timeout is None else min(timeout, self.connect_timeout)
        stage = ["connect"]
        try:
            reader, writer, first = await asyncio.wait_for(self._dial(stage), limit)
        except TimeoutError:
            if stage[0] == "connect":
                raise ConnectFailed(f"cannot connect to {self.address}: no answer within "
                                    f"{limit:g} s") from None
            raise ConnectFailed(f"{self.address} accepted the connection but sent no greeting "
                                f"within {limit:g} s (is a skynet debug_console listening "
                                "there?)") from None
        except OSError as e:
            reason = e.strerror or str(e)
            raise ConnectFailed(f"cannot connect to {self.address}: {reason} (is a skynet node "
                                "with a debug_console listening there?)") from None
        text = first.decode("utf-8", "replace").rstrip("\r\n")
        if text != GREETING:
            writer.transport.abort()
            raise ConnectFailed(f"{self.address} did not greet like a skynet debug console "
                                f"(got {_short(text)!r})")
        self._reader, self._writer = reader, writer
        self.connects += 1

    async def _dial(self, stage: list[str]
                    ) -> tuple[asyncio.StreamReader, asyncio.StreamWriter, bytes]:
        reader, writer = await asyncio.open_connection(self.host, self.port, limit=LINE_LIMIT)
        stage[0] = "greeting"
        try:
            first = await reader.readline()
        except (OSError, ValueError):
            first = b""  # reset, or a first line over the limit: not a console either way
        except BaseException:  # a timeout or an interrupt: the socket must not leak
            writer.transport.abort()
            raise
        return reader, writer, first

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
        """Close the connection for good, waiting at most `wait` seconds for it to be closed.
        Must run on the loop that opened it: asyncio streams belong to one loop."""
        self.closed = True
        writer = self._writer
        self.reset(abort=abort)
        if writer is not None:
            try:
                await asyncio.wait_for(writer.wait_closed(), wait)
            except (TimeoutError, OSError):
                pass  # closed on our side; the peer's part is its own business

    async def command(self, line: str, timeout: float | None = None) -> Answer:
        """Send one command line and read its whole answer within `timeout` seconds (the
        client's timeout by default), dialling first if needed.

        Raises ConnectFailed (could not dial), ConnectionLost (closed mid-answer),
        CommandTimeout (no end marker in time) or AnswerTooLong (a line over LINE_LIMIT);
        each of them leaves the client reset."""
        if "\n" in line or "\r" in line:
            raise ValueError("a console command is one line")
        if not line.strip():
            raise ValueError("an empty line gets no answer from the console")
        if line.startswith("GET "):
            raise ValueError("`GET ...` is the console's HTTP mode: it closes the connection")
        limit = self.timeout if timeout is None else timeout
        loop = asyncio.get_running_loop()
        deadline = loop.time() + limit
        try:
            # One deadline for everything: waiting for the previous command, dialling
            # again, and the answer up to its end marker.
            async with asyncio.timeout_at(deadline), self._lock:
                for _ in range(2):  # let a hang-up that already arrived mark the stream EOF
                    await asyncio.sleep(0)
                if self.closed:
                    raise ConnectionLost(f"the connection to {self.address} was closed "
                                         "(disconnected, or the kernel is shutting down)")
                if not self.connected or (self._reader is not None and self._reader.at_eof()):
                    # first use, after a reset, or the node hung up while idle
                    await self.connect(max(0.0, deadline - loop.time()))
                return await self._exchange(line)
        except TimeoutError:
            self.reset()
            raise CommandTimeout(
                f"{self.address} gave no answer to {_short(line)!r} within {limit:g} s; "
                "the connection was reset (the command may still be running there)"
            ) from None
        except asyncio.CancelledError:
            self.reset()  # the answer would arrive later and confuse the next command
            raise
        except ConsoleError:
            self.reset()
            raise
        except (OSError, asyncio.IncompleteReadError) as e:
            self.reset()
            raise ConnectionLost(
                f"the connection to {self.address} was lost during {_short(line)!r}"
                f" ({type(e).__name__}); the next command reconnects") from None

    async def _exchange(self, line: str) -> Answer:
        """Write the command, read lines to the end marker; linear in the answer's size,
        keeping at most ANSWER_HEAD + ANSWER_TAIL bytes of it (plus one long last line)."""
        reader, writer = self._reader, self._writer
        assert reader is not None and writer is not None
        writer.write(line.encode() + b"\n")
        await writer.drain()
        head: list[bytes] = []
        head_bytes = 0
        tail: deque[bytes] = deque()
        tail_bytes = cut_lines = cut_bytes = 0
        while True:
            try:
                raw = await reader.readline()
            except ValueError:  # asyncio's "Separator is not found, and chunk exceed the limit"
                raise AnswerTooLong(
                    f"{self.address} answered {_short(line)!r} with a line longer than "
                    f"{_size(LINE_LIMIT)}, the most this client reads as one line; the "
                    "connection was reset, the next command reconnects") from None
            if not raw:
                raise asyncio.IncompleteReadError(b"", None)
            if raw == _END_OK or raw == _END_ERROR:
                kept = [_decode(b) for b in head] + [_decode(b) for b in tail]
                return Answer(raw == _END_OK, kept, cut_lines, cut_bytes, len(head))
            size = len(raw)
            if not tail and head_bytes + size <= ANSWER_HEAD:
                head.append(raw)
                head_bytes += size
                continue
            tail.append(raw)
            tail_bytes += size
            while tail_bytes > ANSWER_TAIL and len(tail) > 1:  # the last line always stays
                old = tail.popleft()
                tail_bytes -= len(old)
                cut_lines += 1
                cut_bytes += len(old)


def _decode(raw: bytes) -> str:
    text = raw.decode("utf-8", "replace")
    return text[:-1] if text.endswith("\n") else text


def _short(line: str) -> str:
    return line if len(line) <= 60 else line[:57] + "..."
