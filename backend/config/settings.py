"""Backend settings from the environment (DATABASE_URL, REDIS_URL, LLM_URL, BATCH_*, ...).

Fast path: a detection is analyzed at once (and still joins its batch) when
``confidence >= FAST_PATH_CONFIDENCE`` and its ``object_type`` is one of ``FAST_PATH_OBJECT_TYPES``,
or when its enrichment flags ``weapon`` or ``violence`` as detected with a confidence at or above
that same threshold, whatever the object type.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, time, tzinfo
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from backend.domain.risk_levels import RiskLevel

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_SQLITE_PATH = REPO_ROOT / "var" / "nemotron.db"

_ASYNC_DRIVERS = {
    "postgres": "postgresql+asyncpg",
    "postgresql": "postgresql+asyncpg",
    "postgresql+psycopg2": "postgresql+asyncpg",
    "sqlite": "sqlite+aiosqlite",
    "sqlite+pysqlite": "sqlite+aiosqlite",
}
_SUPPORTED_SCHEMES = {"postgresql+asyncpg", "sqlite+aiosqlite"}


def normalize_database_url(url: str) -> str:
    """``postgresql://`` and ``sqlite:///`` URLs get their async drivers (asyncpg, aiosqlite)."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        raise ValueError(f"DATABASE_URL is not a URL: {url!r}")
    scheme = _ASYNC_DRIVERS.get(scheme, scheme)
    if scheme not in _SUPPORTED_SCHEMES:
        raise ValueError(f"DATABASE_URL scheme {scheme!r} is not supported: use postgresql:// or sqlite:///")
    return f"{scheme}://{rest}"


def parse_quiet_hours(text: str) -> tuple[time, time]:
    """Quiet hours "HH:MM-HH:MM" as (start, end); the span may cross midnight ("22:00-07:00").
    Raises ValueError naming the problem."""
    start, sep, end = text.partition("-")
    try:
        if not sep:
            raise ValueError
        span = (time.fromisoformat(start.strip()), time.fromisoformat(end.strip()))
    except ValueError:
        raise ValueError(f"NOTIFY_QUIET_HOURS {text!r} is not HH:MM-HH:MM (e.g. 22:00-07:00)") from None
    if span[0] == span[1]:
        raise ValueError(f"NOTIFY_QUIET_HOURS {text!r} is empty: start and end are the same time")
    return span


