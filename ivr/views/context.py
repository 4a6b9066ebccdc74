"""What every handler reads from the request: the app's parts and the Twilio form."""

from __future__ import annotations

import math
from dataclasses import dataclass

import asyncpg
from aiohttp import web
from aiohttp.web_request import FileField
from multidict import MultiDictProxy

from ivr import keys, twilio_form
from ivr.clock import Clock
from ivr.flow.model import Flow
from ivr.ids import strict_id as strict_id
from ivr.metrics import Metrics
from ivr.rings import RingPolicy
from ivr.settings import Settings

TWIML = "application/xml"
MAX_FIELD = 2000


@dataclass(frozen=True)
class Context:
    """The app's parts, gathered for one request."""

    settings: Settings
    pool: asyncpg.Pool
    clock: Clock
    flow: Flow
    metrics: Metrics

    @property
    def rings(self) -> RingPolicy:
        """The ring cadence and target from the settings."""
        return RingPolicy(self.settings.ring_cycle_seconds, self.settings.target_ring)


def context(request: web.Request) -> Context:
    """The app's parts."""
    app = request.app
    return Context(app[keys.SETTINGS], app[keys.POOL], app[keys.CLOCK], app[keys.FLOW],
                   app[keys.METRICS])


Form = MultiDictProxy[str | bytes | bytearray | FileField]


async def form(request: web.Request) -> Form:
    """The posted form, as the middleware read, verified and cleaned it."""
    verified: Form | None = request.get(twilio_form.FORM_KEY)
    return verified if verified is not None else await request.post()


def field(data: Form, name: str) -> str:
    """A text field, trimmed to a sane length and stripped of control characters."""
    value = data.get(name, "")
    if not isinstance(value, str):
        return ""
    return "".join(ch for ch in value[:MAX_FIELD] if ch.isprintable()).strip()


def number(data: Form, name: str) -> float | None:
    """A numeric form field, or None when absent or not a finite number."""
    try:
        value = float(field(data, name))
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def respond(body: str) -> web.Response:
    """An XML TwiML response."""
    return web.Response(text=body, content_type=TWIML)
