"""`ivr crisis`: `until` is shown back in the time zone it was given in, else Paris time."""

from __future__ import annotations

import os
import subprocess
import sys


def _ivr(db_url: str, *args: str) -> str:
    env = {**os.environ, "DATABASE_URL": db_url}
    done = subprocess.run([sys.executable, "-m", "ivr", "crisis", *args], env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_until_shown_in_the_given_zone_then_in_paris_time(db_url: str) -> None:
    """Given at -05:00 it reads back at -05:00; `status` shows the same moment in Paris time."""
    on = _ivr(db_url, "on", "--message", "Alerte crue", "--until", "2027-01-15T18:00-05:00",
              "--by", "test")
    assert "until: 2027-01-15T18:00:00-05:00" in on
    status = _ivr(db_url, "status")
    assert "until: 2027-01-16T00:00:00+01:00" in status
    summer = _ivr(db_url, "on", "--message", "Alerte canicule", "--until",
                  "2027-07-01T10:00+00:00", "--by", "test")
    assert "until: 2027-07-01T10:00:00+00:00" in summer
    assert "until: 2027-07-01T12:00:00+02:00" in _ivr(db_url, "status")
