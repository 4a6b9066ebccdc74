"""`ivr agents password ID` and `--role`: console accounts from the command line."""

from __future__ import annotations

import getpass
import sys
from datetime import UTC, datetime

import asyncpg

from ivr.console.auth import hash_password
from ivr.store import accounts, audit


def read_password() -> str:
    """The new password: typed twice on a terminal, else the first line of standard input."""
    if sys.stdin.isatty():
        first = getpass.getpass("Mot de passe : ")
        if getpass.getpass("Encore une fois : ") != first:
            raise ValueError("the two passwords differ")
        return first
    return sys.stdin.readline().rstrip("\r\n")


async def set_password(pool: asyncpg.Pool, agent_id: int, password: str, by: str) -> bool:
    """Store the password's Argon2 hash and sign the agent out everywhere."""
    if not await accounts.set_password_hash(pool, agent_id, hash_password(password)):
        return False
    await accounts.close_all_sessions(pool, agent_id)
    await audit.record(pool, at=datetime.now(UTC), actor=by, surface="cli",
                       action="agent.password", target=f"agent:{agent_id}")
    return True


async def set_role(pool: asyncpg.Pool, agent_id: int, role: str, by: str) -> None:
    """Give a new agent their console role (recorded when it is not the default)."""
    await accounts.set_role(pool, agent_id, role)
    if role != "agent":
        await audit.record(pool, at=datetime.now(UTC), actor=by, surface="cli",
                           action="agent.role", target=f"agent:{agent_id}", detail={"to": role})
