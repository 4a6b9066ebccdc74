"""Placing calls to agents through Twilio's REST API (or the simulator standing in for it)."""

from __future__ import annotations

import logging

from twilio.http.async_http_client import AsyncTwilioHttpClient
from twilio.rest import Client

from ivr.settings import Settings

log = logging.getLogger(__name__)


class Dialer:
    """An async Twilio client whose base URL comes from the settings."""

    def __init__(self, settings: Settings) -> None:
        self._http = AsyncTwilioHttpClient(timeout=10)
        self._client = Client(settings.twilio_account_sid, settings.twilio_auth_token,
                              http_client=self._http)
        # The simulator stands in for api.twilio.com by taking over this base URL.
        self._client.api.base_url = settings.twilio_api_base_url
        self._caller_id = settings.agent_caller_id

    async def place_call(self, *, to: str, answer_url: str, status_url: str,
                         fallback_url: str, ring_seconds: int) -> str:
        """Ring `to`; Twilio requests `answer_url` on answer. Returns the new CallSid."""
        call = await self._client.calls.create_async(
            to=to, from_=self._caller_id, url=answer_url, method="POST",
            fallback_url=fallback_url, fallback_method="POST",
            status_callback=status_url, status_callback_method="POST",
            status_callback_event=["initiated", "ringing", "answered", "completed"],
            timeout=ring_seconds)
        sid: str = call.sid
        return sid

    async def redirect_call(self, call_sid: str, url: str) -> None:
        """Move a call in progress to new TwiML at `url` (it leaves any bridge or queue)."""
        await self._client.calls(call_sid).update_async(url=url, method="POST")

    async def call_status(self, call_sid: str) -> str | None:
        """Twilio's status of a call (`completed`, `no-answer`, ...), or None if unknown."""
        try:
            call = await self._client.calls(call_sid).fetch_async()
        except Exception:  # the REST API unreachable or the call unknown: nothing learnt
            log.warning("fetching call %s failed", call_sid, exc_info=True)
            return None
        status: str | None = str(call.status) if call.status is not None else None
        return status

    async def close(self) -> None:
        """Close the HTTP session."""
        if self._http.session is not None:
            await self._http.session.close()
