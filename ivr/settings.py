"""Settings read from the environment, each checked once at start-up."""

from __future__ import annotations

import json
import os
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TypeVar
from urllib.parse import urlsplit

TWILIO_API_DEFAULT = "https://api.twilio.com"
# Where `--dev` places agent calls: the REST stand-in that `ivr simulate --url` runs.
DEV_TWILIO_API = "http://127.0.0.1:8089"
DEV_SECRETS_FILE = "dev-secrets.json"
# The number agents see under `--dev`, where calls go to the simulator's REST stand-in.
DEV_AGENT_CALLER_ID = "+33477000000"
_T = TypeVar("_T")


class SettingsError(Exception):
    """A missing or malformed setting; the message is one line naming the variable."""


@dataclass(frozen=True)
class Settings:
    """Everything the server needs to know about its deployment."""

    database_url: str | None
    data_dir: Path
    host: str
    port: int
    public_url: str
    twilio_auth_token: str
    twilio_account_sid: str
    twilio_api_base_url: str
    agent_caller_id: str
    reception_number: str | None
    flow_path: Path
    admin_token: str
    hash_key: bytes
    ring_cycle_seconds: float = 5.0
    target_ring: int = 5
    offer_timeout_seconds: int = 15
    wrap_up_seconds: int = 30
    retention_days: int = 365
    dev: bool = False
    # Named admin credentials (name, token): the name is the actor of the audit log.
    admin_tokens: tuple[tuple[str, str], ...] = ()
    metrics_token: str | None = None
    metrics_port: int | None = None
    live_gauges_seconds: float = 5.0
    header_timeout_seconds: float = 10.0
    body_timeout_seconds: float = 10.0
    database_wait_seconds: float = 30.0
    # Callbacks (issue 16): the Fernet key of stored numbers (None: no callback offered),
    # the delay before the second try, how long the caller's phone rings, the ticker's period.
    callback_key: str | None = None
    callback_retry_seconds: int = 120
    callback_ring_seconds: int = 25
    callback_poll_seconds: float = 5.0
    # Outages (issue 10): one database budget per webhook, the journal's bound, the drain.
    db_deadline_seconds: float = 1.5
    journal_max_entries: int = 100_000
    shutdown_grace_seconds: float = 10.0
    # The dispatcher's longest sleep between offer passes (a lost NOTIFY costs at most this).
    dispatch_tick_seconds: float = 2.0
    # A queued caller whose waitUrl has not come for this long is gone (lost callbacks).
    queue_gone_seconds: float = 180.0

    def with_overrides(self, **changes: object) -> Settings:
        """Return a copy with some fields changed (tests and the simulator use it)."""
        return replace(self, **changes)  # type: ignore[arg-type]


def _parse(env: Mapping[str, str], name: str, default: _T, parse: Callable[[str], _T],
           expected: str) -> _T:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        return parse(raw)
    except (ValueError, TypeError):
        raise SettingsError(f"{name}={raw!r} is invalid: expected {expected}") from None


def _positive_int(raw: str) -> int:
    value = int(raw)
    if value <= 0:
        raise ValueError(raw)
    return value


def _positive_float(raw: str) -> float:
    value = float(raw)
    if not value > 0:
        raise ValueError(raw)
    return value


def _port(raw: str) -> int:
    value = int(raw)
    if not 0 < value < 65536:
        raise ValueError(raw)
    return value


def _http_url(raw: str) -> str:
    parts = urlsplit(raw)
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.query:
        raise ValueError(raw)
    return raw.rstrip("/")


def _database_url(raw: str) -> str:
    if urlsplit(raw).scheme not in ("postgres", "postgresql"):
        raise ValueError(raw)
    return raw


def _e164(raw: str) -> str:
    if not (raw.startswith("+") and raw[1:].isdigit() and 8 <= len(raw) <= 16):
        raise ValueError(raw)
    return raw


def _account_sid(raw: str) -> str:
    if not (raw.startswith("AC") and len(raw) == 34):
        raise ValueError(raw)
    return raw


def _required(env: Mapping[str, str], name: str, expected: str) -> str:
    raw = env.get(name, "").strip()
    if not raw:
        raise SettingsError(f"{name} is not set: expected {expected} (or run `ivr serve --dev`)")
    return raw


def dev_secrets(data_dir: Path) -> dict[str, str]:
    """Load, or create once, the local secrets `--dev` uses, so restarts keep the same ones."""
    path = data_dir / DEV_SECRETS_FILE
    if path.exists():
        loaded = json.loads(path.read_text())
        return {str(k): str(v) for k, v in loaded.items()}
    values = {
        "TWILIO_AUTH_TOKEN": secrets.token_hex(16),
        "TWILIO_ACCOUNT_SID": "AC" + secrets.token_hex(16),
        "IVR_ADMIN_TOKEN": secrets.token_urlsafe(24),
        "IVR_HASH_KEY": secrets.token_hex(32),
    }
    data_dir.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(values, indent=2))
    path.chmod(0o600)
    return values


