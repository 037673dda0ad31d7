"""Typed errors. Every error a user can cause says which file, line, field or flag is wrong."""
from __future__ import annotations

from pathlib import Path


class KbError(Exception):
    """Base of every error kb raises on purpose; its message is shown to the user as is."""


class ConfigError(KbError):
    """A setting or command-line value is wrong."""


class ArticleError(KbError):
    """An article file is broken; carries ``path:line: message``."""

    def __init__(self, path: str | Path, line: int, message: str):
        self.path = str(path)
        self.line = line
        self.message = message
        super().__init__(f"{self.path}:{self.line}: {message}")


class NotFound(KbError):
    """An article, ticket or other record does not exist."""


class IndexMissing(KbError):
    """Search was asked before `kb index` built an index."""


class BadQuery(KbError):
    """A search request has a bad parameter; ``field`` names it."""

    def __init__(self, field: str, message: str):
        self.field = field
        super().__init__(f"{field}: {message}")


class ModelUnavailable(KbError):
    """A sentence encoder could not be loaded; search degrades to keyword."""


class RepoError(KbError):
    """A git operation on the articles repository failed."""


class TicketError(KbError):
    """A ticket or link field is missing or wrong; ``field`` names it."""

    def __init__(self, field: str, message: str):
        self.field = field
        self.message = message
        super().__init__(f"{field}: {message}")


class BackupError(KbError):
    """A backup could not be taken, or a backup is incomplete or corrupt and was not restored."""


class FieldError(KbError):
    """A value a person typed (username, role, comment, flag reason …) is wrong; ``field`` names it."""

    def __init__(self, field: str, message: str):
        self.field = field
        self.message = message
        super().__init__(f"{field}: {message}")


class AuthError(KbError):
    """Sign-in failed: unknown user, wrong password or disabled account (one message for all)."""


class LoginThrottled(AuthError):
    """Too many failed sign-ins for this user or address; ``retry_after`` is in seconds."""

    def __init__(self, retry_after: int):
        self.retry_after = retry_after
        super().__init__(f"too many failed sign-ins: try again in {max(1, retry_after // 60)} minute(s)")
