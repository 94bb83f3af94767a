"""`tradedb serve`: a read-only live dashboard of every bot, trade and metric in a tradedb database.

    pip install 'tradedb[dashboard]'
    tradedb serve --database db/trading.db        # http://127.0.0.1:8750/

The pages are static files (tradedb/dashboard/static/) whose scripts read
the JSON endpoints of app.py and redraw when an event stream says the
database changed. Nothing is fetched from outside the package.
"""

from __future__ import annotations

from .server import DEFAULT_HOST, DEFAULT_PORT, TOKEN_VARIABLE, DashboardServer, check_binding

__all__ = ["DEFAULT_HOST", "DEFAULT_PORT", "TOKEN_VARIABLE", "DashboardServer", "check_binding"]
