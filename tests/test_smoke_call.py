"""A first call through the simulator, end to end on a real database."""

from __future__ import annotations

from ivr.flow.model import Flow
from ivr.settings import Settings
from ivr.simulator.harness import running
from ivr.simulator.script import CallerScript, Press
from tests.conftest import OPEN, paris


async def test_press_two_reaches_immigration_queue(settings: Settings, flow: Flow,
                                                   db_url: str) -> None:
    """Pressing 2 during opening hours plays the immigration info and queues the caller."""
    async with running(settings, flow, db_url, paris(OPEN)) as h:
        result = await h.twilio.call(CallerScript(inputs=(Press("2"),), hangup_after=120))
        await h.twilio.settle()
    print(result.transcript)
    assert result.error is None
    assert "préfecture de la Loire" in result.heard_text
    assert "loire-immigration" in result.queues or "loire-reception" in result.queues
