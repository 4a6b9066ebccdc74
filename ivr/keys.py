"""Typed keys for everything the aiohttp application holds."""

from __future__ import annotations

import asyncpg
from aiohttp import web
from twilio.request_validator import RequestValidator

from ivr.clock import Clock
from ivr.crisis_cache import CrisisCache
from ivr.dialer import Dialer
from ivr.dispatch import Dispatcher
from ivr.flow.model import Flow
from ivr.metrics import Metrics
from ivr.settings import Settings

SETTINGS = web.AppKey("settings", Settings)
CLOCK = web.AppKey("clock", Clock)
FLOW = web.AppKey("flow", Flow)
METRICS = web.AppKey("metrics", Metrics)
VALIDATOR = web.AppKey("validator", RequestValidator)
POOL = web.AppKey("pool", asyncpg.Pool)
DIALER = web.AppKey("dialer", Dialer)
CRISIS = web.AppKey("crisis", CrisisCache)
DISPATCHER = web.AppKey("dispatcher", Dispatcher)
