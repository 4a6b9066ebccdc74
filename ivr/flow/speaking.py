"""How long prompts take to speak: the one estimate the simulator and `flow check` share."""

from __future__ import annotations

from collections.abc import Iterable

from ivr.flow.engine import menu_prompts
from ivr.flow.model import LANGUAGE_OFFER, MAIN_MENU_PROMPTS, Flow, Prompt

# A caller who does not speak French must hear the offer of their language this early.
LANGUAGE_OFFER_SECONDS = 5.0
# A French text-to-speech voice speaks about 14 characters a second; each <Say> lasts 1 s or more.
SAY_CHARS_PER_SECOND = 14.0


def say_seconds(text: str) -> float:
    """The estimated time to speak one <Say> text."""
    return max(1.0, len(text) / SAY_CHARS_PER_SECOND)


def spoken_seconds(prompts: Iterable[Prompt]) -> float:
    """The estimated time to speak text prompts (audio prompts are not counted)."""
    return sum(say_seconds(p.text) for p in prompts if p.text)


def main_menu(flow: Flow) -> list[Prompt]:
    """What every caller hears before the menu ends: greeting, notice, confidentiality, menu.

    The crisis announcement and the closure notice come on top, only while they apply.
    """
    fixed = [flow.prompts[name] for name in MAIN_MENU_PROMPTS if name in flow.prompts]
    return [*fixed, *menu_prompts(flow, None)]


def menu_warnings(flow: Flow) -> list[tuple[str, str]]:
    """(place, problem) when the first menu takes longer to speak than the flow allows."""
    warnings: list[tuple[str, str]] = []
    seconds = spoken_seconds(main_menu(flow))
    if seconds > flow.menu_max_seconds:
        warnings.append(("menu_max_seconds",
                         f"the first menu takes {seconds:.1f} s to speak (greeting, notice, "
                         f"confidentiality and menu), more than {flow.menu_max_seconds:g} s"))
    start = spoken_seconds([flow.prompts["greeting"]])
    for code, translation in flow.translations.items():
        if start > LANGUAGE_OFFER_SECONDS:
            warnings.append((f"languages.{code}.offer",
                             f"offered {start:.1f} s into the call, later than "
                             f"{LANGUAGE_OFFER_SECONDS:g} s (shorten the greeting)"))
        start += spoken_seconds([translation.prompts[LANGUAGE_OFFER]])
    return warnings
