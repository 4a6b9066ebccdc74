"""Console accounts: password hashes, roles, sessions and failed sign-ins, in plain SQL."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta

import asyncpg

from ivr.ids import INT_MAX, strict_id

ROLES = ("agent", "manager")


@dataclass(frozen=True)
class Account:
    """Who is signed in (or trying to)."""

    agent_id: int
    name: str
    role: str
    password_hash: str | None


@dataclass(frozen=True)
class Session:
    """A signed-in browser: its agent and the CSRF token its forms carry."""

    account: Account
    csrf_token: str


def token_hash(token: str) -> str:
    """What the sessions table keeps instead of the cookie's value."""
    return hashlib.sha256(token.encode()).hexdigest()


def _account(row: asyncpg.Record) -> Account:
    return Account(row["id"], row["name"], row["role"], row["password_hash"])


async def find_for_login(pool: asyncpg.Pool, login: str) -> Account | None:
    """The agent a login names: their id, or their name (case-insensitive, if unique)."""
    agent_id = strict_id(login, INT_MAX)
    if agent_id is not None:
        row = await pool.fetchrow(
            "SELECT id, name, role, password_hash FROM agents WHERE id = $1", agent_id)
        return _account(row) if row else None
    rows = await pool.fetch(
        "SELECT id, name, role, password_hash FROM agents WHERE lower(name) = lower($1) LIMIT 2",
        login)
    return _account(rows[0]) if len(rows) == 1 else None


async def set_password_hash(pool: asyncpg.Pool, agent_id: int, hashed: str) -> bool:
    """Store an agent's Argon2 hash; False when there is no such agent."""
    status = await pool.execute("UPDATE agents SET password_hash = $2 WHERE id = $1",
                                agent_id, hashed)
    return status.endswith(" 1")


async def set_role(pool: asyncpg.Pool, agent_id: int, role: str) -> bool:
    """Make an agent a standardist (`agent`) or a `manager`; False when there is none."""
    if role not in ROLES:
        raise ValueError(f"role: expected one of {', '.join(ROLES)}")
    status = await pool.execute("UPDATE agents SET role = $2 WHERE id = $1", agent_id, role)
    return status.endswith(" 1")


async def open_session(pool: asyncpg.Pool, agent_id: int, token: str, csrf_token: str,
                       now: datetime, lifetime: timedelta) -> None:
    """Remember a new session (and forget this agent's expired ones)."""
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute("DELETE FROM console_sessions WHERE agent_id = $1 AND expires_at <= $2",
                           agent_id, now)
        await conn.execute(
            """INSERT INTO console_sessions (token_hash, agent_id, csrf_token, created_at,
                                             expires_at) VALUES ($1, $2, $3, $4, $5)""",
            token_hash(token), agent_id, csrf_token, now, now + lifetime)


async def session(pool: asyncpg.Pool, token: str, now: datetime) -> Session | None:
    """The live session a cookie names, or None (unknown, expired or password removed)."""
    row = await pool.fetchrow(
        """SELECT a.id, a.name, a.role, a.password_hash, s.csrf_token
           FROM console_sessions s JOIN agents a ON a.id = s.agent_id
           WHERE s.token_hash = $1 AND s.expires_at > $2 AND a.password_hash IS NOT NULL""",
        token_hash(token), now)
    return Session(_account(row), row["csrf_token"]) if row else None


async def close_session(pool: asyncpg.Pool, token: str) -> None:
    """Sign a browser out."""
    await pool.execute("DELETE FROM console_sessions WHERE token_hash = $1", token_hash(token))


async def close_all_sessions(pool: asyncpg.Pool, agent_id: int) -> None:
    """Sign an agent out everywhere (their password changed)."""
    await pool.execute("DELETE FROM console_sessions WHERE agent_id = $1", agent_id)


async def record_failure(pool: asyncpg.Pool, login: str, address: str, now: datetime) -> None:
    """Count one failed sign-in against the login and the address."""
    await pool.execute(
        "INSERT INTO console_login_failures (login, address, at) VALUES (lower($1), $2, $3)",
        login[:200], address[:100], now)


async def recent_failures(pool: asyncpg.Pool, login: str, address: str,
                          since: datetime) -> tuple[int, int]:
    """Failed sign-ins since `since`: for this login, and from this address."""
    row = await pool.fetchrow(
        """SELECT count(*) FILTER (WHERE login = lower($1)) AS by_login,
                  count(*) FILTER (WHERE address = $2) AS by_address
           FROM console_login_failures
           WHERE at > $3 AND (login = lower($1) OR address = $2)""",
        login[:200], address[:100], since)
    assert row is not None
    return row["by_login"], row["by_address"]