def database_location(env: Mapping[str, str] | None = None) -> tuple[str | None, Path]:
    """Only what commands that touch the database need: DATABASE_URL and IVR_DATA_DIR."""
    env = os.environ if env is None else env
    url = _parse(env, "DATABASE_URL", None, _database_url,
                 "a postgresql:// URL, or unset for the embedded PostgreSQL")
    return url, Path(env.get("IVR_DATA_DIR", "").strip() or "var")


def load_settings(env: Mapping[str, str] | None = None, *, dev: bool = False) -> Settings:
    """Build Settings from the environment or raise SettingsError with a one-line reason."""
    env = dict(os.environ if env is None else env)
    data_dir = Path(env.get("IVR_DATA_DIR", "").strip() or "var")
    host = env.get("IVR_HOST", "").strip() or "127.0.0.1"
    port = _parse(env, "IVR_PORT", 8080, _port, "a TCP port number (1-65535)")
    if dev:
        for name, value in dev_secrets(data_dir).items():
            env.setdefault(name, value)
        # A server listening on every interface is still called at 127.0.0.1 by `ivr simulate`.
        local = "127.0.0.1" if host in ("0.0.0.0", "::") else host
        env.setdefault("IVR_PUBLIC_URL", f"http://{local}:{port}")
        env.setdefault("TWILIO_API_BASE_URL", DEV_TWILIO_API)
        env.setdefault("IVR_AGENT_CALLER_ID", DEV_AGENT_CALLER_ID)
    sid = _required(env, "TWILIO_ACCOUNT_SID", "the account SID, AC followed by 32 characters")
    public_url = _required(env, "IVR_PUBLIC_URL", "the https:// base URL Twilio calls")
    hash_key = _required(env, "IVR_HASH_KEY", "a secret of at least 32 characters")
    # A made-up default would fail only at the first offer (Twilio error 21210).
    caller_id = _required(env, "IVR_AGENT_CALLER_ID", "a Twilio number of the account, "
                          "in E.164 such as +33477481234")
    if len(hash_key) < 32:
        raise SettingsError("IVR_HASH_KEY is too short: expected at least 32 characters")
    return Settings(
        database_url=_parse(env, "DATABASE_URL", None, _database_url,
                            "a postgresql:// URL, or unset for the embedded PostgreSQL"),
        data_dir=data_dir,
        host=host,
        port=port,
        public_url=_parse(env, "IVR_PUBLIC_URL", public_url, _http_url,
                          "an http(s):// base URL without a query"),
        twilio_auth_token=_required(env, "TWILIO_AUTH_TOKEN", "the Twilio auth token"),
        twilio_account_sid=_parse(env, "TWILIO_ACCOUNT_SID", sid, _account_sid,
                                  "AC followed by 32 characters"),
        twilio_api_base_url=_parse(env, "TWILIO_API_BASE_URL", TWILIO_API_DEFAULT, _http_url,
                                   "an http(s):// URL"),
        agent_caller_id=_parse(env, "IVR_AGENT_CALLER_ID", caller_id, _e164,
                               "an E.164 number such as +33477481234"),
        reception_number=_parse(env, "IVR_RECEPTION_NUMBER", None, _e164,
                                "an E.164 number such as +33477481234"),
        flow_path=Path(env.get("IVR_FLOW", "").strip() or "flows/loire.yaml"),
        admin_token=_required(env, "IVR_ADMIN_TOKEN", "a secret bearer token for the admin API"),
        hash_key=hash_key.encode(),
        ring_cycle_seconds=_parse(env, "IVR_RING_CYCLE_SECONDS", 5.0, _positive_float,
                                  "a positive number of seconds"),
        target_ring=_parse(env, "IVR_TARGET_RING", 5, _positive_int, "a positive whole number"),
        offer_timeout_seconds=_parse(env, "IVR_OFFER_TIMEOUT", 15, _positive_int,
                                     "a positive whole number of seconds"),
        wrap_up_seconds=_parse(env, "IVR_WRAP_UP_SECONDS", 30, _non_negative_int,
                               "a whole number of seconds (0 or more)"),
        retention_days=retention_days(env),
        dev=dev,
        admin_tokens=_named_tokens(env.get("IVR_ADMIN_TOKENS", "").strip()),
        metrics_token=env.get("IVR_METRICS_TOKEN", "").strip() or None,
        metrics_port=_parse(env, "IVR_METRICS_PORT", None, _port, "a TCP port number (1-65535)"),
        live_gauges_seconds=_parse(env, "IVR_LIVE_GAUGES_INTERVAL", 5.0, _positive_float,
                                   "a positive number of seconds"),
        header_timeout_seconds=_parse(env, "IVR_HEADER_TIMEOUT", 10.0, _positive_float,
                                      "a positive number of seconds"),
        body_timeout_seconds=_parse(env, "IVR_BODY_TIMEOUT", 10.0, _positive_float,
                                    "a positive number of seconds"),
        database_wait_seconds=_parse(env, "IVR_DATABASE_WAIT", 30.0, _non_negative_float,
                                     "a number of seconds (0 or more)"),
        callback_key=_callback_key(env, dev, hash_key.encode()),
        callback_retry_seconds=_parse(env, "IVR_CALLBACK_RETRY_SECONDS", 120, _positive_int,
                                      "a positive whole number of seconds"),
        callback_ring_seconds=_parse(env, "IVR_CALLBACK_RING_SECONDS", 25, _positive_int,
                                     "a positive whole number of seconds"),
        callback_poll_seconds=_parse(env, "IVR_CALLBACK_POLL_SECONDS", 5.0, _positive_float,
                                     "a positive number of seconds"),
        db_deadline_seconds=_parse(env, "IVR_DB_DEADLINE_SECONDS", 1.5, _positive_float,
                                   "a positive number of seconds"),
        journal_max_entries=_parse(env, "IVR_JOURNAL_MAX_ENTRIES", 100_000, _positive_int,
                                   "a positive whole number"),
        shutdown_grace_seconds=_parse(env, "IVR_SHUTDOWN_GRACE_SECONDS", 10.0, _positive_float,
                                      "a positive number of seconds"),
        dispatch_tick_seconds=_parse(env, "IVR_DISPATCH_TICK", 2.0, _positive_float,
                                     "a positive number of seconds"),
        queue_gone_seconds=_parse(env, "IVR_QUEUE_GONE_AFTER", 180.0, _positive_float,
                                  "a positive number of seconds (longer than the hold music)"),
    )


