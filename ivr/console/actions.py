"""What the console's forms change, each change recorded in the audit log with its author."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from aiohttp import web

from ivr import keys
from ivr.console.text import BREAK_PREFIX
from ivr.store import accounts, agents, audit, console_live, crisis, transfers
from ivr.views.transfer import TransferError, transfer_call

CHOICES = ("available", "break", "offline")
MAX_REASON = 100


class Refused(Exception):
    """A change the console refuses; the code names a fixed French message."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


def actor(account: accounts.Account) -> str:
    """How the audit log names a console user."""
    return f"{account.name} (#{account.agent_id})"


async def change_status(app: web.Application, by: accounts.Account, agent_id: int,
                        choice: str, reason: str) -> None:
    """Make an agent available, on a break (with a reason) or offline."""
    if choice not in CHOICES:
        raise Refused("bad_status")
    pool, now = app[keys.POOL], app[keys.CLOCK].now()
    note: str | None = None
    if choice == "break":
        if not reason.strip() or len(reason) > MAX_REASON:
            raise Refused("reason")
        note = BREAK_PREFIX + reason.strip()
    # Available while the phone rings or a call goes on would offer them a second caller.
    if choice == "available" and await console_live.has_live_offer(pool, agent_id):
        raise Refused("on_call")
    status = "available" if choice == "available" else "offline"
    changed = await agents.set_status(pool, agent_id, status, now, note)
    if changed is None:
        raise Refused("no_agent")
    await audit.record(pool, at=now, actor=actor(by), surface="console", action="agent.status",
                       target=f"agent:{agent_id}", detail={"to": status, "note": note})
    if status == "available":
        await app[keys.DISPATCHER].wake()


def parse_until(raw: str, timezone: str) -> datetime | None:
    """A `datetime-local` field's value, read in the prefecture's time zone."""
    if not raw.strip():
        return None
    try:
        parsed = datetime.fromisoformat(raw.strip())
    except ValueError:
        raise Refused("until") from None
    return parsed.replace(tzinfo=ZoneInfo(timezone)) if parsed.tzinfo is None else parsed


async def switch_crisis(app: web.Application, by: accounts.Account, on: bool, message: str,
                        until_raw: str) -> None:
    """Switch the crisis announcement, through the same store as `ivr crisis`."""
    now = app[keys.CLOCK].now()
    until = parse_until(until_raw, app[keys.FLOW].timezone) if on else None
    if on and not message.strip():
        raise Refused("message")
    if len(message) > crisis.MAX_MESSAGE:
        raise Refused("message_long")
    if until is not None and until <= now:
        raise Refused("until_past")
    await crisis.switch(app[keys.POOL], active=on, message=message if on else None, until=until,
                        now=now, by=actor(by))
    if keys.CRISIS in app:
        app[keys.CRISIS].invalidate()
    await audit.record(app[keys.POOL], at=now, actor=actor(by), surface="console",
                       action="crisis.on" if on else "crisis.off", target="crisis",
                       detail={"message": message if on else None, "until": until})


async def transfer_my_call(app: web.Application, by: accounts.Account, service: str) -> None:
    """Send the caller the standardist is talking to to another service's queue."""
    call_sid = await transfers.current_caller(app[keys.POOL], by.agent_id)
    if call_sid is None:
        raise Refused("no_call")
    try:
        await transfer_call(app, call_sid, service, actor(by), "console")
    except TransferError as exc:
        raise Refused("transfer_same" if exc.status == 409 and "already" in str(exc)
                      else "transfer_failed") from None
