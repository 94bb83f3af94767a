"""Paths users give: resolved through symlinks and `..`, and checked so that nothing tradedb writes lands on a database."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from .errors import ConflictError, ValidationError

# The files SQLite keeps beside a database, and what each is.
SIDE_FILES = {"-wal": "write-ahead log", "-shm": "shared-memory index", "-journal": "rollback journal"}
_SQLITE_HEADER = b"SQLite format 3\x00"


def path_text(field: str, path: object) -> str:
    """`path` as text the file system can take, or ValidationError naming the field (never a bare ValueError)."""
    try:
        text = os.fspath(path)  # type: ignore[call-overload]
    except TypeError:
        raise ValidationError(field, f"expected a file path, got {type(path).__name__}") from None
    if not isinstance(text, str) or not text:
        raise ValidationError(field, f"expected a file path as text, got {text!r:.80}")
    # A plain str: a subclass's own methods (__eq__, __hash__) are never called.
    text = str.__getitem__(text, slice(None))
    if "\x00" in text:
        raise ValidationError(field, f"{text!r:.80} contains a NUL character; give a path without one")
    try:
        os.fsencode(text)
    except UnicodeEncodeError:
        raise ValidationError(field, f"{text!r:.80} has characters no file name can hold; give another path") from None
    return text


def resolve(path: str | os.PathLike[str]) -> Path:
    """The absolute path the OS will reach once folders exist: symlinks and `..` resolved, even under missing folders."""
    # Path.exists() of "nosuch/../x" is False while "nosuch" is missing, yet
    # once its folders are made it is "x": resolve it the way it will be reached.
    return Path(os.path.realpath(os.path.abspath(path)))


def database_files(database: Path) -> tuple[Path, ...]:
    """The resolved database file and the files SQLite keeps beside it (existing or not)."""
    real = resolve(database)
    return (real, *(real.with_name(real.name + suffix) for suffix in SIDE_FILES))


def is_sqlite_database(path: Path) -> bool:
    """True when `path` is a regular file that starts with SQLite's header."""
    try:
        if not stat.S_ISREG(os.stat(path).st_mode):
            return False  # never open a pipe or a device: reading could block
        with open(path, "rb") as file:
            return file.read(len(_SQLITE_HEADER)) == _SQLITE_HEADER
    except OSError:
        return False


def side_file_of(path: Path) -> tuple[Path, str] | None:
    """(the database, what the file is) when the resolved `path` is a -wal, -shm or -journal beside an existing database."""
    real = resolve(path)
    for suffix, kind in SIDE_FILES.items():
        if real.name.endswith(suffix) and len(real.name) > len(suffix):
            owner = real.with_name(real.name[: -len(suffix)])
            if is_sqlite_database(owner):
                return owner, kind
    return None


def _same_file(a: Path, b: Path) -> bool:
    try:
        return os.path.samefile(a, b)  # a hard link to the database is the database
    except OSError:
        return False


def check_destination(
    dest: str | os.PathLike[str],
    database: Path | None,
    *,
    field: str,
    overwrite: bool = False,
    sqlite_file: bool = False,
    if_exists: str = "give a new file name, or remove that file",
) -> Path:
    """The resolved path to write `dest` at, after refusing the database, its side files and anything unsafe to replace.

    Refused: the database file (None: a server's, no file) or its -wal/-shm/-journal (through symlinks, `..` or
    hard links), the side file of any other SQLite database, a dangling
    symlink, and anything that is not a regular file; an existing file unless
    `overwrite` (never a SQLite database; `if_exists` says what to do); with `sqlite_file`, a name that has
    SQLite side files beside it already (SQLite would read them as the new
    database's own).
    """
    given = Path(path_text(field, dest))
    try:
        return _checked_destination(given, database, field, overwrite, sqlite_file, if_exists)
    except OSError as error:
        # A name too long for the file system, a folder on the way that cannot be read...
        raise ValidationError(field, f"cannot use {str(given)[:100]!r}: {error.strerror or error}") from None