def _callback_key(env: Mapping[str, str], dev: bool, hash_key: bytes) -> str | None:
    """IVR_CALLBACK_KEY: the Fernet key of stored callback numbers (derived under --dev only)."""
    from ivr.callbacks.numbers import dev_key, valid_key

    return _parse(env, "IVR_CALLBACK_KEY", dev_key(hash_key) if dev else None, valid_key,
                  "a Fernet key (32 url-safe base64-encoded bytes)")


def retention_days(env: Mapping[str, str] | None = None) -> int:
    """IVR_RETENTION_DAYS: how long call records are kept (`ivr purge` needs only this)."""
    return _parse(os.environ if env is None else env, "IVR_RETENTION_DAYS", 365, _positive_int,
                  "a positive whole number of days")


def _non_negative_int(raw: str) -> int:
    value = int(raw)
    if value < 0:
        raise ValueError(raw)
    return value



@dataclass(frozen=True)
class ReportSettings:
    """What `ivr report` and `ivr staffing` read: no Twilio secrets needed."""

    flow_path: Path
    ring_cycle_seconds: float
    target_ring: int
    wrap_up_seconds: int


def load_report_settings(env: Mapping[str, str] | None = None) -> ReportSettings:
    """The flow, ring cadence, target ring and wrap-up, checked like load_settings does."""
    env = os.environ if env is None else env
    return ReportSettings(
        flow_path=Path(env.get("IVR_FLOW", "").strip() or "flows/loire.yaml"),
        ring_cycle_seconds=_parse(env, "IVR_RING_CYCLE_SECONDS", 5.0, _positive_float,
                                  "a positive number of seconds"),
        target_ring=_parse(env, "IVR_TARGET_RING", 5, _positive_int, "a positive whole number"),
        wrap_up_seconds=_parse(env, "IVR_WRAP_UP_SECONDS", 30, _non_negative_int,
                               "a whole number of seconds (0 or more)"))


def _named_tokens(raw: str) -> tuple[tuple[str, str], ...]:
    """`name:token,...`; the error never repeats the value, which holds secrets."""
    pairs = []
    for item in raw.split(",") if raw else []:
        name, sep, token = item.strip().partition(":")
        if not sep or not 1 <= len(name.strip()) <= 100 or len(token.strip()) < 16:
            raise SettingsError("IVR_ADMIN_TOKENS is invalid: expected name:token pairs "
                                "(tokens of 16 characters or more) separated by commas")
        pairs.append((name.strip(), token.strip()))
    return tuple(pairs)


def _non_negative_float(raw: str) -> float:
    value = float(raw)
    if not value >= 0:
        raise ValueError(raw)
    return value
