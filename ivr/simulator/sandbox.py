"""A throwaway database (or schema) for in-process simulations, dropped when they end."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import asyncpg

from ivr.startup import masked


@dataclass(frozen=True)
class Sandbox:
    """Where a simulation writes: its URL and a sentence saying which place that is."""

    url: str
    description: str


def _with_path(url: str, database: str) -> str:
    return urlunsplit(urlsplit(url)._replace(path=f"/{database}"))


def _with_search_path(url: str, schema: str) -> str:
    parts = urlsplit(url)
    query = [*parse_qsl(parts.query), ("search_path", schema)]  # asyncpg: a server setting
    return urlunsplit(parts._replace(query=urlencode(query)))


@asynccontextmanager
async def throwaway(server_url: str, where: str) -> AsyncIterator[Sandbox]:
    """A new database on the server at `server_url`, or a new schema if we may not create one."""
    name = f"ivr_sim_{secrets.token_hex(4)}"
    conn = await asyncpg.connect(server_url)
    try:
        try:
            await conn.execute(f"CREATE DATABASE {name}")
        except asyncpg.InsufficientPrivilegeError:
            await conn.execute(f"CREATE SCHEMA {name}")
            kind, url = "schema", _with_search_path(server_url, name)
        else:
            kind, url = "database", _with_path(server_url, name)
    finally:
        await conn.close()
    try:
        yield Sandbox(url, f"throwaway {kind} {name} on {where}, dropped at the end")
    finally:
        conn = await asyncpg.connect(server_url)
        try:
            if kind == "database":
                await conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
            else:
                await conn.execute(f"DROP SCHEMA IF EXISTS {name} CASCADE")
        finally:
            await conn.close()


def describe(url: str | None, data_dir: str) -> str:
    """Which server a URL is, for people: DATABASE_URL (password hidden) or the embedded one."""
    if url is None:
        return f"the embedded PostgreSQL ({data_dir}/pgdata)"
    return f"DATABASE_URL={masked(url)}"
