"""The post-call survey's answers: one per call and question, whatever Twilio retries."""

from __future__ import annotations

from datetime import datetime

import asyncpg


async def record(pool: asyncpg.Pool, call_sid: str, question: str, service: str, answer: str,
                 now: datetime) -> bool:
    """Store an answer; False when this call already answered this question."""
    status = await pool.execute(
        """INSERT INTO survey_answers (call_sid, question, service, answer, at)
           VALUES ($1, $2, $3, $4, $5) ON CONFLICT (call_sid, question) DO NOTHING""",
        call_sid, question, service, answer, now)
    return status.endswith(" 1")


async def answers_of(pool: asyncpg.Pool, call_sid: str) -> dict[str, str]:
    """A call's answers by question."""
    rows = await pool.fetch("SELECT question, answer FROM survey_answers WHERE call_sid = $1",
                            call_sid)
    return {r["question"]: r["answer"] for r in rows}


async def satisfaction_by_service(pool: asyncpg.Pool, since: datetime,
                                  until: datetime) -> dict[str, tuple[int, int]]:
    """Per service: callers who answered the satisfaction question, and those satisfied (4-5)."""
    rows = await pool.fetch(
        """SELECT service, count(*) AS answered,
                  count(*) FILTER (WHERE answer IN ('4', '5')) AS satisfied
           FROM survey_answers WHERE question = 'satisfaction' AND at >= $1 AND at < $2
           GROUP BY service""", since, until)
    return {r["service"]: (r["answered"], r["satisfied"]) for r in rows}
