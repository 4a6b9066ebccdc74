"""Absolute URLs the server hands to Twilio, all under IVR_PUBLIC_URL."""

from __future__ import annotations

from urllib.parse import urlencode

from ivr.settings import Settings


def _url(settings: Settings, path: str, query: dict[str, str] | None = None) -> str:
    suffix = f"?{urlencode(sorted(query.items()))}" if query else ""
    return f"{settings.public_url}{path}{suffix}"


def gather_url(settings: Settings, position: dict[str, str]) -> str:
    """Where the menu's <Gather> posts, with the caller's position in the query."""
    return _url(settings, "/twilio/gather", position)


def wait_url(settings: Settings, service: str, *, intro: bool = False,
             lang: str | None = None) -> str:
    """The <Enqueue> waitUrl of a service's queue (`intro`: its first round plays the intro).

    `lang`: the caller's language when it is not the flow's first one.
    """
    return _url(settings, "/twilio/queue/wait",
                {"service": service, **({"intro": "1"} if intro else {}),
                 **({"lang": lang} if lang else {})})


def enqueue_done_url(settings: Settings, service: str, lang: str | None = None) -> str:
    """The <Enqueue> action: Twilio posts here when the caller leaves the queue."""
    return _url(settings, "/twilio/queue/done",
                {"service": service, **({"lang": lang} if lang else {})})


def pickup_url(settings: Settings, offer_id: int) -> str:
    """The <Queue url> requested on the caller's side at the moment an agent picks up."""
    return _url(settings, "/twilio/queue/pickup", {"offer": str(offer_id)})


def agent_answer_url(settings: Settings, offer_id: int) -> str:
    """What Twilio requests when the agent answers an offer."""
    return _url(settings, "/twilio/agent/answer", {"offer": str(offer_id)})


def agent_fallback_url(settings: Settings, offer_id: int) -> str:
    """The agent leg's FallbackUrl: what Twilio requests when the answer URL fails."""
    return _url(settings, "/twilio/agent/fallback", {"offer": str(offer_id)})


def agent_accept_url(settings: Settings, offer_id: int) -> str:
    """Where the standardist's key goes: the bridge to the caller."""
    return _url(settings, "/twilio/agent/accept", {"offer": str(offer_id)})


def agent_no_key_url(settings: Settings, offer_id: int) -> str:
    """Where the agent leg goes when no key came: a voicemail, or nobody there."""
    return _url(settings, "/twilio/agent/no-key", {"offer": str(offer_id)})


def agent_dial_done_url(settings: Settings, offer_id: int) -> str:
    """The agent's <Dial> action, after the conversation."""
    return _url(settings, "/twilio/agent/dial-done", {"offer": str(offer_id)})


def agent_status_url(settings: Settings, offer_id: int) -> str:
    """Status callbacks of the agent's leg."""
    return _url(settings, "/twilio/agent/status", {"offer": str(offer_id)})


def hold_music_url(settings: Settings, clip: int) -> str:
    """One short clip of the app's own hold music (see ivr/hold_music.py)."""
    return _url(settings, f"/audio/hold/{clip}.wav")


def ringback_url(settings: Settings) -> str:
    """One cycle of the French ringback tone, served by the app."""
    return _url(settings, "/audio/ringback.wav")


def survey_url(settings: Settings, service: str, question: str,
               lang: str | None = None) -> str:
    """Where a survey question's <Gather> posts its key (`lang`: the caller's, if not first)."""
    return _url(settings, "/twilio/survey", {"service": service, "question": question,
                                             **({"lang": lang} if lang else {})})


def transfer_url(settings: Settings, service: str) -> str:
    """What a transferred caller's call is redirected to: the new service's <Enqueue>."""
    return _url(settings, "/twilio/transfer", {"service": service})


def transfer_wait_url(settings: Settings, service: str) -> str:
    """The waitUrl of a transferred caller: its wait limit runs from the transfer."""
    return _url(settings, "/twilio/queue/wait", {"service": service, "transfer": "1"})


def callback_request_url(settings: Settings, service: str, lang: str | None = None) -> str:
    """Where the waitUrl's callback <Gather> posts the key (issue 16)."""
    return _url(settings, "/twilio/callback/request",
                {"service": service, **({"lang": lang} if lang else {})})


def callback_confirm_url(settings: Settings, callback_id: int, tries: int = 0) -> str:
    """Where the caller confirms or keys the number to call back."""
    return _url(settings, "/twilio/callback/confirm",
                {"callback": str(callback_id), "tries": str(tries)})


def callback_agent_url(settings: Settings, offer_id: int, callback_id: int) -> str:
    """What Twilio requests when the standardist answers a callback's offer."""
    return _url(settings, "/twilio/callback/agent",
                {"offer": str(offer_id), "callback": str(callback_id)})


def callback_reached_url(settings: Settings, offer_id: int, callback_id: int) -> str:
    """The <Number url> run on the caller's phone when they answer the callback."""
    return _url(settings, "/twilio/callback/reached",
                {"offer": str(offer_id), "callback": str(callback_id)})


def callback_dial_done_url(settings: Settings, offer_id: int, callback_id: int) -> str:
    """The standardist's <Dial> action after calling the caller back."""
    return _url(settings, "/twilio/callback/dial-done",
                {"offer": str(offer_id), "callback": str(callback_id)})
