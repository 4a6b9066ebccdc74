"""`ivr serve`: run the application until interrupted."""

from __future__ import annotations

import logging

from aiohttp import web

from ivr.app import create_app
from ivr.logs import ACCESS_LOGGER, AccessLog, batch_logging, flushing
from ivr.settings import Settings

log = logging.getLogger("ivr.server")


def serve(settings: Settings) -> int:
    """Serve the configured flow; print the local secrets in --dev mode."""
    app = create_app(settings)
    if settings.dev:
        print("ivr serve --dev: local secrets (kept in "
              f"{settings.data_dir / 'dev-secrets.json'}):")
        print(f"  TWILIO_AUTH_TOKEN={settings.twilio_auth_token}")
        print(f"  TWILIO_ACCOUNT_SID={settings.twilio_account_sid}")
        print(f"  IVR_ADMIN_TOKEN={settings.admin_token}")
        print(f"  try: ivr simulate --url {settings.public_url} --press 2", flush=True)
    log.info("serving flow %s on http://%s:%s (public URL %s)", settings.flow_path,
             settings.host, settings.port, settings.public_url)
    handler = batch_logging()
    app.cleanup_ctx.append(flushing(handler))
    try:
        web.run_app(app, host=settings.host, port=settings.port, print=None,
                    access_log=ACCESS_LOGGER, access_log_class=AccessLog)
    finally:
        handler.flush()
    return 0
