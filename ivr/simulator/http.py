"""Twilio's HTTP side: signed webhooks and status callbacks, TwiML parsed, audio lengths."""

from __future__ import annotations

import asyncio
import random
import secrets
from urllib.parse import urljoin

import aiohttp
from twilio.request_validator import RequestValidator

from ivr.ringback import wav_seconds
from ivr.simulator.clock import SimClock
from ivr.simulator.twiml_check import Verb, parse

API_VERSION = "2010-04-01"
# Virtual seconds of one HTTP round trip unless asked: none. A request posted by hand from
# outside a simulated call (tests/test_hot_path.py does) is no actor of the virtual clock, so
# sleeping there would wait forever; and existing scenarios keep their exact timings.
DEFAULT_LATENCY = 0.0


def new_sid(prefix: str) -> str:
    """A Twilio-shaped SID."""
    return prefix + secrets.token_hex(16)


class Latency:
    """Virtual network time of one HTTP round trip: fixed, or drawn between bounds (seeded).

    Half of it passes before the server sees the request, half before Twilio has the answer.
    """

    def __init__(self, low: float = 0.0, high: float | None = None, *, seed: int = 9) -> None:
        self.low = low
        self.high = low if high is None else high
        self._random = random.Random(seed)

    def draw(self) -> float:
        """The seconds one round trip takes."""
        if self.high <= self.low:
            return self.low
        return self._random.uniform(self.low, self.high)


class Disorder:
    """Status callbacks as Twilio may deliver them: some twice, each after its own random
    delay, so they arrive out of order while the calls go on (seeded, for repeatable runs)."""

    def __init__(self, *, twice: float = 0.5, max_delay: float = 2.0, seed: int = 16) -> None:
        self.twice = twice
        self.max_delay = max_delay
        self._random = random.Random(seed)
        self.callbacks = 0  # callbacks sent, and copies delivered (for tests to check)
        self.copies = 0

    def delays(self) -> list[float]:
        """The delay of each copy of one callback."""
        copies = 2 if self._random.random() < self.twice else 1
        self.callbacks += 1
        self.copies += copies
        return [self._random.uniform(0.0, self.max_delay) for _ in range(copies)]


class WebhookClient:
    """Sends requests to the server as Twilio does: signed, form-encoded, relative URLs resolved."""

    def __init__(self, *, base_url: str, auth_token: str, session: aiohttp.ClientSession,
                 music_seconds: float, clock: SimClock, latency: Latency | None = None,
                 disorder: Disorder | None = None) -> None:
        self.clock = clock
        self.latency = latency or Latency(DEFAULT_LATENCY)
        self.disorder = disorder
        # Callbacks still on their way (with a disorder), for `settle` to wait for.
        self.deliveries: list[asyncio.Task[int]] = []
        self.base_url = base_url.rstrip("/")
        self.validator = RequestValidator(auth_token)
        self.auth_token = auth_token
        self.session = session
        self.music_seconds = music_seconds
        self._audio: dict[str, float] = {}
        # Lengths declared for audio the simulator cannot measure (a flow's music_url).
        self.audio_lengths: dict[str, float] = {}

    def url(self, target: str, current: str | None = None) -> str:
        """An absolute URL, relative ones resolved as Twilio does against the current one."""
        return urljoin(current or self.base_url + "/", target)

    def sign(self, url: str, params: dict[str, str]) -> str:
        """X-Twilio-Signature for a POST of `params` to `url`."""
        signature: str = self.validator.compute_signature(url, params)
        return signature

    async def _send(self, url: str, params: dict[str, str]) -> tuple[int, str, bytes]:
        """POST `params` signed as Twilio signs; return status, Content-Type and body."""
        headers = {"X-Twilio-Signature": self.sign(url, params)}
        trip = self.latency.draw()
        if trip > 0:
            await self.clock.sleep(trip / 2)
        async with self.session.post(url, data=params, headers=headers) as response:
            answer = (response.status, response.headers.get("Content-Type", ""),
                      await response.read())
        if trip > 0:
            await self.clock.sleep(trip / 2)
        return answer

    async def post(self, url: str, params: dict[str, str],
                   allowed: set[str] | None = None) -> tuple[int, list[Verb]]:
        """POST a signed webhook and parse the TwiML answer."""
        status, content_type, body = await self._send(url, params)
        return status, parse(body, content_type, status, allowed)

    async def notify(self, url: str, params: dict[str, str]) -> int:
        """POST a signed status callback; the answer's body is ignored, as Twilio does.

        With a disorder, the copies leave on their own and the call goes on at once (202).
        """
        if self.disorder is not None:
            for delay in self.disorder.delays():
                self.deliveries.append(self.clock.spawn(self._later(delay, url, params)))
            return 202
        status, _, _ = await self._send(url, params)
        return status

    async def _later(self, delay: float, url: str, params: dict[str, str]) -> int:
        await self.clock.sleep(delay)
        status, _, _ = await self._send(url, params)
        return status

    async def audio_seconds(self, url: str) -> float:
        """How long an audio URL plays, as long as the real file: a length declared for it
        (`audio_lengths`), else a WAV's own (fetched, whatever its name); other audio that
        cannot be measured here (an MP3 elsewhere) counts as `music_seconds`."""
        if url in self.audio_lengths:
            return self.audio_lengths[url]
        if url not in self._audio:
            seconds = self.music_seconds
            if url.startswith(self.base_url) or url.endswith(".wav"):
                async with self.session.get(url) as response:
                    body = await response.read() if response.status == 200 else b""
                if body[:4] == b"RIFF" and body[8:12] == b"WAVE":
                    seconds = wav_seconds(body)
            self._audio[url] = seconds
        return self._audio[url]
