"""The only place TwiML is built, always through twilio's VoiceResponse (never by strings)."""

from __future__ import annotations

from collections.abc import Iterable

from twilio.twiml.voice_response import Gather, VoiceResponse

from ivr.flow.model import Prompt, Voice

# Twilio accepts at most 100 characters per hint and a hints list of limited length.
_MAX_HINTS = 100


def _speak(node: VoiceResponse | Gather, prompts: Iterable[Prompt], voice: Voice) -> None:
    for prompt in prompts:
        if prompt.audio_url:
            node.play(prompt.audio_url)
        elif prompt.text:
            spoken = prompt.voice or voice
            node.say(prompt.text, voice=spoken.voice, language=spoken.language)


def ask(prompts: Iterable[Prompt], voice: Voice, *, action_url: str, hints: Iterable[str],
        timeout: int) -> str:
    """Prompts inside a <Gather> for one key or a phrase, posting even when nothing is heard."""
    response = VoiceResponse()
    gather = response.gather(
        input="dtmf speech", action=action_url, method="POST", num_digits=1, timeout=timeout,
        speech_timeout="auto", language=voice.language, action_on_empty_result=True,
        hints=",".join(h[:100] for h in list(hints)[:_MAX_HINTS]) or None,
    )
    _speak(gather, prompts, voice)
    return str(response)


def enqueue(prompts: Iterable[Prompt], voice: Voice, *, queue_name: str, wait_url: str,
            action_url: str) -> str:
    """Prompts (if any), then the caller waits in a named queue."""
    response = VoiceResponse()
    _speak(response, prompts, voice)
    response.enqueue(queue_name, action=action_url, method="POST", wait_url=wait_url,
                     wait_url_method="POST")
    return str(response)


def say_and_hang_up(prompts: Iterable[Prompt], voice: Voice) -> str:
    """Prompts, then the end of the call."""
    response = VoiceResponse()
    _speak(response, prompts, voice)
    response.hangup()
    return str(response)


def closed_with_choice(choice: Iterable[Prompt], rest: Iterable[Prompt], voice: Voice, *,
                       action_url: str) -> str:
    """The closed greeting in a one-key <Gather> (another language's key), then the rest.

    Only the greeting and the offers can be cut: the closed message itself plays to its end.
    """
    response = VoiceResponse()
    gather = response.gather(input="dtmf", action=action_url, method="POST", num_digits=1,
                             timeout=1)
    _speak(gather, choice, voice)
    _speak(response, rest, voice)
    response.hangup()
    return str(response)


def wait_music(voice: Voice, *, music_url: str | None, ringback_url: str,
               announcement: Prompt | None, intro: Iterable[Prompt] = ()) -> str:
    """One round of waiting: the intro and an announcement if any, then music or ringback."""
    response = VoiceResponse()
    _speak(response, intro, voice)
    if announcement is not None:
        _speak(response, [announcement], voice)
    response.play(music_url or ringback_url)
    return str(response)


def leave_queue(intro: Iterable[Prompt] = (), voice: Voice | None = None) -> str:
    """Take the caller out of the queue (after the intro, if any); then the <Enqueue> action."""
    response = VoiceResponse()
    _speak(response, intro, voice or Voice())
    response.leave()
    return str(response)


def connect_agent(*, queue_name: str, pickup_url: str, dial_action_url: str) -> str:
    """Bridge the agent to the queue's first caller at once: every second counts in rings."""
    response = VoiceResponse()
    dial = response.dial(action=dial_action_url, method="POST", timeout=10)
    dial.queue(queue_name, url=pickup_url, method="POST")
    return str(response)


def ask_agent_key(prompts: Iterable[Prompt], voice: Voice, *, action_url: str,
                  no_key_url: str, timeout: int) -> str:
    """Ask the standardist for a key before bridging: a voicemail never presses one."""
    response = VoiceResponse()
    gather = response.gather(input="dtmf", num_digits=1, timeout=timeout, action=action_url,
                             method="POST")
    _speak(gather, prompts, voice)
    # No key within `timeout`: Twilio goes on to the next verb.
    response.redirect(no_key_url, method="POST")
    return str(response)


def dial_number(prompts: Iterable[Prompt], voice: Voice, number: str) -> str:
    """Prompts, then a direct call to a phone number (the last-resort route to reception)."""
    response = VoiceResponse()
    _speak(response, prompts, voice)
    response.dial(number)
    return str(response)


def empty() -> str:
    """A response that does nothing more (status callbacks, the pickup, ended calls)."""
    return str(VoiceResponse())


def ask_key(prompts: Iterable[Prompt], voice: Voice, *, action_url: str, timeout: int) -> str:
    """Prompts inside a <Gather> for one key only (the survey), posting even on silence."""
    response = VoiceResponse()
    gather = response.gather(input="dtmf", action=action_url, method="POST", num_digits=1,
                             timeout=timeout, action_on_empty_result=True)
    _speak(gather, prompts, voice)
    return str(response)


def wait_with_callback(voice: Voice, *, music_url: str | None, ringback_url: str,
                       announcement: Prompt | None, offer: Prompt | None,
                       action_url: str) -> str:
    """One round of waiting inside a one-key <Gather>: 1 asks for a callback at any moment.

    Twilio allows <Gather> in a waitUrl; with no key it falls through and the round ends.
    """
    response = VoiceResponse()
    gather = response.gather(input="dtmf", action=action_url, method="POST", num_digits=1,
                             timeout=1)
    _speak(gather, [p for p in (announcement, offer) if p is not None], voice)
    gather.play(music_url or ringback_url)
    return str(response)


def ask_number(prompts: Iterable[Prompt], voice: Voice, *, action_url: str) -> str:
    """Prompts inside a <Gather> for 1 or a ten-digit number ended by #, posting on silence."""
    response = VoiceResponse()
    gather = response.gather(input="dtmf", action=action_url, method="POST", timeout=5,
                             finish_on_key="#", action_on_empty_result=True)
    _speak(gather, prompts, voice)
    return str(response)


def call_back(prompts: Iterable[Prompt], voice: Voice, *, number: str, caller_id: str,
              reached_url: str, dial_action_url: str, ring_seconds: int) -> str:
    """The standardist hears who is called back, then the caller's phone rings.

    The <Number url> runs on the caller's side once they answer, before the two are bridged.
    """
    response = VoiceResponse()
    _speak(response, prompts, voice)
    dial = response.dial(action=dial_action_url, method="POST", timeout=ring_seconds,
                         caller_id=caller_id)
    dial.number(number, url=reached_url, method="POST")
    return str(response)


def say_only(prompts: Iterable[Prompt], voice: Voice) -> str:
    """Prompts and nothing else (what the called-back caller hears before the bridge)."""
    response = VoiceResponse()
    _speak(response, prompts, voice)
    return str(response)
