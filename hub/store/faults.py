"""What went wrong with the storage, in words an operator can act on: read-only, disk
full, locked, connection refused, ... instead of a bare `OperationalError`."""

from __future__ import annotations

import errno
from pathlib import Path

from sqlalchemy.engine import make_url

# SQLite's error names (sqlite3's `sqlite_errorname`), by prefix, and PostgreSQL's SQLSTATEs.
_SQLITE = (
    ("SQLITE_READONLY", "read-only: the database file or its directory cannot be written"),
    ("SQLITE_FULL", "disk full"),
    (
        "SQLITE_IOERR_WRITE",
        "write failed: the database file cannot be written (read-only or "
        "immutable file, or a failing disk)",
    ),
    ("SQLITE_IOERR", "disk I/O error"),
    ("SQLITE_BUSY", "locked: another process holds the database"),
    ("SQLITE_LOCKED", "locked: another process holds the database"),
    ("SQLITE_CANTOPEN", "cannot open the database file (a missing or unwritable directory)"),
    ("SQLITE_PERM", "permission denied"),
    ("SQLITE_CORRUPT", "the database file is corrupt"),
    ("SQLITE_NOTADB", "the file is not an SQLite database"),
)
_SQLSTATE = {
    "53100": "disk full",
    "25006": "read-only: the server accepts no writes (a standby?)",
    "55P03": "locked",
    "40P01": "locked (deadlock)",
    "57P03": "the server is starting up or shutting down",
    "28P01": "authentication failed",
    "28000": "authentication failed",
    "3D000": "the database does not exist",
    "53300": "too many connections",
}
_ERRNO = {
    errno.EROFS: "read-only file system",
    errno.ENOSPC: "disk full",
    errno.EDQUOT: "disk quota exceeded",
    errno.EACCES: "permission denied",
    errno.EPERM: "permission denied",
    errno.ECONNREFUSED: "connection refused",
    errno.EHOSTUNREACH: "host unreachable",
    errno.ENETUNREACH: "network unreachable",
    errno.ETIMEDOUT: "timed out",
}


def fault_reason(exc: BaseException) -> str:
    """The likely cause of a storage error, from the error or the ones it wraps."""
    for cause in _chain(exc):
        name = getattr(cause, "sqlite_errorname", None)
        if isinstance(name, str):
            for prefix, reason in _SQLITE:
                if name.startswith(prefix):
                    return reason
        state = getattr(cause, "sqlstate", None)
        if isinstance(state, str) and state in _SQLSTATE:
            return _SQLSTATE[state]
        if isinstance(cause, OSError) and cause.errno in _ERRNO:
            return _ERRNO[cause.errno]
        if isinstance(cause, TimeoutError):
            return "timed out"
    inner = list(_chain(exc))[-1]
    text = str(inner).splitlines()[0] if str(inner) else ""
    return f"{inner.__class__.__name__}: {text}" if text else inner.__class__.__name__


def storage_place(url: str) -> str:
    """Where the storage is: the SQLite file's path or PostgreSQL's host:port/database."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        return str(Path(parsed.database or ":memory:").absolute())
    return f"{parsed.host or 'localhost'}:{parsed.port or 5432}/{parsed.database or ''}"


def _chain(exc: BaseException) -> list[BaseException]:
    """The error, what it wraps (SQLAlchemy's `orig`), its causes; each once."""
    out: list[BaseException] = []
    todo: list[BaseException | None] = [exc]
    while todo:
        cause = todo.pop(0)
        if cause is None or any(cause is seen for seen in out) or len(out) > 10:
            continue
        out.append(cause)
        orig = getattr(cause, "orig", None)
        todo += [orig if isinstance(orig, BaseException) else None]
        todo += [cause.__cause__, cause.__context__]
    return out


class StorageUnavailable(Exception):
    """The storage could not be opened: where, why, and what the operator can do."""

    def __init__(self, url: str, exc: BaseException) -> None:
        self.place = storage_place(url)
        self.reason = fault_reason(exc)
        self.postgres = not url.startswith("sqlite")
        super().__init__(f"storage unavailable at {self.place}: {self.reason}; {self.fix}")

    @property
    def fix(self) -> str:
        if self.postgres:
            return "start PostgreSQL there or correct storage.url (host, port, user, database)"
        if self.reason == "disk full":
            return "free space on that filesystem"
        if self.reason.startswith("locked"):
            return "stop the other process using the file"
        return "make the directory writable by the user running the hub, or set storage.url"
