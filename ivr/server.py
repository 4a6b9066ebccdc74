"""`ivr serve`: run the application until interrupted."""

from __future__ import annotations

import asyncio
import logging

from aiohttp import web

from ivr.app import create_app
from ivr.devmode import always_open
from ivr.flow.loader import load_flow
from ivr.logs import ACCESS_LOGGER, AccessLog, batch_logging, flushing
from ivr.settings import Settings
from ivr.startup import DATABASE_ERRORS, bind_error, database_error, wait_for_database
from ivr.timeouts import runner_options

log = logging.getLogger("ivr.server")


def _print_dev_secrets(settings: Settings, created: bool) -> None:
    path = settings.data_dir / "dev-secrets.json"
    if not created:
        # Printed once, when created: the file keeps them.
        print(f"ivr serve --dev: local secrets in {path}", flush=True)
        return
    print(f"ivr serve --dev: local secrets created (kept in {path}):")
    print(f"  TWILIO_AUTH_TOKEN={settings.twilio_auth_token}")
    print(f"  TWILIO_ACCOUNT_SID={settings.twilio_account_sid}")
    print(f"  IVR_ADMIN_TOKEN={settings.admin_token}", flush=True)


def serve(settings: Settings, *, new_secrets: bool = False, open_always: bool = False) -> int:
    """Serve the configured flow; raise StartupError with one line when it cannot start."""
    flow = load_flow(settings.flow_path)
    if open_always:
        flow = always_open(flow)
    if settings.dev:
        _print_dev_secrets(settings, new_secrets)
    if settings.database_url is not None:
        asyncio.run(wait_for_database(settings.database_url, settings.database_wait_seconds))
    app = create_app(settings, flow=flow)
    handler = batch_logging()
    app.cleanup_ctx.append(flushing(handler))

    def serving(_: str) -> None:
        # aiohttp calls this once every site listens: only then do we say we serve.
        hours = " (open at every hour: --open)" if open_always else ""
        print(f"serving {settings.flow_path}{hours} on http://{settings.host}:{settings.port} "
              f"(public URL {settings.public_url})", flush=True)
        if settings.dev:
            print(f"  try: ivr simulate --url {settings.public_url} --press 2", flush=True)

    try:
        web.run_app(app, host=settings.host, port=settings.port, print=serving,
                    access_log=ACCESS_LOGGER, access_log_class=AccessLog,
                    # SIGTERM: stop accepting, let requests in flight end within half the
                    # grace; the journal's last replay has the other half (ivr/replay.py).
                    shutdown_timeout=settings.shutdown_grace_seconds / 2,
                    **runner_options(settings))
    except OSError as exc:
        problem = bind_error(exc, settings.host, settings.port)
        if problem is None:
            raise database_error(exc, settings.database_url) from None
        raise problem from None
    except DATABASE_ERRORS as exc:
        raise database_error(exc, settings.database_url) from None
    finally:
        handler.flush()
    return 0
