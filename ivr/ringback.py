"""The French ringback tone: 440 Hz, 1.5 s on, then silence to the end of the cycle."""

from __future__ import annotations

import io
import math
import struct
import wave

RATE = 8000
TONE_HZ = 440.0
TONE_SECONDS = 1.5


def ringback_wav(cycle_seconds: float, *, amplitude: float = 0.3) -> bytes:
    """One ring cycle as 8 kHz, 16-bit mono PCM WAV."""
    total = round(cycle_seconds * RATE)
    tone = min(round(TONE_SECONDS * RATE), total)
    peak = int(32767 * amplitude)
    samples = [int(peak * math.sin(2 * math.pi * TONE_HZ * i / RATE)) for i in range(tone)]
    samples += [0] * (total - tone)
    return pcm16_wav(samples)


def pcm16_wav(samples: list[int]) -> bytes:
    """Samples as 8 kHz, 16-bit mono PCM WAV (what Twilio's <Play> takes)."""
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(RATE)
        out.writeframes(struct.pack(f"<{len(samples)}h", *samples))
    return buffer.getvalue()


def wav_seconds(data: bytes) -> float:
    """How long a WAV file plays."""
    with wave.open(io.BytesIO(data), "rb") as wav:
        return wav.getnframes() / wav.getframerate()
