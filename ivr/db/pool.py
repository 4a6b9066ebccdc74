"""The asyncpg pool, opened on the configured or the embedded server."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import asyncpg

from ivr.db.embedded import EmbeddedPostgres
from ivr.db.migrate import migrate


async def _init_connection(conn: asyncpg.Connection) -> None:
    await conn.set_type_codec("jsonb", encoder=json.dumps, decoder=json.loads,
                              schema="pg_catalog")


async def create_pool(url: str, *, max_size: int = 10) -> asyncpg.Pool:
    """Open a pool whose connections speak jsonb as Python objects."""
    pool = await asyncpg.create_pool(url, min_size=1, max_size=max_size, init=_init_connection,
                                     command_timeout=10)
    assert pool is not None
    return pool


@asynccontextmanager
async def server_url(url: str | None, data_dir: Path) -> AsyncIterator[str]:
    """The configured server's URL, or start the embedded server for as long as needed."""
    if url is not None:
        yield url
        return
    embedded = EmbeddedPostgres(data_dir)
    started = await asyncio.to_thread(embedded.start)
    try:
        yield started
    finally:
        await asyncio.to_thread(embedded.stop)


@asynccontextmanager
async def database(url: str | None, data_dir: Path) -> AsyncIterator[asyncpg.Pool]:
    """A migrated pool on the configured server, or on the embedded one."""
    async with server_url(url, data_dir) as real_url:
        pool = await create_pool(real_url)
        try:
            async with pool.acquire() as conn:
                await migrate(conn)
            yield pool
        finally:
            await pool.close()
