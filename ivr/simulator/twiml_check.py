"""Parse TwiML the way Twilio does, and reject what Twilio would reject, with its error code."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field

# Twilio's error codes for documents it cannot use.
HTTP_FAILURE = 11200
PARSE_FAILURE = 12100
SCHEMA_INVALID = 12200
BAD_CONTENT_TYPE = 12300

TWIML_CONTENT_TYPES = ("text/xml", "application/xml")
_LANGUAGE = re.compile(r"^[a-z]{2,3}-[A-Z]{2}$")
_METHODS = {"GET", "POST"}
_BOOL = {"true", "false"}

# Verb -> (allowed attributes, allowed children, whether it carries text).
_VERBS: dict[str, tuple[set[str], set[str], bool]] = {
    "Say": ({"voice", "language", "loop"}, set(), True),
    "Play": ({"loop", "digits"}, set(), True),
    "Pause": ({"length"}, set(), False),
    "Gather": ({"input", "action", "method", "timeout", "speechTimeout", "numDigits",
                "finishOnKey", "language", "hints", "actionOnEmptyResult", "speechModel",
                "profanityFilter", "enhanced", "partialResultCallback",
                "partialResultCallbackMethod", "bargeIn", "debug"},
               {"Say", "Play", "Pause"}, False),
    "Redirect": ({"method"}, set(), True),
    "Hangup": (set(), set(), False),
    "Reject": ({"reason"}, set(), False),
    "Leave": (set(), set(), False),
    "Enqueue": ({"action", "method", "waitUrl", "waitUrlMethod", "workflowSid"},
                {"Task"}, True),
    "Dial": ({"action", "method", "timeout", "callerId", "hangupOnStar", "timeLimit", "record",
              "answerOnBridge", "ringTone", "trim"},
             {"Number", "Client", "Queue", "Sip", "Conference"}, True),
}
_NOUNS: dict[str, set[str]] = {
    "Number": {"url", "method", "sendDigits", "statusCallback", "statusCallbackEvent",
               "statusCallbackMethod"},
    "Client": {"url", "method", "statusCallback", "statusCallbackEvent", "statusCallbackMethod"},
    "Queue": {"url", "method", "reservationSid", "postWorkActivitySid"},
}


class TwimlError(Exception):
    """A document Twilio would refuse, with Twilio's error code."""

    def __init__(self, code: int, message: str) -> None:
        self.code = code
        super().__init__(f"{code}: {message}")


@dataclass(frozen=True)
class Verb:
    """One TwiML verb or noun with its attributes, text and children."""

    name: str
    attrs: dict[str, str]
    text: str
    children: tuple[Verb, ...] = field(default_factory=tuple)


def _int(verb: str, attrs: dict[str, str], name: str, low: int, high: int) -> None:
    if name in attrs:
        value = attrs[name]
        if not value.isdigit() or not low <= int(value) <= high:
            raise TwimlError(SCHEMA_INVALID, f"<{verb} {name}={value!r}> is out of range")


def _check_attrs(tag: str, attrs: dict[str, str]) -> None:
    for key in ("method", "waitUrlMethod"):
        if key in attrs and attrs[key].upper() not in _METHODS:
            raise TwimlError(SCHEMA_INVALID, f"<{tag} {key}={attrs[key]!r}> is not GET or POST")
    if "language" in attrs and not _LANGUAGE.match(attrs["language"]):
        raise TwimlError(SCHEMA_INVALID, f"<{tag} language={attrs['language']!r}> is unknown")
    if tag == "Gather":
        kinds = set(attrs.get("input", "dtmf").split())
        if not kinds or not kinds <= {"dtmf", "speech"}:
            raise TwimlError(SCHEMA_INVALID, f"<Gather input={attrs['input']!r}> is invalid")
        _int(tag, attrs, "timeout", 1, 600)
        _int(tag, attrs, "numDigits", 1, 100)
        if attrs.get("actionOnEmptyResult", "false") not in _BOOL:
            raise TwimlError(SCHEMA_INVALID, "<Gather actionOnEmptyResult> must be true/false")
        if len(attrs.get("hints", "")) > 10_000:
            raise TwimlError(SCHEMA_INVALID, "<Gather hints> is too long")
    limits = {"Pause": ("length", 0, 3600), "Say": ("loop", 0, 1000), "Play": ("loop", 0, 1000),
              "Dial": ("timeout", 5, 600)}
    if tag in limits:
        name, low, high = limits[tag]
        _int(tag, attrs, name, low, high)


def _verb(element: ET.Element, allowed: set[str], parent: str) -> Verb:
    tag = element.tag
    if tag not in allowed:
        raise TwimlError(SCHEMA_INVALID, f"<{tag}> is not allowed inside <{parent}>")
    children_allowed: set[str] = set()
    if tag in _NOUNS:
        attrs_allowed, has_text = _NOUNS[tag], True
    else:
        attrs_allowed, children_allowed, has_text = _VERBS[tag]
    attrs = dict(element.attrib)
    unknown = set(attrs) - attrs_allowed
    if unknown:
        raise TwimlError(SCHEMA_INVALID, f"<{tag}> has unknown attribute(s) {sorted(unknown)}")
    _check_attrs(tag, attrs)
    text = (element.text or "").strip()
    if text and not has_text:
        raise TwimlError(SCHEMA_INVALID, f"<{tag}> cannot contain text")
    if tag in ("Say", "Play", "Redirect", "Number", "Client", "Queue") and not text:
        raise TwimlError(SCHEMA_INVALID, f"<{tag}> needs text")
    if tag in ("Enqueue", "Queue") and len(text) > 64:
        raise TwimlError(SCHEMA_INVALID, f"<{tag}> queue name is longer than 64 characters")
    children = tuple(_verb(child, children_allowed, tag) for child in element)
    if tag == "Dial" and not text and not children:
        raise TwimlError(SCHEMA_INVALID, "<Dial> needs a number or a noun")
    return Verb(tag, attrs, text, children)


def parse(body: bytes, content_type: str, status: int,
          allowed: set[str] | None = None) -> list[Verb]:
    """The verbs of a TwiML answer, or TwimlError as Twilio would report it."""
    if status != 200:
        raise TwimlError(HTTP_FAILURE, f"HTTP status {status}")
    if content_type.split(";")[0].strip().lower() not in TWIML_CONTENT_TYPES:
        raise TwimlError(BAD_CONTENT_TYPE, f"Content-Type {content_type!r} is not TwiML")
    try:
        root = ET.fromstring(body)
    except ET.ParseError as exc:
        raise TwimlError(PARSE_FAILURE, f"document parse failure: {exc}") from None
    if root.tag != "Response":
        raise TwimlError(PARSE_FAILURE, f"root element is <{root.tag}>, not <Response>")
    if (root.text or "").strip():
        raise TwimlError(SCHEMA_INVALID, "<Response> cannot contain text")
    verbs = set(_VERBS) if allowed is None else allowed
    return [_verb(child, verbs, "Response") for child in root]


# Verbs Twilio runs in a waitUrl document and in a <Queue url> document.
WAIT_VERBS = {"Play", "Say", "Pause", "Hangup", "Redirect", "Leave", "Gather"}
QUEUE_URL_VERBS = {"Play", "Say", "Pause", "Redirect"}
