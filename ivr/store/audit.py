"""The audit log: every change made by a person, with who made it, from where and when."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

import asyncpg
from asyncpg.pool import PoolConnectionProxy

Surface = Literal["cli", "admin_api", "console", "system"]
Executor = asyncpg.Pool | asyncpg.Connection | PoolConnectionProxy


@dataclass(frozen=True)
class AuditEntry:
    """One recorded change."""

    at: datetime
    actor: str
    surface: str
    action: str
    target: str | None
    detail: dict[str, Any]


async def record(db: Executor, *, at: datetime, actor: str, surface: Surface, action: str,
                 target: str | None = None, detail: dict[str, Any] | None = None) -> None:
    """Append one entry; call it inside the change's own transaction."""
    # The pool's jsonb codec encodes; the round trip turns dates and the like into text.
    await db.execute(
        """INSERT INTO audit_log (at, actor, surface, action, target, detail)
           VALUES ($1, $2, $3, $4, $5, $6)""",
        at, actor, surface, action, target, json.loads(json.dumps(detail or {}, default=str)))


async def recent(db: Executor, limit: int = 100) -> list[AuditEntry]:
    """The newest entries first."""
    rows = await db.fetch(
        """SELECT at, actor, surface, action, target, detail
           FROM audit_log ORDER BY id DESC LIMIT $1""", limit)
    return [AuditEntry(r["at"], r["actor"], r["surface"], r["action"], r["target"],
                       r["detail"]) for r in rows]
