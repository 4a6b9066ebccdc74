"""The asyncpg pool, opened on the configured or the embedded server."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import asyncpg

from ivr.db.embedded import EmbeddedPostgres
from ivr.db.migrate import migrate

log = logging.getLogger(__name__)
WATCH_SECONDS = 2.0


async def _init_connection(conn: asyncpg.Connection) -> None:
    await conn.set_type_codec("jsonb", encoder=json.dumps, decoder=json.loads,
                              schema="pg_catalog")


async def _keep_session(conn: asyncpg.Connection) -> None:
    """Release without asyncpg's reset query: this app leaves no session state behind.

    asyncpg's default runs `SELECT pg_advisory_unlock_all(); CLOSE ALL; UNLISTEN *; RESET ALL`
    on every release: one more round trip per pool use, measured as 100 of the 169 statements
    of a complete call. Nothing here needs it: no SET or LISTEN on pooled connections, cursors
    only inside transactions, advisory locks transaction-scoped (the migration's session lock
    is released in a `finally`). asyncpg still rolls back a transaction left open (its
    `_reset` runs before this hook) and drops listeners.
    """


async def create_pool(url: str, *, max_size: int = 10) -> asyncpg.Pool:
    """Open a pool whose connections speak jsonb as Python objects."""
    pool = await asyncpg.create_pool(url, min_size=1, max_size=max_size, init=_init_connection,
                                     reset=_keep_session, command_timeout=10)
    assert pool is not None
    _urls[id(pool)] = url
    return pool


# Where each pool connects, for connections that must live outside it (LISTEN). Keyed by
# id: asyncpg's Pool takes no weak references; a pool's URL is a few bytes kept for good.
_urls: dict[int, str] = {}


async def connect_beside(pool: asyncpg.Pool) -> asyncpg.Connection | None:
    """A connection of its own to the pool's database (None for a pool made elsewhere)."""
    url = _urls.get(id(pool))
    if url is None:
        return None
    conn: asyncpg.Connection = await asyncpg.connect(url, timeout=5)
    return conn


@asynccontextmanager
async def server_url(url: str | None, data_dir: Path) -> AsyncIterator[str]:
    """The configured server's URL, or start the embedded server for as long as needed."""
    if url is not None:
        yield url
        return
    embedded = EmbeddedPostgres(data_dir)
    started = await asyncio.to_thread(embedded.start)
    watch = asyncio.create_task(_watch(embedded))
    try:
        yield started
    finally:
        watch.cancel()
        await asyncio.to_thread(embedded.stop)


async def _watch(embedded: EmbeddedPostgres, every: float = WATCH_SECONDS) -> None:
    """Start the embedded server again if it dies while we use it (the pool reconnects)."""
    while True:
        await asyncio.sleep(every)
        try:
            await asyncio.to_thread(embedded.restart_if_dead)
        except Exception:  # logged, and tried again at the next tick
            log.exception("embedded PostgreSQL could not be restarted")


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
