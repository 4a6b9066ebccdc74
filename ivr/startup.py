"""Start-up problems told in one line that names their cause, and the bounded database wait."""

from __future__ import annotations

import asyncio
import errno
import logging
import os
import time
from urllib.parse import urlsplit, urlunsplit

import asyncpg

log = logging.getLogger(__name__)
# What a database that is unreachable, still starting or refusing us raises.
DATABASE_ERRORS = (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError)
# What connecting (not a query) raises: the database is down, elsewhere, or refuses us.
CONNECT_ERRORS = (OSError, TimeoutError, asyncpg.InvalidAuthorizationSpecificationError,
                  asyncpg.InvalidCatalogNameError, asyncpg.CannotConnectNowError)
_BIND_ERRNOS = (errno.EADDRINUSE, errno.EADDRNOTAVAIL, errno.EACCES)


class StartupError(Exception):
    """A problem that stops a command; the message is one line naming the cause."""


def masked(url: str) -> str:
    """A database URL with its password hidden, fit for a log line."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.rsplit("@", 1)
    user = netloc[0].split(":", 1)[0]
    return urlunsplit(parts._replace(netloc=f"{user}:***@{netloc[1]}"))


def reason(exc: BaseException) -> str:
    """What went wrong, in a few words for a one-line message."""
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused (is the server running, on that host and port?)"
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror.lower()
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text[:200]


def database_error(exc: BaseException, url: str | None) -> StartupError:
    """The one line for a database that could not be reached or used."""
    if url is None:
        return StartupError(f"the embedded PostgreSQL failed: {reason(exc)}")
    return StartupError(f"cannot use the database at DATABASE_URL={masked(url)}: {reason(exc)}")


def bind_error(exc: OSError, host: str, port: int) -> StartupError | None:
    """The one line for a port that cannot be listened on, or None for other errors."""
    if exc.errno not in _BIND_ERRNOS:
        return None
    # asyncio wraps the cause in a long sentence; the errno says it in three words.
    return StartupError(f"cannot listen on {host}:{port} (IVR_HOST / IVR_PORT): "
                        f"{os.strerror(exc.errno or 0).lower()}")


async def wait_for_database(url: str, seconds: float) -> None:
    """Connect to `url`, retrying for up to `seconds` (a container starts before its database)."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            conn = await asyncpg.connect(url, timeout=5)
        except asyncpg.InvalidAuthorizationSpecificationError as exc:
            raise database_error(exc, url) from None  # a wrong password does not heal
        except DATABASE_ERRORS as exc:
            if time.monotonic() >= deadline:
                raise database_error(exc, url) from None
            log.warning("database at %s not reachable yet (%s); retrying for %.0f s more",
                        masked(url), reason(exc), deadline - time.monotonic())
            await asyncio.sleep(min(2.0, max(deadline - time.monotonic(), 0.1)))
            continue
        await conn.close()
        return
