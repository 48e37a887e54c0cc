"""Settings: one typed object; an explicit argument beats the environment,
which beats the default. Every environment variable logmr reads is named here."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

ENV_HOME = "LOGMR_HOME"
ENV_CHUNK_SIZE = "LOGMR_CHUNK_SIZE"
ENV_REDUCERS = "LOGMR_REDUCERS"
ENV_WORKERS = "LOGMR_WORKERS"

#: byte-range size of a map task: sized for a Lambda of 1,769 MB (one vCPU)
#: reading at ~100 MB/s and parsing at ~0.5 M lines/s within a minute or so
DEFAULT_CHUNK_SIZE = 64 * 1024 * 1024
DEFAULT_REDUCERS = 4
#: malformed lines kept per map task (the job keeps at most ``MAX_SAMPLES``)
SAMPLES_PER_TASK = 20
MAX_SAMPLES = 100
#: longest part of a malformed line kept in a sample, in bytes
SAMPLE_LINE_BYTES = 1024


def _default_home(env: Mapping[str, str]) -> Path:
    base = env.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "logmr"


@dataclass(frozen=True)
class Settings:
    """Where local job data lives and how work is cut."""

    home: Path = field(default_factory=lambda: _default_home(os.environ))
    chunk_size: int = DEFAULT_CHUNK_SIZE
    reducers: int = DEFAULT_REDUCERS
    workers: int = field(default_factory=lambda: os.cpu_count() or 1)

    @classmethod
    def load(cls, env: Mapping[str, str] | None = None, **explicit: Any) -> Settings:
        """Explicit keyword arguments (``None`` means unset), then ``env``, then defaults."""
        env = os.environ if env is None else env
        settings = cls(home=_default_home(env))
        from_env: dict[str, Any] = {}
        if env.get(ENV_HOME):
            from_env["home"] = Path(env[ENV_HOME])
        for name, var in (
            ("chunk_size", ENV_CHUNK_SIZE),
            ("reducers", ENV_REDUCERS),
            ("workers", ENV_WORKERS),
        ):
            if env.get(var):
                from_env[name] = int(env[var])
        chosen = {key: value for key, value in explicit.items() if value is not None}
        if "home" in chosen:
            chosen["home"] = Path(chosen["home"])
        return replace(settings, **{**from_env, **chosen})
