"""Hold music in short clips (issue 16): the waitUrl comes back at least every 15 s."""

from __future__ import annotations

import itertools
import re
from collections.abc import AsyncIterator

import aiohttp
import pytest

from ivr import keys
from ivr.flow.model import Flow
from ivr.hold_music import CLIPS
from ivr.ringback import wav_seconds
from ivr.settings import Settings
from ivr.simulator.harness import Harness, running
from ivr.simulator.script import CallerScript, Press
from ivr.store import agents
from tests.conftest import OPEN, paris

_LINE = re.compile(r"^\[\s*([0-9.]+)s\] (.*)$")


@pytest.fixture
async def harness(settings: Settings, flow: Flow, db_url: str) -> AsyncIterator[Harness]:
    """The server on a Wednesday morning, on virtual time."""
    async with running(settings, flow, db_url, paris(OPEN)) as h:
        yield h


async def test_every_clip_is_a_short_wav(harness: Harness) -> None:
    """Each clip the app serves plays 15 s or less; there is no clip past the last."""
    base = harness.settings.public_url
    async with aiohttp.ClientSession() as session:
        for n in range(CLIPS):
            async with session.get(f"{base}/audio/hold/{n}.wav") as response:
                assert response.status == 200
                assert response.content_type == "audio/wav"
                assert 0 < wav_seconds(await response.read()) <= 15
        async with session.get(f"{base}/audio/hold/{CLIPS}.wav") as response:
            assert response.status == 404


async def test_wait_url_comes_back_within_15_s_of_music(harness: Harness) -> None:
    """A caller waiting on music hears clips in turn, each round at most 15 s of music,
    and the position announcements come on time (after 60 s, then every 60 s)."""
    pool = harness.app[keys.POOL]
    agent = await agents.add(pool, "On a call", "+33477000001", ["immigration"],
                             harness.clock.now())
    await pool.execute("UPDATE agents SET status = 'busy' WHERE id = $1", agent.id)
    result = await harness.twilio.call(CallerScript(inputs=(Press("2", at=0.0),),
                                                    hangup_after=150))
    await harness.twilio.settle()
    assert result.error is None, result.transcript
    lines = [(float(m[1]), m[2]) for m in map(_LINE.match, result.transcript.lines) if m]
    waits = [at for at, text in lines if text.startswith("→ POST /twilio/queue/wait")]
    clips = [text for _, text in lines if text.startswith("♪ ") and "/audio/hold/" in text]
    assert len(waits) >= 9, result.transcript
    assert clips, result.transcript
    assert all(text.endswith("(12.0s)") for text in clips)
    # Clips follow each other: never the same clip twice in a row.
    names = [text.split()[1] for text in clips]
    assert all(a != b for a, b in itertools.pairwise(names))
    # Between two waitUrl requests with nothing spoken, at most 15 s pass.
    for start, end in itertools.pairwise(waits):
        spoken = [t for at, t in lines if start <= at < end and t.startswith("🔊")]
        if not spoken:
            assert end - start <= 15, (start, end)
    announced = [at for at, t in lines if t.startswith("🔊 Vous êtes en position 1")]
    queued = waits[0]
    assert len(announced) == 2
    # Due at 60 s and 120 s of wait: heard within one clip (12 s) of being due.
    assert 60 <= announced[0] - queued <= 60 + 12 + 1
    assert 120 <= announced[1] - queued <= 120 + 12 + 1
