"""One Settings object for the whole product: defaults, then KB_* environment, then overrides.

Nothing else in the code base reads ``os.environ`` for kb settings: pass a Settings around.
Every setting is documented in README.md ("Settings"); a test keeps the two in step.
"""
from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from kb.errors import ConfigError

# name -> (environment variable, help text). The README table is checked against this.
ENV_DOC: dict[str, tuple[str, str]] = {
    "home": ("KB_HOME", "State folder: SQLite database, search indexes, last indexed commit."),
    "articles": ("KB_ARTICLES", "Folder (ideally a git repository) holding the Markdown articles."),
    "encoders": ("KB_ENCODERS", "Comma list of sentence encoders for semantic search: minilm, use3, or none."),
    "semantic": ("KB_SEMANTIC", "1 to use semantic search in hybrid mode, 0 for keyword only."),
    "secret_key": ("KB_SECRET_KEY", "Secret for signing web sessions; generated into KB_HOME if unset."),
    "host": ("KB_HOST", "Address `kb serve` binds to."),
    "port": ("KB_PORT", "Port `kb serve` listens on."),
    "threads": ("KB_THREADS", "Worker threads of the production web server."),
}


def _bool(value: str, name: str) -> bool:
    v = value.strip().lower()
    if v in ("1", "true", "yes", "on"):
        return True
    if v in ("0", "false", "no", "off", ""):
        return False
    raise ConfigError(f"{name}: expected 1/0/true/false, got {value!r}")


@dataclass(frozen=True)
class Settings:
    home: Path = Path(".kb")
    articles: Path = Path("articles")
    encoders: tuple[str, ...] = ("minilm", "use3")
    semantic: bool = True
    secret_key: str | None = None
    host: str = "127.0.0.1"
    port: int = 5000
    threads: int = 8
    # Search tuning (chosen by measurement with `kb eval`; see bench/RESULTS.md).
    extra: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def load(cls, env: Mapping[str, str] | None = None, **overrides: Any) -> "Settings":
        """Defaults, then KB_* variables from ``env`` (os.environ by default), then overrides."""
        env = os.environ if env is None else env
        values: dict[str, Any] = {}
        for name, (var, _) in ENV_DOC.items():
            if var not in env:
                continue
            raw = env[var]
            if name in ("home", "articles"):
                values[name] = Path(raw)
            elif name == "encoders":
                values[name] = tuple(e.strip() for e in raw.split(",") if e.strip() and e.strip() != "none")
            elif name == "semantic":
                values[name] = _bool(raw, var)
            elif name in ("port", "threads"):
                try:
                    values[name] = int(raw)
                except ValueError:
                    raise ConfigError(f"{var}: expected a whole number, got {raw!r}") from None
            else:
                values[name] = raw
        for k, v in overrides.items():
            if v is None:
                continue
            if k not in {f.name for f in dataclasses.fields(cls)}:
                raise ConfigError(f"unknown setting {k!r}")
            values[k] = Path(v) if k in ("home", "articles") else v
        s = cls(**values)
        unknown = [e for e in s.encoders if e not in ("minilm", "use3")]
        if unknown:
            raise ConfigError(f"KB_ENCODERS: unknown encoder {unknown[0]!r} (choose from minilm, use3, none)")
        return s

    def replace(self, **changes: Any) -> "Settings":
        return dataclasses.replace(self, **changes)

    @property
    def db_path(self) -> Path:
        return self.home / "kb.sqlite"

    @property
    def index_root(self) -> Path:
        return self.home / "index"
