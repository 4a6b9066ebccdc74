"""Strict reading of a Twilio webhook's body and query: form-encoded UTF-8, one value a key."""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import parse_qsl

from aiohttp import web
from multidict import MultiDict, MultiDictProxy

MAX_FORM_BYTES = 64 * 1024
FORM_TYPE = "application/x-www-form-urlencoded"
# C0 controls and DEL: Twilio never sends them; NUL would make PostgreSQL refuse a jsonb value.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
# The verified, cleaned form the guard hands to handlers.
FORM_KEY = web.RequestKey("ivr.twilio_form", MultiDictProxy[str])


@dataclass(frozen=True)
class Refusal(Exception):
    """Why a request is refused before its signature is even checked."""

    status: int
    reason: str


def _pairs(text: str) -> list[tuple[str, str]]:
    """Percent-decoded pairs; bytes that are not UTF-8 are refused, not replaced."""
    try:
        return parse_qsl(text, keep_blank_values=True, encoding="utf-8", errors="strict")
    except (UnicodeDecodeError, ValueError):
        raise Refusal(400, "not_utf8") from None


def _single(pairs: list[tuple[str, str]], where: str) -> MultiDict[str]:
    """The pairs as a mapping; a repeated key is refused (Twilio sends each parameter once)."""
    seen: MultiDict[str] = MultiDict()
    for key, value in pairs:
        if key in seen:
            raise Refusal(400, f"repeated_{where}_key")
        seen.add(key, value)
    return seen


def check_content_type(request: web.Request) -> None:
    """Only a form body in UTF-8 (or with no charset): JSON and other charsets are refused."""
    if not request.body_exists and not request.headers.get("Content-Type"):
        return  # an empty POST: no parameters at all, the signature check decides
    if request.content_type != FORM_TYPE:
        raise Refusal(415, "content_type")
    charset = request.charset
    if charset is not None and charset.lower().replace("_", "-") not in ("utf-8", "utf8"):
        raise Refusal(415, "charset")


def query(request: web.Request) -> MultiDict[str]:
    """The query string, decoded strictly, one value a key."""
    return _single(_pairs(request.rel_url.raw_query_string), "query")


async def read(request: web.Request) -> MultiDict[str]:
    """The posted form exactly as sent (what Twilio signed), decoded strictly."""
    check_content_type(request)
    if request.content_length is not None and request.content_length > MAX_FORM_BYTES:
        raise Refusal(413, "too_large")
    body = await request.read()  # aiohttp's client_max_size bounds it; cached for handlers
    if len(body) > MAX_FORM_BYTES:
        raise Refusal(413, "too_large")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise Refusal(400, "not_utf8") from None
    return _single(_pairs(text), "form")


def clean(params: MultiDict[str]) -> MultiDictProxy[str]:
    """The verified form for handlers, with control characters taken out of every value."""
    return MultiDictProxy(MultiDict((key, _CONTROL.sub("", value))
                                    for key, value in params.items()))


def check_query(params: MultiDict[str]) -> None:
    """Our own URLs never carry control characters: one in the query is forged input."""
    if any(_CONTROL.search(key) or _CONTROL.search(value) for key, value in params.items()):
        raise Refusal(400, "control_character")
