"""Standardists: who they are, which services they cover, and whether they can take a call."""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import asyncpg

from ivr.store import audit, offers
from ivr.store.audit import Surface

STATUSES = ("available", "busy", "wrap_up", "offline")
_CONTACT = re.compile(r"\+[1-9][0-9]{7,14}|client:[A-Za-z0-9_.-]{1,64}")
# Text a person typed may hold letters, marks, spaces and punctuation, never control characters.
_PRINTABLE = re.compile(r"[^\x00-\x1f\x7f-\x9f]*")
CURRENT = "removed_at IS NULL"
# A wrap-up that has run out counts as available, without any process having to notice.
EFFECTIVE_STATUS = ("CASE WHEN status = 'wrap_up' AND wrap_up_until <= $1 "
                    "THEN 'available' ELSE status END")


class AgentError(ValueError):
    """Bad input for an agent (the admin API answers it as a 400)."""


@dataclass(frozen=True)
class Agent:
    """An agent as the CLI and the admin API show it."""

    id: int
    name: str
    contact: str
    services: tuple[str, ...]
    status: str
    note: str | None

    def as_json(self) -> dict[str, Any]:
        """The agent as a JSON-ready mapping."""
        return {"id": self.id, "name": self.name, "contact": self.contact,
                "services": list(self.services), "status": self.status, "note": self.note}


def _agent(row: asyncpg.Record) -> Agent:
    return Agent(row["id"], row["name"], row["contact"], tuple(row["services"]), row["status"],
                 row["note"])


def check(name: object, contact: object, services: object,
          known: Collection[str] | None = None) -> tuple[str, str, list[str]]:
    """Validate new-agent input, or raise AgentError saying what is wrong."""
    if (not isinstance(name, str) or not 1 <= len(name.strip()) <= 100
            or not _PRINTABLE.fullmatch(name)):
        raise AgentError("name: expected a text of 1 to 100 characters")
    if not isinstance(contact, str) or not _CONTACT.fullmatch(contact.strip()):
        raise AgentError("contact: expected an E.164 number (+33...) or client:identity")
    if (not isinstance(services, list) or not services
            or not all(isinstance(s, str) and s.strip() and (known is None or s in known)
                       for s in services)):
        # The services are the loaded flow's (known), whatever the prefecture names them.
        among = f" among {', '.join(known)}" if known is not None else " of service names"
        raise AgentError(f"services: expected a non-empty list{among}")
    return name.strip(), contact.strip(), sorted(set(services))


async def add(pool: asyncpg.Pool, name: object, contact: object, services: object,
              now: datetime, known: Collection[str] | None = None, *, actor: str | None = None,
              surface: Surface = "system") -> Agent:
    """Create an agent, offline until they say they are available; audited when `actor`."""
    clean_name, clean_contact, clean_services = check(name, contact, services, known)
    try:
        async with pool.acquire() as conn, conn.transaction():
            row = await conn.fetchrow(
                f"""INSERT INTO agents (name, contact, services, updated_at)
                    VALUES ($2, $3, $4, $1)
                    RETURNING id, name, contact, services, {EFFECTIVE_STATUS} AS status, note""",
                now, clean_name, clean_contact, clean_services)
            assert row is not None
            if actor is not None:
                await audit.record(conn, at=now, actor=actor, surface=surface,
                                   action="agent.add", target=f"agent:{row['id']}",
                                   detail={"name": clean_name, "contact": clean_contact,
                                           "services": clean_services})
    except asyncpg.UniqueViolationError:
        raise AgentError(f"contact: {clean_contact} is already an agent") from None
    return _agent(row)


async def list_all(pool: asyncpg.Pool, now: datetime) -> list[Agent]:
    """Every agent, with the status that holds now."""
    rows = await pool.fetch(
        f"""SELECT id, name, contact, services, {EFFECTIVE_STATUS} AS status, note
            FROM agents WHERE removed_at IS NULL ORDER BY id""", now)
    return [_agent(r) for r in rows]


async def remove(pool: asyncpg.Pool, agent_id: int, now: datetime | None = None, *,
                 actor: str | None = None, surface: Surface = "system") -> bool:
    """Retire an agent (offers and history stay); False when there was none with this id."""
    at = now or datetime.now(UTC)
    async with pool.acquire() as conn, conn.transaction():
        ended = await offers.end_for_agent(conn, agent_id, at)
        name = await conn.fetchval(
            f"SELECT name FROM agents WHERE id = $1 AND {CURRENT} FOR UPDATE", agent_id)
        if name is None:
            return False
        await conn.execute(
            """UPDATE agents SET removed_at = $2, status = 'offline', note = 'supprimé',
                      wrap_up_until = NULL, updated_at = $2 WHERE id = $1""", agent_id, at)
        if actor is not None:
            await audit.record(conn, at=at, actor=actor, surface=surface, action="agent.remove",
                               target=f"agent:{agent_id}",
                               detail={"name": name, "offers_ended": ended})
    return True


async def set_status(pool: asyncpg.Pool, agent_id: int, status: object, now: datetime,
                     note: str | None = None, *, actor: str | None = None,
                     surface: Surface = "system") -> Agent | None:
    """Set an agent's status by hand; whatever offer they still hold ends in the same step.

    A crash can leave an agent `busy` with a live offer nobody will ever end: a manager's
    status change is how the switchboard is unstuck, so it never fails on a leftover row.
    """
    if not isinstance(status, str) or status not in STATUSES:
        raise AgentError(f"status: expected one of {', '.join(STATUSES)}")
    if note is not None and (len(note) > 200 or not _PRINTABLE.fullmatch(note)):
        raise AgentError("note: expected a text of at most 200 characters")
    async with pool.acquire() as conn, conn.transaction():
        # Offers first, then the agent: the order offers.finish() locks them in.
        ended = await offers.end_for_agent(conn, agent_id, now)
        before = await conn.fetchval(
            f"SELECT status FROM agents WHERE id = $1 AND {CURRENT} FOR UPDATE", agent_id)
        if before is None:
            return None
        row = await conn.fetchrow(
            f"""UPDATE agents SET status = $3, note = $4, updated_at = $1,
                       idle_since = CASE WHEN $3 = 'available' AND status <> 'available'
                                         THEN $1 ELSE idle_since END,
                       wrap_up_until = CASE WHEN $3 = 'wrap_up' THEN $1 ELSE NULL END
                WHERE id = $2
                RETURNING id, name, contact, services, {EFFECTIVE_STATUS} AS status, note""",
            now, agent_id, status, note)
        assert row is not None
        if actor is not None:
            await audit.record(conn, at=now, actor=actor, surface=surface, action="agent.status",
                               target=f"agent:{agent_id}",
                               detail={"from": before, "to": status, "offers_ended": ended})
    return _agent(row)


async def counts_by_status(pool: asyncpg.Pool, now: datetime) -> dict[tuple[str, str], int]:
    """How many agents of each service are in each status now."""
    rows = await pool.fetch(
        f"""SELECT service, {EFFECTIVE_STATUS} AS status, count(*) AS n
            FROM agents, unnest(services) AS service WHERE removed_at IS NULL
            GROUP BY 1, 2""", now)
    return {(r["service"], r["status"]): r["n"] for r in rows}


async def online_count(pool: asyncpg.Pool, service: str) -> int:
    """Agents of a service who are not offline (they may be busy)."""
    count: int = await pool.fetchval(
        "SELECT count(*) FROM agents WHERE $1 = ANY(services) AND status <> 'offline'", service)
    return count
