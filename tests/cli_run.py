"""Running the `ivr` command as a user does: a separate process, its own environment."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import aiohttp

from tests.conftest import ROOT


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def user_env(data_dir: Path, **extra: str) -> dict[str, str]:
    """A user's environment: no Twilio account, the Loire flow, data in `data_dir`."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("TWILIO_", "IVR_", "DATABASE_URL"))}
    return {**env, "IVR_DATA_DIR": str(data_dir), "IVR_FLOW": str(ROOT / "flows" / "loire.yaml"),
            **extra}


async def ivr(*args: str, env: dict[str, str], cwd: Path,
              limit: float = 120) -> subprocess.CompletedProcess[str]:
    """Run `ivr ARGS...` to its end without blocking the event loop."""
    return await asyncio.to_thread(
        subprocess.run, [sys.executable, "-m", "ivr", *args], env=env, cwd=cwd,
        capture_output=True, text=True, timeout=limit)


def problem_lines(stderr: str) -> list[str]:
    """stderr without the log lines (timestamped), i.e. what the command says to its user."""
    return [line for line in stderr.splitlines() if line and not line[:4].isdigit()]


@asynccontextmanager
async def serving(env: dict[str, str], cwd: Path, port: int,
                  *args: str) -> AsyncIterator[subprocess.Popen[str]]:
    """`ivr serve ARGS` in the background until it answers /healthz; stopped afterwards."""
    process = await asyncio.to_thread(
        subprocess.Popen, [sys.executable, "-m", "ivr", "serve", *args],
        env={**env, "IVR_PORT": str(port)}, cwd=cwd, text=True, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE)
    try:
        async with aiohttp.ClientSession() as session:
            for _ in range(200):  # bounded: 60 s at most
                if process.poll() is not None:
                    raise AssertionError(f"ivr serve exited: {process.communicate()}")
                try:
                    async with session.get(f"http://127.0.0.1:{port}/healthz") as response:
                        if response.status == 200:
                            break
                except aiohttp.ClientError:
                    pass
                await asyncio.sleep(0.3)
            else:
                raise AssertionError("ivr serve did not answer /healthz within 60 s")
        yield process
    finally:
        process.terminate()
        await asyncio.to_thread(process.wait, 30)
        if process.stdout:
            process.stdout.close()
        if process.stderr:
            process.stderr.close()