def _checked_destination(
    given: Path, database: Path | None, field: str, overwrite: bool, sqlite_file: bool, if_exists: str
) -> Path:
    real = resolve(given)
    check_name_length(field, real)
    for own in database_files(database) if database is not None else ():
        if real == own or _same_file(real, own):
            raise ConflictError(
                f"{field}: refusing to write over the database {database} (or its -wal/-shm/-journal files): "
                f"{given} is {own.name}; choose another file"
            )
    owner = side_file_of(real)
    if owner is not None:
        raise ConflictError(
            f"{field}: refusing to write {given}: it is the {owner[1]} of the SQLite database {owner[0]}; "
            "choose another file"
        )
    if given.is_symlink() and not os.path.lexists(real):
        raise ValidationError(field, f"{given} is a symbolic link to {real}, which does not exist; give a real file name")
    try:
        mode: int | None = os.stat(real).st_mode
    except FileNotFoundError:
        mode = None
    except OSError as error:
        raise ValidationError(field, f"cannot check {given}: {error.strerror}") from None
    if mode is not None:
        if stat.S_ISDIR(mode):
            raise ValidationError(field, f"{given} is a folder; give a file name")
        if not stat.S_ISREG(mode):
            raise ValidationError(field, f"{given} is not a regular file (a device, pipe or socket); give a file name")
        if not overwrite:
            raise ConflictError(f"{field}: {given} exists already; {if_exists}")
        if is_sqlite_database(real):
            raise ConflictError(f"{field}: refusing to replace {given}: it is a SQLite database; choose another file")
    if sqlite_file:
        for suffix in SIDE_FILES:
            leftover = real.with_name(real.name + suffix)
            if os.path.lexists(leftover):
                raise ConflictError(
                    f"{field}: {leftover} exists beside {given}: SQLite would read it as part of the new database; "
                    "remove it or choose another file name"
                )
    return real


def check_name_length(field: str, path: Path) -> None:
    """Refuse a path whose file name, or a folder name on the way, is longer than its file system takes."""
    longest = _longest_name(path.parent)
    for part in path.parts:
        if len(os.fsencode(part)) > longest:
            raise ValidationError(field, f"the name {part[:60]!r}... is longer than its file system allows ({longest} bytes)")


def _longest_name(folder: Path) -> int:
    """The longest file name, in bytes, the file system of `folder` (or of its nearest existing ancestor) takes."""
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    try:
        return os.pathconf(folder, "PC_NAME_MAX")
    except (OSError, ValueError):
        return 255  # what nearly every file system allows


def publish(partial: Path, dest: Path, *, database: Path | None, overwrite: bool = False) -> None:
    """Give the finished file `partial` the name `dest`: never the database's (None: a server's), never over a file unless `overwrite`."""
    # The folder is opened once and the name is given inside it: a folder on
    # the way that becomes a symlink after this check cannot redirect the write.
    folder = os.open(dest.parent, os.O_RDONLY | os.O_DIRECTORY)
    try:
        if database is not None and _is_database_folder(os.fstat(folder), database) and dest.name in {f.name for f in database_files(database)}:
            raise ConflictError(f"{dest} now leads to the database {database} or its files; nothing was written there")
        if overwrite:
            # Replaces the name, never writes through it: a symlink put there meanwhile is replaced, not followed.
            os.replace(partial, dest.name, dst_dir_fd=folder)
            return
        try:
            os.link(partial, dest.name, dst_dir_fd=folder)  # fails, atomically, if anything has that name
        except FileExistsError:
            raise ConflictError(f"{dest} exists already; give a new file name, or remove that file") from None
        except OSError:
            # No hard links on this file system: check, then rename.
            if _exists(dest.name, folder):
                raise ConflictError(f"{dest} exists already; give a new file name, or remove that file") from None
            os.replace(partial, dest.name, dst_dir_fd=folder)
    finally:
        os.close(folder)


def _is_database_folder(folder: os.stat_result, database: Path) -> bool:
    try:
        there = os.stat(resolve(database).parent)
    except OSError:
        return False
    return (folder.st_dev, folder.st_ino) == (there.st_dev, there.st_ino)


def _exists(name: str, folder: int) -> bool:
    try:
        os.stat(name, dir_fd=folder, follow_symlinks=False)
    except FileNotFoundError:
        return False
    return True
