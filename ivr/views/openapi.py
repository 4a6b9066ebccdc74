"""The admin API described as OpenAPI 3.0, served at /admin/openapi.json."""

from __future__ import annotations

import copy
from typing import Any

from aiohttp import web

from ivr import keys
from ivr.store.agents import STATUSES
from ivr.store.crisis import MAX_MESSAGE


def _json(schema: dict[str, Any]) -> dict[str, Any]:
    return {"application/json": {"schema": schema}}


def _answer(description: str, schema: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"description": description, **({"content": _json(schema)} if schema else {})}


ERROR = {"$ref": "#/components/schemas/Error"}
AGENT = {"$ref": "#/components/schemas/Agent"}
CRISIS = {"$ref": "#/components/schemas/Crisis"}
REFUSED = {"400": _answer("bad input, the message says which field", ERROR),
           "401": _answer("missing or wrong bearer token", ERROR),
           "413": _answer("body too large"),
           "503": _answer("database unavailable", ERROR)}
# The services are the flow's: `document()` fills in their names.
SERVICE: dict[str, Any] = {"type": "string"}
AGENT_ID = {"name": "agent_id", "in": "path", "required": True,
            "schema": {"type": "string", "pattern": "^[0-9]{1,9}$"}}
CALL_SID = {"name": "call_sid", "in": "path", "required": True,
            "schema": {"type": "string", "pattern": "^CA[0-9a-f]{32}$"}}
TEXT = {"type": "string", "pattern": "^[^\\x00-\\x1f\\x7f]*$"}

DOCUMENT: dict[str, Any] = {
    "openapi": "3.0.3",
    "info": {"title": "ivr admin API", "version": "1",
             "description": "Crisis announcement and standardists. Every change is audited "
                            "with the actor the bearer token names."},
    "security": [{"bearer": []}],
    "paths": {
        "/admin/crisis": {
            "get": {"operationId": "getCrisis", "responses": {
                "200": _answer("the announcement's state", CRISIS), **REFUSED}},
            "post": {"operationId": "setCrisis", "requestBody": {
                "required": True, "content": _json({
                "type": "object", "additionalProperties": False, "required": ["active"],
                "properties": {
                    "active": {"type": "boolean"},
                    "message": {**TEXT, "nullable": True, "maxLength": MAX_MESSAGE},
                    "until": {"type": "string", "format": "date-time", "nullable": True}}})},
                "responses": {"200": _answer("the new state", CRISIS), **REFUSED}},
        },
        "/admin/agents": {
            "get": {"operationId": "listAgents", "responses": {
                "200": _answer("every current agent", {"type": "array", "items": AGENT}),
                **REFUSED}},
            "post": {"operationId": "addAgent", "requestBody": {"required": True, "content": _json({
                "type": "object", "additionalProperties": False,
                "required": ["name", "contact", "services"],
                "properties": {
                    "name": {**TEXT, "minLength": 1, "maxLength": 100},
                    "contact": {"type": "string",
                                "pattern": "^(\\+[1-9][0-9]{7,14}|client:[A-Za-z0-9_.-]{1,64})$"},
                    "services": {"type": "array", "minItems": 1,
                                 "items": SERVICE}}})},
                "responses": {"201": _answer("the new agent, offline", AGENT), **REFUSED}},
        },
        "/admin/agents/{agent_id}": {
            "delete": {"operationId": "removeAgent", "parameters": [AGENT_ID], "responses": {
                "204": _answer("retired; offers and history kept"),
                "404": _answer("no such agent", ERROR), **REFUSED}},
        },
        "/admin/agents/{agent_id}/status": {
            "post": {"operationId": "setAgentStatus", "parameters": [AGENT_ID],
                     "requestBody": {"required": True, "content": _json({
                         "type": "object", "additionalProperties": False,
                         "required": ["status"],
                         "properties": {"status": {"type": "string", "enum": list(STATUSES)},
                                        "note": {**TEXT, "nullable": True,
                                                 "maxLength": 200}}})},
                     "responses": {"200": _answer("the agent; their leftover offers ended",
                                                  AGENT),
                                   "404": _answer("no such agent", ERROR), **REFUSED}},
        },
        "/admin/calls/{call_sid}/transfer": {
            "post": {"operationId": "transferCall", "parameters": [CALL_SID],
                     "requestBody": {"required": True, "content": _json({
                         "type": "object", "additionalProperties": False,
                         "required": ["service"],
                         "properties": {"service": SERVICE,
                                        "by": {**TEXT, "nullable": True, "maxLength": 100}}})},
                     "responses": {"200": _answer("the caller is queued for the new service", {
                         "type": "object",
                         "required": ["call_sid", "from_service", "to_service"],
                         "properties": {"call_sid": {"type": "string"},
                                        "from_service": {"type": "string"},
                                        "to_service": {"type": "string"}}}),
                                   "404": _answer("no such call", ERROR),
                                   "409": _answer("the call cannot be transferred now", ERROR),
                                   "502": _answer("Twilio refused to redirect the call", ERROR),
                                   **REFUSED}},
        },
        "/admin/openapi.json": {
            "get": {"operationId": "openapi", "responses": {
                "200": _answer("this document", {"type": "object"}), **REFUSED}},
        },
    },
    "components": {
        "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        "schemas": {
            "Error": {"type": "object", "required": ["error"],
                      "properties": {"error": {"type": "string"}}},
            "Agent": {"type": "object",
                      "required": ["id", "name", "contact", "services", "status", "note"],
                      "properties": {
                          "id": {"type": "integer"}, "name": {"type": "string"},
                          "contact": {"type": "string"},
                          "services": {"type": "array", "items": {"type": "string"}},
                          "status": {"type": "string", "enum": list(STATUSES)},
                          "note": {"type": "string", "nullable": True}}},
            "Crisis": {"type": "object",
                       "required": ["active", "message", "until", "changed_at", "changed_by"],
                       "properties": {
                           "active": {"type": "boolean"},
                           "message": {"type": "string", "nullable": True},
                           "until": {"type": "string", "nullable": True},
                           "changed_at": {"type": "string", "nullable": True},
                           "changed_by": {"type": "string", "nullable": True}}},
        },
    },
}


def document(services: list[str]) -> dict[str, Any]:
    """The document with the flow's service names as the only accepted ones."""
    filled = copy.deepcopy(DOCUMENT)
    post = filled["paths"]["/admin/agents"]["post"]
    schema = post["requestBody"]["content"]["application/json"]["schema"]
    schema["properties"]["services"]["items"] = {**SERVICE, "enum": services}
    move = filled["paths"]["/admin/calls/{call_sid}/transfer"]["post"]
    move["requestBody"]["content"]["application/json"]["schema"]["properties"]["service"] = {
        **SERVICE, "enum": services}
    return filled


async def openapi(request: web.Request) -> web.Response:
    """The admin API's OpenAPI document."""
    return web.json_response(document(list(request.app[keys.FLOW].services)))
