"""A loopback proxy in front of PostgreSQL that counts the client's round trips and statements.

Frontend messages are framed as a type byte and a length. A round trip ends with a Sync
(extended protocol: asyncpg's prepared statements) or is one simple Query; a statement is
an Execute or a simple Query. Nothing is changed on the way.
"""

from __future__ import annotations

import asyncio
import struct
from dataclasses import dataclass

_SSL_REQUEST = 80877103
_GSS_REQUEST = 80877104


@dataclass
class Counts:
    """What went through the proxy."""

    round_trips: int = 0
    statements: int = 0
    connections: int = 0

    def snapshot(self) -> Counts:
        """A copy, to subtract later."""
        return Counts(self.round_trips, self.statements, self.connections)


class CountingProxy:
    """Listen on 127.0.0.1 and forward every connection to the real server."""

    def __init__(self, upstream_host: str, upstream_port: int) -> None:
        self.upstream_host = upstream_host
        self.upstream_port = upstream_port
        self.counts = Counts()
        self._server: asyncio.Server | None = None

    async def start(self) -> int:
        """Start listening; return the port."""
        self._server = await asyncio.start_server(self._client, "127.0.0.1", 0)
        port: int = self._server.sockets[0].getsockname()[1]
        return port

    async def close(self) -> None:
        """Stop listening."""
        if self._server is not None:
            self._server.close()

    async def _open(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        if self.upstream_host.startswith("/"):
            path = f"{self.upstream_host}/.s.PGSQL.{self.upstream_port}"
            return await asyncio.open_unix_connection(path)
        return await asyncio.open_connection(self.upstream_host, self.upstream_port)

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.counts.connections += 1
        up_reader, up_writer = await self._open()
        backward = asyncio.create_task(self._pipe(up_reader, writer))
        try:
            await self._frontend(reader, up_writer)
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            up_writer.close()
            await backward

    async def _frontend(self, reader: asyncio.StreamReader, up: asyncio.StreamWriter) -> None:
        # Untyped start-up packets first (an SSL or GSS request may precede the real one).
        while True:
            head = await reader.readexactly(8)
            length, code = struct.unpack("!ii", head)
            body = await reader.readexactly(length - 8)
            up.write(head + body)
            await up.drain()
            if code not in (_SSL_REQUEST, _GSS_REQUEST):
                break
        while True:
            head = await reader.readexactly(5)
            kind = head[:1]
            (length,) = struct.unpack("!i", head[1:])
            body = await reader.readexactly(length - 4)
            if kind in (b"S", b"Q"):
                self.counts.round_trips += 1
            if kind == b"E":
                self.counts.statements += 1
            elif kind == b"Q":  # a simple query may hold several statements (asyncpg's reset)
                self.counts.statements += max(body.count(b";"), 1)
            up.write(head + body)
            await up.drain()
            if kind == b"X":
                return

    @staticmethod
    async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while chunk := await reader.read(65536):
                writer.write(chunk)
                await writer.drain()
        except ConnectionError:
            pass
        finally:
            writer.close()
