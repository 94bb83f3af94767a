"""Where the SQL files and migrations are: inside the installed wheel, or in the source tree."""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

from .errors import TradeDBError


def resource_dir(name: str) -> Path:
    """The folder `sql` or `migrations`, wherever this copy of tradedb keeps it."""
    # A wheel carries them as tradedb/_sql and tradedb/_migrations (see
    # pyproject.toml); an editable install or a checkout has them at the top.
    packaged = Path(str(files("tradedb"))) / f"_{name}"
    if packaged.is_dir():
        return packaged
    source = Path(__file__).resolve().parent.parent / name
    if source.is_dir():
        return source
    raise TradeDBError(f"cannot find tradedb's {name}/ folder (looked in {packaged} and {source}); reinstall tradedb")
