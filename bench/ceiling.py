"""The ceiling: the bare stack a webhook server cannot beat on this machine.

aiohttp reads the form, one asyncpg INSERT records the call, and the twilio library builds a
greeting TwiML comparable to the real one (a <Gather> with two <Say>). No signature check,
no flow, no metrics, no access log: what is left is the price of the stack itself.
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import asyncpg
from aiohttp import web
from twilio.twiml.voice_response import VoiceResponse

DB = web.AppKey("db", asyncpg.Pool)
SCHEMA = """CREATE TABLE IF NOT EXISTS calls (
    call_sid text PRIMARY KEY, called text, arrived_at timestamptz NOT NULL)"""


async def voice(request: web.Request) -> web.Response:
    """Record the call with one INSERT and answer a greeting with a <Gather>."""
    form = await request.post()
    await request.app[DB].execute(
        "INSERT INTO calls (call_sid, called, arrived_at) VALUES ($1, $2, $3)",
        str(form.get("CallSid", "")), str(form.get("To", "")), datetime.now(UTC))
    response = VoiceResponse()
    gather = response.gather(input="dtmf speech", action="/twilio/gather?seq=0&step=menu",
                             method="POST", num_digits=1, timeout=6, language="fr-FR")
    gather.say("Bonjour et bienvenue à la préfecture.", voice="Polly.Lea", language="fr-FR")
    gather.say("Pour la gestion de crise, tapez 1.", voice="Polly.Lea", language="fr-FR")
    return web.Response(text=str(response), content_type="application/xml")


async def calls(request: web.Request) -> web.Response:
    """How many calls were recorded (the harness checks none was lost)."""
    count = await request.app[DB].fetchval("SELECT count(*) FROM calls")
    return web.Response(text=f"{count}\n")


def main() -> None:
    """Serve until killed."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--database-url", required=True)
    args = parser.parse_args()

    async def database(app: web.Application) -> AsyncIterator[None]:
        pool = await asyncpg.create_pool(args.database_url, min_size=1, max_size=10)
        assert pool is not None
        await pool.execute(SCHEMA)
        app[DB] = pool
        yield
        await pool.close()

    app = web.Application()
    app.cleanup_ctx.append(database)
    app.router.add_post("/twilio/voice", voice)
    app.router.add_get("/calls", calls)
    web.run_app(app, host="127.0.0.1", port=args.port, print=None, access_log=None,
                loop=asyncio.new_event_loop())


if __name__ == "__main__":
    main()
