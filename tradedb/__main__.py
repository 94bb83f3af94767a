"""`python -m tradedb`: the same command as the `tradedb` console script."""

from __future__ import annotations

from .cli import main

raise SystemExit(main())
