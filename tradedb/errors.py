"""The errors tradedb raises: one small hierarchy under TradeDBError."""

from __future__ import annotations


class TradeDBError(Exception):
    """Base class of every error tradedb raises on purpose."""


class ValidationError(TradeDBError, ValueError):
    """A value given to tradedb is not acceptable; `field` names which one."""

    def __init__(self, field: str, reason: str) -> None:
        # A caller's field name may be a str subclass with methods of its own: keep its plain text.
        field = field if type(field) is str else str.__str__(field) if isinstance(field, str) else repr(type(field))
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


class DatabaseDamaged(TradeDBError):
    """A stored value cannot be read (a damaged or hand-edited file); the message names table, column and row."""


class NotFoundError(TradeDBError, LookupError):
    """No trade or bot has the id asked for."""


class InvalidTransition(TradeDBError):
    """A trade cannot move from its current status to the one asked for."""


class ConflictError(TradeDBError):
    """The record exists already (with other data, for a retried write)."""


class StoredMeanwhile(ConflictError):
    """Rows a call was storing were stored by another connection meanwhile; a server backend runs the call again once."""


class DatabaseBusy(TradeDBError):
    """The write lock could not be had within busy_timeout; nothing was written."""


class ServerUnreachable(TradeDBError):
    """The database server cannot be reached (down, restarting, or the network); retry once it is back."""


class DiskFull(TradeDBError):
    """The file system holding the database (or a backup) has no room; the message names it and says what was kept."""


class MigrationError(TradeDBError):
    """The database's schema is not one this version of tradedb can use."""


class QueryFileError(TradeDBError):
    """A file in sql/queries/ is malformed; the message gives file:line."""
