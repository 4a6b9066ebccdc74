"""Settings: a missing or malformed variable stops start-up with one clear line."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from ivr.settings import DEV_TWILIO_API, SettingsError, load_settings

GOOD = {"TWILIO_AUTH_TOKEN": "t" * 32, "TWILIO_ACCOUNT_SID": "AC" + "a" * 32,
        "IVR_PUBLIC_URL": "https://ivr.example.org", "IVR_ADMIN_TOKEN": "admin",
        "IVR_HASH_KEY": "h" * 32, "IVR_AGENT_CALLER_ID": "+33477481234"}


def test_complete_settings_load() -> None:
    """All required variables set: settings load with defaults for the rest."""
    s = load_settings(GOOD)
    assert (s.port, s.target_ring, s.ring_cycle_seconds) == (8080, 5, 5.0)
    assert s.database_url is None


@pytest.mark.parametrize(("name", "value", "says"), [
    ("IVR_PORT", "eighty", "IVR_PORT='eighty' is invalid"),
    ("IVR_PUBLIC_URL", "ftp://x", "IVR_PUBLIC_URL='ftp://x' is invalid"),
    ("DATABASE_URL", "mysql://x", "DATABASE_URL='mysql://x' is invalid"),
    ("IVR_TARGET_RING", "0", "IVR_TARGET_RING='0' is invalid"),
    ("IVR_HASH_KEY", "short", "IVR_HASH_KEY is too short"),
    ("TWILIO_ACCOUNT_SID", "", "TWILIO_ACCOUNT_SID is not set"),
    ("IVR_AGENT_CALLER_ID", "", "IVR_AGENT_CALLER_ID is not set"),
    ("IVR_AGENT_CALLER_ID", "0477", "IVR_AGENT_CALLER_ID='0477' is invalid"),
])
def test_bad_setting_names_the_variable(name: str, value: str, says: str) -> None:
    """Each bad value gives an error naming the variable and what is expected."""
    with pytest.raises(SettingsError) as caught:
        load_settings({**GOOD, name: value})
    assert says in str(caught.value)
    assert "\n" not in str(caught.value)


def test_dev_mode_needs_nothing_and_keeps_its_secrets(tmp_path: Path) -> None:
    """--dev works with no variables and reuses the same secrets after a restart."""
    first = load_settings({"IVR_DATA_DIR": str(tmp_path)}, dev=True)
    second = load_settings({"IVR_DATA_DIR": str(tmp_path)}, dev=True)
    assert first.twilio_auth_token == second.twilio_auth_token
    assert first.hash_key == second.hash_key
    assert first.public_url == "http://127.0.0.1:8080"


def test_serve_with_bad_setting_prints_one_line(tmp_path: Path) -> None:
    """`ivr serve` with a bad port exits 2 with a single line on stderr."""
    env = {**GOOD, "IVR_PORT": "99999", "PATH": "/usr/bin:/bin"}
    done = subprocess.run([sys.executable, "-m", "ivr", "serve"], env=env, cwd=tmp_path,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        "ivr: IVR_PORT='99999' is invalid: expected a TCP port number (1-65535)"]


def test_dev_places_agent_calls_with_the_simulator_and_waits_for_the_database(
        tmp_path: Path) -> None:
    """--dev sends agent calls to the simulator's stand-in; the database wait is a setting."""
    dev = load_settings({"IVR_DATA_DIR": str(tmp_path), "IVR_HOST": "0.0.0.0"}, dev=True)
    assert dev.twilio_api_base_url == DEV_TWILIO_API
    assert dev.public_url == "http://127.0.0.1:8080"  # what a local simulator calls and signs
    assert dev.database_wait_seconds == 30.0
    assert load_settings(GOOD).twilio_api_base_url == "https://api.twilio.com"
    assert load_settings({**GOOD, "IVR_DATABASE_WAIT": "0"}).database_wait_seconds == 0
    with pytest.raises(SettingsError, match="IVR_DATABASE_WAIT='soon' is invalid"):
        load_settings({**GOOD, "IVR_DATABASE_WAIT": "soon"})
