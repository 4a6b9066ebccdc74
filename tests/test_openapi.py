"""The admin API against its own OpenAPI document, driven by schemathesis over HTTP."""

from __future__ import annotations

import asyncio
import socket
from typing import Any

import asyncpg
import requests
import schemathesis
from aiohttp import web
from hypothesis import HealthCheck, given
from hypothesis import settings as hyp_settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.result import Err
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_schema_conformance,
    status_code_conformance,
)

from ivr.app import create_app
from ivr.flow.model import Flow
from ivr.settings import Settings
from ivr.views.openapi import document

AUTH = {"Authorization": "Bearer admin-token-for-tests"}
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
          response_schema_conformance, negative_data_rejection]


def _exercise(base_url: str, examples: int, services: list[str]) -> int:
    """Send generated valid and invalid requests for every operation; how many were sent."""
    schema = schemathesis.openapi.from_dict(document(services))
    sent = 0
    with requests.Session() as session:
        for result in schema.get_all_operations():
            if isinstance(result, Err):  # an operation the document fails to describe
                raise result.err()
            operation = result.ok()
            for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

                @hyp_settings(max_examples=examples, deadline=None, database=None,
                              derandomize=True, suppress_health_check=list(HealthCheck))
                @given(case=operation.as_strategy(generation_mode=mode))
                def check(case: Any) -> None:
                    nonlocal sent
                    response = case.call(base_url=base_url, session=session, headers=AUTH)
                    case.validate_response(response, checks=CHECKS)
                    sent += 1

                check()
    return sent


async def test_admin_api_keeps_to_its_openapi_document(
        settings: Settings, flow: Flow, pool: asyncpg.Pool) -> None:
    """Every operation, with valid and invalid generated input: answers documented, bodies
    as described, invalid input refused with a 4xx, never a 500."""
    app = create_app(settings, flow=flow, pool=pool)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        served = await asyncio.to_thread(
            requests.get, f"http://127.0.0.1:{port}/admin/openapi.json", headers=AUTH,
            timeout=10)
        services = list(flow.services)
        assert served.json() == document(services)
        sent = await asyncio.to_thread(_exercise, f"http://127.0.0.1:{port}", 40, services)
    finally:
        await runner.cleanup()
    print(f"\n{sent} generated requests")
    assert sent >= 6 * 2 * 10  # every operation got generated requests in both modes
