"""Matching what a caller said against the flow's keywords, tolerant of case and accents."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping

_NOT_WORD = re.compile(r"[^a-z0-9]+")


def normalize(text: str) -> str:
    """Lower-case, strip accents and punctuation, and fold spaces."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    bare = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return " ".join(_NOT_WORD.sub(" ", bare).split())


def strip_fillers(words: str, fillers: Iterable[str]) -> str:
    """Remove filler phrases ("euh", "je voudrais", ...) from normalized words."""
    padded = f" {words} "
    for filler in sorted(fillers, key=len, reverse=True):
        while f" {filler} " in padded:
            padded = padded.replace(f" {filler} ", " ")
    return " ".join(padded.split())


def _contains(words: str, phrase: str) -> bool:
    return f" {phrase} " in f" {words} "


def best_matches(utterance: str, keywords: Mapping[str, Iterable[str]]) -> list[tuple[str, int]]:
    """Services whose keywords occur in the utterance, with the longest match, best first."""
    scores: dict[str, int] = {}
    for name, phrases in keywords.items():
        for phrase in phrases:
            if phrase and _contains(utterance, phrase):
                scores[name] = max(scores.get(name, 0), len(phrase.split()))
    return sorted(scores.items(), key=lambda item: -item[1])


def says_any(utterance: str, phrases: Iterable[str]) -> bool:
    """True when one of the phrases occurs in the utterance as whole words."""
    return any(_contains(utterance, phrase) for phrase in phrases if phrase)
