"""The audit log and the agents' status history, shared by every surface."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import asyncpg

from ivr.store import agents, audit


async def test_audit_entries_come_back_newest_first(pool: asyncpg.Pool) -> None:
    """Recorded changes keep actor, surface, action, target and detail, newest first."""
    at = datetime(2026, 11, 25, 9, tzinfo=UTC)
    await audit.record(pool, at=at, actor="claire", surface="console", action="agent.status",
                       target="agent:1", detail={"to": "available"})
    await audit.record(pool, at=at + timedelta(seconds=1), actor="admin", surface="cli",
                       action="crisis.on")
    entries = await audit.recent(pool)
    assert [e.action for e in entries] == ["crisis.on", "agent.status"]
    assert entries[1].actor == "claire"
    assert entries[1].surface == "console"
    assert entries[1].target == "agent:1"
    assert entries[1].detail == {"to": "available"}


async def test_every_agent_status_change_is_kept_in_history(pool: asyncpg.Pool) -> None:
    """Adding an agent and changing their status leaves one history row per real change."""
    at = datetime(2026, 11, 25, 9, tzinfo=UTC)
    agent = await agents.add(pool, "Claire", "+33477000001", ["immigration"], at)
    await pool.execute("UPDATE agents SET status = 'available', updated_at = $2 WHERE id = $1",
                       agent.id, at + timedelta(minutes=1))
    await pool.execute("UPDATE agents SET note = 'x', updated_at = $2 WHERE id = $1",
                       agent.id, at + timedelta(minutes=2))
    rows = await pool.fetch(
        "SELECT status, at FROM agent_status_history WHERE agent_id = $1 ORDER BY id", agent.id)
    assert [(r["status"], r["at"]) for r in rows] == [
        ("offline", at), ("available", at + timedelta(minutes=1))]