class BackendSettings(BaseSettings):
    """Environment: DATABASE_URL, REDIS_URL, LLM_URL, LLM_API_KEY, BATCH_WINDOW_SECONDS, ... (case-insensitive)."""

    model_config = SettingsConfigDict(extra="ignore")

    database_url: str = f"sqlite+aiosqlite:///{DEFAULT_SQLITE_PATH}"
    redis_url: str | None = None  # None: batch state and event fan-out stay in this process
    redis_key_prefix: str = "nemotron:"
    redis_events_channel: str = "events"

    llm_url: str = "http://127.0.0.1:8091"
    llm_api_key: SecretStr | None = None
    use_reasoning: bool = False
    # How far the model may move the score away from the evidence (0-1): 1 = the model decides within the hard
    # floors, 0 = the evidence decides and the model only writes. Unset: the trust `python -m backend eval
    # --store-trust` measured for the model the server reports (LLM_TRUST_FILE), else the default measured
    # for the embedded model (backend.services.model_trust.DEFAULT_TRUST).
    llm_trust: float | None = Field(default=None, ge=0.0, le=1.0)
    llm_trust_file: Path = REPO_ROOT / "var" / "model_trust.json"
    # prompt tokens allowed per analysis: the server's context minus room for the answer (4096 - 1536 here)
    llm_prompt_token_budget: int = Field(default=2560, ge=256)

    batch_window_seconds: float = Field(default=90.0, gt=0)
    batch_idle_seconds: float = Field(default=30.0, gt=0)
    batch_max_detections: int = Field(default=50, ge=1)
    batch_tick_seconds: float = Field(default=1.0, gt=0)

    fast_path_confidence: float = Field(default=0.90, ge=0.0, le=1.0)
    fast_path_object_types: Annotated[list[str], NoDecode] = ["person", "knife", "gun", "weapon"]

    retry_interval_seconds: float = Field(default=30.0, gt=0)  # first retry delay; doubles per attempt
    retry_max_attempts: int = Field(default=5, ge=1)
    analysis_lease_seconds: float = Field(default=300.0, gt=0)  # a closed batch not analyzed by then is redelivered
    analysis_concurrency: int = Field(default=2, ge=1)  # analyses running at once per process

    baseline_weeks: int = Field(default=4, ge=1, le=52)
    cross_camera_minutes: float = Field(default=10.0, ge=0)

    # the LLM client: a request fails on silence (no streamed token for this long), not on a fixed total
    llm_idle_timeout_seconds: float = Field(default=60.0, gt=0)
    llm_connect_timeout_seconds: float = Field(default=5.0, gt=0)
    # while the LLM is down, analyses wait for it: health probes back off from 1 s up to this cap. A /health
    # GET costs nothing, and the cap is how late a recovery can be noticed (measured: with 60 s the first
    # analysis after a 60 s outage came 124 s after it, half of that waiting for the next probe)
    llm_health_backoff_max_seconds: float = Field(default=10.0, gt=0)

    # Access (issue #9). API_KEY (or API_KEY_FILE, a file holding it): every route but /health and /metrics
    # needs "Authorization: Bearer <key>"; the WebSocket takes the header or ?api_key=. Unset: open (LAN use).
    api_key: SecretStr | None = None
    api_key_file: Path | None = None
    # Origins allowed for CORS and for the WebSocket's Origin header (comma-separated or a JSON list);
    # empty: no cross-origin browser access, and a WebSocket with an Origin header is refused.
    allowed_origins: Annotated[list[str], NoDecode] = []
    max_body_bytes: int = Field(default=10 * 1024 * 1024, ge=1024)  # larger request bodies get 413

    # Issue #10: Frigate in, Home Assistant and phones out (README "Frigate, Home Assistant and phones").
    # MQTT_URL (mqtt://user:pass@host:1883, mqtts:// for TLS): unset, no MQTT link, no Frigate ingest, no HA.
    mqtt_url: SecretStr | None = None
    mqtt_client_id: str = "nemotron-risk"  # fixed: the broker keeps our session (QoS 1 queue) across restarts
    mqtt_reconnect_max_seconds: float = Field(default=30.0, gt=0)  # reconnect backoff 1 s doubling to this cap
    frigate_topic_prefix: str = "frigate"
    # FRIGATE_URL (http://frigate:5000): camera detect resolutions and zone polygons from /api/config, and
    # snapshot / clip links on events. Unset: zones are known by name only, frames the detect default below.
    frigate_url: str | None = None
    # Frigate's default detect resolution (docs.frigate.video, "detect: width 1280, height 720"), used for a
    # camera first seen over MQTT when FRIGATE_URL is unset; a camera's frame can be set through the API.
    frigate_detect_width: int = Field(default=1280, gt=0, le=16384)
    frigate_detect_height: int = Field(default=720, gt=0, le=16384)
    # IANA time zone of the home (Europe/Paris): Frigate sends epoch seconds and "3 a.m." is the home's 3 a.m.
    # Unset: the machine's zone.
    timezone: str | None = None
    ha_discovery_prefix: str = "homeassistant"  # Home Assistant's MQTT discovery prefix (on with MQTT_URL)
    ha_state_prefix: str = "nemotron"  # where our state, event and availability topics live
    # the threat binary sensor is on while the camera's latest high/critical event is younger than this
    ha_threat_hold_seconds: float = Field(default=600.0, gt=0)
    # Apprise URLs (ntfy://, pover://, tgram://, mailto://, hassio://, json://...), comma or space separated
    notify_urls: Annotated[list[SecretStr], NoDecode] = []
    notify_min_level: RiskLevel = RiskLevel.HIGH
    notify_exclude_cameras: Annotated[list[str], NoDecode] = []  # camera ids that never notify
    # "22:00-07:00" in TIMEZONE: during quiet hours only critical events notify; unset: no quiet hours
    notify_quiet_hours: str | None = None
    notify_cooldown_seconds: float = Field(default=300.0, ge=0)  # one notification per camera per incident

    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=0, le=65535)
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"

    @field_validator("database_url")
    @classmethod
    def _async_driver(cls, url: str) -> str:
        return normalize_database_url(url)

    @field_validator("redis_url")
    @classmethod
    def _blank_is_none(cls, url: str | None) -> str | None:
        return url or None

    @field_validator("llm_trust", mode="before")
    @classmethod
    def _blank_trust_is_none(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("api_key", mode="before")
    @classmethod
    def _blank_key_is_none(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("allowed_origins", mode="before")
    @classmethod
    def _split_origins(cls, value: object) -> object:
        if isinstance(value, str):
            value = value.strip()
            if value.startswith("["):
                return json.loads(value)
            return [part.strip().rstrip("/") for part in value.split(",") if part.strip()]
        return value

    def resolved_api_key(self) -> str | None:
        """API_KEY, else the stripped contents of API_KEY_FILE, else None (no key: open access).
        Raises OSError when API_KEY_FILE is set but unreadable, ValueError when it is empty."""
        if self.api_key is not None:
            return self.api_key.get_secret_value()
        if self.api_key_file is None:
            return None
        key = self.api_key_file.read_text(encoding="utf-8").strip()
        if not key:
            raise ValueError(f"API_KEY_FILE {self.api_key_file} is empty")
        return key

    @field_validator("mqtt_url", "frigate_url", "timezone", "notify_quiet_hours", mode="before")
    @classmethod
    def _blank_optional_is_none(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("notify_min_level", mode="before")
    @classmethod
    def _lower_level(cls, value: object) -> object:
        return value.strip().lower() if isinstance(value, str) else value

    @field_validator("notify_urls", "notify_exclude_cameras", mode="before")
    @classmethod
    def _split_list(cls, value: object) -> object:
        if isinstance(value, str):  # comma or whitespace separated, or a JSON list
            value = value.strip()
            if value.startswith("["):
                return json.loads(value)
            return [part for part in value.replace(",", " ").split() if part]
        return value

    @field_validator("notify_quiet_hours")
    @classmethod
    def _quiet_hours_shape(cls, value: str | None) -> str | None:
        if value is not None:
            parse_quiet_hours(value)  # raises ValueError naming the problem
        return value

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                ZoneInfo(value)
            except (ZoneInfoNotFoundError, ValueError) as exc:
                raise ValueError(f"TIMEZONE {value!r} is not an IANA time zone (e.g. Europe/Paris)") from exc
        return value

    def home_zone(self) -> tzinfo:
        """TIMEZONE as a tzinfo; unset: the machine's local zone."""
        if self.timezone is not None:
            return ZoneInfo(self.timezone)
        local = datetime.now().astimezone().tzinfo
        return local if local is not None else UTC

    def quiet_hours(self) -> tuple[time, time] | None:
        """NOTIFY_QUIET_HOURS as (start, end) local times; the span may cross midnight. None: no quiet hours."""
        return parse_quiet_hours(self.notify_quiet_hours) if self.notify_quiet_hours is not None else None

    @field_validator("fast_path_object_types", mode="before")
    @classmethod
    def _split_types(cls, value: object) -> object:
        if isinstance(value, str):  # FAST_PATH_OBJECT_TYPES=person,knife or a JSON list
            value = value.strip()
            if value.startswith("["):
                return json.loads(value)
            return [part for part in value.split(",") if part.strip()]
        return value

    @field_validator("fast_path_object_types")
    @classmethod
    def _lower_types(cls, types: list[str]) -> list[str]:
        return [t.strip().lower() for t in types]

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper_level(cls, level: object) -> object:
        return level.upper() if isinstance(level, str) else level


@lru_cache(maxsize=1)
def get_settings() -> BackendSettings:
    return BackendSettings()
