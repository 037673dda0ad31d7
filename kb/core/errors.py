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


class FieldError(KbError):
    """A value someone gave is wrong: ``field`` names it (a form field, a query parameter, a
    ticket column, a command-line argument) and ``message`` says what is wrong. The web app
    answers it as 400 ``{"error", "field"}``; the CLI prints ``field: message``."""

    def __init__(self, field: str, message: str):
        self.field = field
        self.message = message
        super().__init__(f"{field}: {message}")


class BadQuery(FieldError):
    """A search request has a bad parameter."""


class TicketError(FieldError):
    """A ticket or link field is missing or wrong."""


class FileProblem(KbError):
    """A file an article references (an image, an attachment) or someone uploads may not be
    served: a type not on the allow-list, too large, bytes that are not what the name says, an
    SVG with script. The message says which; the caller adds the path and line."""


class NotFound(KbError):
    """An article, ticket or other record does not exist."""


class IndexMissing(KbError):
    """Search was asked before `kb index` built an index."""


class IndexOutdated(IndexMissing):
    """The live index generation is of a format this code no longer reads; `kb index` rebuilds it."""


class ModelUnavailable(KbError):
    """A sentence encoder could not be loaded; search degrades to keyword."""


class RepoError(KbError):
    """A git operation on the articles repository failed."""


class DatabaseError(KbError):
    """The database cannot be opened or reached, is read-only, or has a schema this kb does not know."""


class BackupError(KbError):
    """A backup could not be taken, or a backup is incomplete or corrupt and was not restored."""


class AuthError(KbError):
    """Sign-in failed: unknown user, wrong password or disabled account (one message for all)."""


class DirectoryUnavailable(KbError):
    """The company directory cannot be reached or refused kb's own connection (not the user's
    password): directory accounts cannot sign in until it is back; local accounts still can."""


class LoginThrottled(AuthError):
    """Too many failed sign-ins for this user or address; ``retry_after`` is in seconds."""

    def __init__(self, retry_after: int):
        self.retry_after = retry_after
        super().__init__(f"too many failed sign-ins: try again in {max(1, retry_after // 60)} minute(s)")


class OidcRefused(AuthError):
    """An OpenID Connect sign-in or back-channel logout was refused. ``kind`` names what was
    wrong (``bad state``, ``bad signature``, ``expired token``, ``wrong audience``, ``no group`` …)
    and ``detail`` the particulars; the sign-in log keeps both, the person sees the kind's message."""

    def __init__(self, kind: str, detail: str):
        self.kind = kind
        self.detail = detail
        super().__init__(f"{kind}: {detail}")


class ProviderUnavailable(KbError):
    """An OpenID Connect provider cannot be reached, or its discovery document or keys are not
    usable: sign-in with it waits until it is back; local and directory accounts still sign in."""
