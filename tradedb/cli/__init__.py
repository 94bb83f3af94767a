"""The `tradedb` command line (console script `tradedb`, or `python -m tradedb`); see `tradedb --help`."""

from __future__ import annotations

from .app import main

__all__ = ["main"]
