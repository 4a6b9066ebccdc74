"""Small helpers shared by tests: signing requests and building Twilio's parameters."""

from __future__ import annotations

from typing import Any

from aiohttp.test_utils import TestClient
from twilio.request_validator import RequestValidator

from tests.conftest import ACCOUNT_SID, AUTH_TOKEN


def call_params(call_sid: str = "CA" + "1" * 32, **extra: str) -> dict[str, str]:
    """The parameters Twilio sends with every voice request."""
    return {"CallSid": call_sid, "AccountSid": ACCOUNT_SID, "From": "+33611223344",
            "To": "+33477481234", "Caller": "+33611223344", "Called": "+33477481234",
            "CallStatus": "in-progress", "Direction": "inbound", "ApiVersion": "2010-04-01",
            **extra}


def signature(url: str, params: dict[str, str], token: str = AUTH_TOKEN) -> str:
    """X-Twilio-Signature as Twilio computes it."""
    value: str = RequestValidator(token).compute_signature(url, params)
    return value


async def signed_post(client: TestClient[Any, Any], public_url: str, path: str,
                      params: dict[str, str], token: str = AUTH_TOKEN) -> tuple[int, str]:
    """POST `params` to `path`, signed for `public_url` + `path`."""
    headers = {"X-Twilio-Signature": signature(public_url + path, params, token)}
    response = await client.post(path, data=params, headers=headers)
    return response.status, await response.text()
