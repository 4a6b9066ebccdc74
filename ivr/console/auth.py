"""Console sign-in: Argon2 passwords, session cookies, CSRF tokens and sign-in throttling."""

from __future__ import annotations

import asyncio
import functools
import hmac
import secrets
from datetime import timedelta

from aiohttp import web
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from ivr import keys
from ivr.store import accounts

COOKIE = "ivr_console"
LOGIN_COOKIE = "ivr_console_login"  # double-submit token of the sign-in form
SESSION_LIFETIME = timedelta(hours=12)
THROTTLE_WINDOW = timedelta(minutes=15)
MAX_FAILURES_PER_LOGIN = 5
MAX_FAILURES_PER_ADDRESS = 20
MIN_PASSWORD = 8
_hasher = PasswordHasher()


@functools.cache
def _dummy_hash() -> str:
    # Verified when the login names nobody, so an unknown login takes as long as a known one.
    return _hasher.hash(secrets.token_urlsafe(16))


def hash_password(password: str) -> str:
    """The Argon2id hash stored for a password."""
    if len(password) < MIN_PASSWORD:
        raise ValueError(f"password: at least {MIN_PASSWORD} characters")
    return _hasher.hash(password)


def _verify(hashed: str | None, password: str) -> bool:
    try:
        return _hasher.verify(hashed or _dummy_hash(), password) and hashed is not None
    except (VerificationError, InvalidHashError):
        return False


async def check_password(hashed: str | None, password: str) -> bool:
    """Argon2 verification, off the event loop (it takes tens of milliseconds on purpose)."""
    return await asyncio.get_running_loop().run_in_executor(None, _verify, hashed, password)


def _secure(request: web.Request) -> bool:
    return request.app[keys.SETTINGS].public_url.startswith("https://")


def set_cookie(response: web.StreamResponse, request: web.Request, name: str,
               value: str) -> None:
    """A console cookie: HttpOnly, SameSite=Strict, Secure when served over https."""
    response.set_cookie(name, value, path="/console", httponly=True, samesite="Strict",
                        secure=_secure(request))


def same_token(given: object, expected: str) -> bool:
    """Constant-time comparison of a submitted token with the expected one."""
    return isinstance(given, str) and bool(given) and hmac.compare_digest(given.encode(),
                                                                         expected.encode())


async def current(request: web.Request) -> accounts.Session | None:
    """The signed-in session of this request, if any."""
    token = request.cookies.get(COOKIE)
    if not token or len(token) > 200:
        return None
    return await accounts.session(request.app[keys.POOL], token, request.app[keys.CLOCK].now())


async def start_session(request: web.Request, response: web.StreamResponse,
                        agent_id: int) -> None:
    """Open a session for the agent and give the browser its cookie."""
    token = secrets.token_urlsafe(32)
    await accounts.open_session(request.app[keys.POOL], agent_id, token,
                                secrets.token_urlsafe(32), request.app[keys.CLOCK].now(),
                                SESSION_LIFETIME)
    set_cookie(response, request, COOKIE, token)


async def end_session(request: web.Request, response: web.StreamResponse) -> None:
    """Forget this browser's session."""
    token = request.cookies.get(COOKIE)
    if token:
        await accounts.close_session(request.app[keys.POOL], token)
    response.del_cookie(COOKIE, path="/console")


def address(request: web.Request) -> str:
    """The peer's address (behind a proxy, the proxy's: throttle per login still holds)."""
    return request.remote or "unknown"


async def throttled(request: web.Request, login: str) -> bool:
    """Too many recent failures for this login or from this address."""
    since = request.app[keys.CLOCK].now() - THROTTLE_WINDOW
    by_login, by_address = await accounts.recent_failures(request.app[keys.POOL], login,
                                                          address(request), since)
    return by_login >= MAX_FAILURES_PER_LOGIN or by_address >= MAX_FAILURES_PER_ADDRESS
