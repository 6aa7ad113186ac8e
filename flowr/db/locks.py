"""Lock errors of the databases, classified and turned into flowr errors."""

from __future__ import annotations

from django.db import OperationalError, models

from flowr.exceptions import ConcurrentTransition, TransitionLockTimeout

# PostgreSQL SQLSTATEs and MySQL/MariaDB error numbers.
_PG_LOCK_TIMEOUT = {"55P03"}
_PG_CONFLICT = {"40P01", "40001"}
_MYSQL_LOCK_TIMEOUT = {1205}
_MYSQL_CONFLICT = {1213}


def lock_error_kind(exc: BaseException) -> str | None:
    """Classify a database error: ``"timeout"``, ``"conflict"`` or None.

    ``"timeout"``: a lock wait ended (SQLite "database is locked",
    PostgreSQL ``lock_timeout``/``NOWAIT``, MariaDB lock wait timeout).
    ``"conflict"``: a deadlock or serialization failure.
    """
    cause = exc.__cause__
    sqlstate = getattr(cause, "sqlstate", None) or getattr(cause, "pgcode", None)
    errno = exc.args[0] if exc.args and isinstance(exc.args[0], int) else None
    if sqlstate in _PG_LOCK_TIMEOUT or errno in _MYSQL_LOCK_TIMEOUT:
        return "timeout"
    if sqlstate in _PG_CONFLICT or errno in _MYSQL_CONFLICT:
        return "conflict"
    text = str(exc).lower()
    if "database is locked" in text or "database table is locked" in text:
        return "timeout"
    return None


class lock_errors_as_flowr:  # noqa: N801 -- used like a function; a class is the cheaper context manager
    """Turn the database's lock errors into flowr errors (cause chained)."""

    __slots__ = ("state",)

    def __init__(self, state: models.Model | None) -> None:
        self.state = state

    def __enter__(self) -> None:
        pass

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: object) -> None:
        if not isinstance(exc, OperationalError):
            return
        state = self.state
        state_pk = None if state is None else state.pk
        problem = lock_error_kind(exc)
        if problem == "timeout":
            raise TransitionLockTimeout(
                f"State {state_pk}: a database lock was held by another transaction too long ({exc}); try again",
                state=state,
            ) from exc
        if problem == "conflict":
            raise ConcurrentTransition(
                f"State {state_pk}: the database aborted the transition because of a conflicting transaction "
                f"({exc}); refresh it and try again",
                state=state,
            ) from exc
