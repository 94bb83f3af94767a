"""The dashboard's web application: read-only pages and JSON over one open Repository (Starlette).

Every figure comes from the Repository's public methods (reports, bots,
trades, metrics); nothing here writes, and request parameters reach SQL only
as the checked arguments of those methods. Amounts leave as their exact
decimal text, times as UTC text.
"""

from __future__ import annotations

import asyncio
import contextlib
import csv
import hmac
import io
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from urllib.parse import urlencode
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, RedirectResponse, Response, StreamingResponse
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..cli.export import FIELDS, csv_value
from ..errors import DatabaseBusy, NotFoundError, ServerUnreachable, TradeDBError, ValidationError
from ..records import BotInstance, PerformanceMetrics, Trade
from ..reports import SORTS, BotOverview, win_rate
from ..repository import Repository
from ..upkeep import STALE_AFTER
from ..values import time_to_text, utc_now

STATIC = Path(__file__).with_name("static")
TOKEN_COOKIE = "tradedb_token"
# No script, style, font or image from anywhere but this server: the pages
# are static files, and every script and style is a file of its own.
CSP = (
    "default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; "
    "frame-ancestors 'none'; form-action 'self'"
)
PING_SECONDS = 15.0
CHANGE_INTERVAL = 0.25
SORT_ORDERS = {"asc": False, "desc": True}
FILTERS = ("bot", "symbol", "type", "since", "until")
log = logging.getLogger("tradedb.dashboard")


def amount(value: Decimal | None) -> str | None:
    """An amount as exact decimal text ('0.00000000', never '0E-8'); None stays None."""
    return None if value is None else format(value, "f")


def moment(value: datetime | None) -> str | None:
    """A time as tradedb stores it: 'YYYY-MM-DD HH:MM:SS.ffffffZ', UTC."""
    return None if value is None else time_to_text(value)


class BadRequest(Exception):
    """A request parameter that is not one the dashboard takes (answered 400, naming it)."""


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status, headers={"Cache-Control": "no-store"})


def _only(request: Request, allowed: tuple[str, ...]) -> Mapping[str, str]:
    """The query parameters, refusing unknown or repeated ones (a typo must not silently widen a filter)."""
    params = request.query_params
    for key in params.keys():
        if key not in allowed and key != "token":
            raise BadRequest(f"{key}: not a parameter here; use {', '.join(allowed) or 'none'}")
        if len(params.getlist(key)) > 1:
            raise BadRequest(f"{key}: given more than once; give it once")
    return {key: value for key, value in params.items() if value != "" and key != "token"}


def _whole(params: Mapping[str, str], key: str, default: int) -> int:
    text = params.get(key)
    if text is None:
        return default
    if not text.isascii() or not text.isdigit() or len(text) > 9:
        raise BadRequest(f"{key}: expected a whole number such as {default}, got {text[:40]!r}")
    return int(text)


def _order(params: Mapping[str, str]) -> tuple[str, bool]:
    """sort and order, checked: (the sort key, descending)."""
    sort, order = params.get("sort", "exit_time"), params.get("order", "desc")
    if sort not in SORTS:
        raise BadRequest(f"sort: expected one of {', '.join(SORTS)}, got {sort[:40]!r}")
    if order not in SORT_ORDERS:
        raise BadRequest(f"order: expected asc or desc, got {order[:40]!r}")
    return sort, SORT_ORDERS[order]


def _filters(params: Mapping[str, str]) -> dict[str, Any]:
    return {
        "bot_id": params.get("bot"),
        "symbol": params.get("symbol"),
        "trade_type": params.get("type"),
        "since": params.get("since"),
        "until": params.get("until"),
    }


class Dashboard:
    """The state one running dashboard shares between requests: the repository, and the change counter pushed to pages."""

    def __init__(self, repository: Repository, *, stale_after: timedelta = STALE_AFTER) -> None:
        self.repository = repository
        self.stale_after = stale_after
        self.changes = 0
        # Set, and replaced by a new one, at each change: a stream waits on the one current when it looked.
        # (Not a Condition: a waiter cancelled when its client hangs up must leave no lock behind.)
        self._changed = asyncio.Event()
        self.closing = False
        # The Host headers answered (None: any); the server sets them once it knows its port.
        self.hosts: frozenset[str] | None = None

    def _wake(self) -> None:
        woken, self._changed = self._changed, asyncio.Event()
        woken.set()

    async def watch(self) -> None:
        """Follow the database's commits for as long as the app runs, waking every open event stream on each."""
        failing: str | None = None
        while True:
            try:
                async for _ in self.repository.changes(CHANGE_INTERVAL):
                    failing = None
                    self.changes += 1
                    self._wake()
            except TradeDBError as error:
                if str(error) != failing:  # once per new trouble, not every second
                    log.warning("watching for changes failed (%s); trying again every second", error)
                failing = str(error)
                await asyncio.sleep(1)

    async def next_change(self, seen: int, timeout: float) -> int:
        """The change counter once it passes `seen`, or as it is after `timeout` seconds (or once streams close)."""
        if self.changes == seen and not self.closing:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), timeout)
        return self.changes

    async def close_streams(self) -> None:
        """End every open event stream (the server is stopping: their pages reconnect to the next one)."""
        self.closing = True
        self._wake()

    # JSON shapes

    def bot_row(self, row: BotOverview, now: datetime) -> dict[str, Any]:
        bot = row.bot
        beat = bot.last_heartbeat or bot.started_at
        age = None if beat is None else max(0.0, (now - beat).total_seconds())
        stale = bot.status == "running" and (beat is None or now - beat > self.stale_after)
        rate = row.win_rate
        return {
            "id": bot.id,
            "type": bot.type,
            "status": bot.status,
            "stale": stale,
            "last_heartbeat": moment(bot.last_heartbeat),
            "heartbeat_age_seconds": None if age is None else round(age, 3),
            "current_balance": amount(bot.current_balance),
            "total_pnl": amount(bot.total_pnl),
            "today_pnl": amount(row.today_pnl),
            "open_positions": row.open_positions,
            "closed_trades": row.closed_trades,
            "wins": row.wins,
            "losses": row.losses,
            "win_rate": None if rate is None else format(rate, "f"),
        }

    @staticmethod
    def trade_row(trade: Trade) -> dict[str, Any]:
        return {
            "id": trade.id,
            "bot_id": trade.bot_id,
            "trade_type": trade.trade_type,
            "symbol": trade.symbol,
            "direction": trade.direction,
            "entry_time": moment(trade.entry_time),
            "exit_time": moment(trade.exit_time),
            "entry_price": amount(trade.entry_price),
            "exit_price": amount(trade.exit_price),
            "size": amount(trade.size),
            "entry_value": amount(trade.entry_value),
            "net_pnl": amount(trade.net_pnl),
            "pnl_percentage": amount(trade.pnl_percentage),
            "exit_reason": trade.exit_reason,
        }

    @staticmethod
    def metrics_row(metrics: PerformanceMetrics) -> dict[str, Any]:
        return {
            "calculated_at": moment(metrics.calculated_at),
            "sharpe_ratio": amount(metrics.sharpe_ratio),
            "max_drawdown": amount(metrics.max_drawdown),
            "win_rate": amount(metrics.win_rate),
            "total_return": amount(metrics.total_return),
            "profit_factor": amount(metrics.profit_factor),
            "total_trades": metrics.total_trades,
        }

    # Endpoints

    async def overview(self, request: Request) -> Response:
        _only(request, ())
        now = utc_now()
        rows = await self.repository.get_bot_overview(now.date())
        bots = [self.bot_row(row, now) for row in rows]
        closed = sum(row.closed_trades for row in rows)
        wins = sum(row.wins for row in rows)
        rate = win_rate(wins, closed)
        totals = {
            "bots": len(rows),
            "current_balance": amount(sum((r.bot.current_balance or Decimal(0) for r in rows), Decimal("0E-8"))),
            "total_pnl": amount(sum((r.bot.total_pnl for r in rows), Decimal("0E-8"))),
            "today_pnl": amount(sum((r.today_pnl for r in rows), Decimal("0E-8"))),
            "open_positions": sum(row.open_positions for row in rows),
            "closed_trades": closed,
            "wins": wins,
            "losses": sum(row.losses for row in rows),
            "win_rate": None if rate is None else format(rate, "f"),
        }
        return self.json({
            "now": moment(now), "today": now.date().isoformat(),
            "stale_after_seconds": self.stale_after.total_seconds(), "bots": bots, "totals": totals,
        })

    async def daily(self, request: Request) -> Response:
        params = _only(request, ("bot",))
        bot_id = params.get("bot")
        if bot_id is not None:
            await self._bot(bot_id)
        days_of = await self.repository.get_daily_pnl(bot_id)
        days = sorted({row.day for row in days_of})
        index = {day: i for i, day in enumerate(days)}
        series: dict[str, list[Decimal | None]] = {}
        for row in days_of:
            series.setdefault(row.bot_id, [None] * len(days))[index[row.day]] = row.net_pnl
        bots = []
        for owner in sorted(series):
            running, cumulative = Decimal("0E-8"), []
            for value in series[owner]:
                running += value or 0
                cumulative.append(amount(running))
            bots.append({"id": owner, "daily": [amount(v) for v in series[owner]], "cumulative": cumulative})
        return self.json({"days": [day.isoformat() for day in days], "bots": bots})

    async def open_positions(self, request: Request) -> Response:
        params = _only(request, ("bot",))
        now = utc_now()
        trades = await self.repository.get_open_trades(params.get("bot"))
        positions = []
        for trade in trades:
            row = self.trade_row(trade)
            row["age_seconds"] = None if trade.entry_time is None else round((now - trade.entry_time).total_seconds(), 3)
            positions.append(row)
        return self.json({"now": moment(now), "positions": positions})

    async def trades(self, request: Request) -> Response:
        params = _only(request, (*FILTERS, "sort", "order", "page", "page_size"))
        sort, descending = _order(params)
        page = await self.repository.get_closed_trades_page(
            **_filters(params),
            sort=sort,
            descending=descending,
            page=_whole(params, "page", 1),
            page_size=_whole(params, "page_size", 50),
        )
        return self.json({
            "total": page.total, "page": page.page, "page_size": page.page_size, "pages": page.pages,
            "rows": [self.trade_row(trade) for trade in page.trades],
        })

    async def trades_csv(self, request: Request) -> Response:
        # The table's sort is taken (and checked) so that its link works, but the file is in exit order:
        # read in pages after a position, it never holds a snapshot open for a slow download.
        params = _only(request, (*FILTERS, "sort", "order"))
        _order(params)
        filters = _filters(params)
        trades = self.repository.iter_closed_trades(**filters)
        # The first page is read before answering, so a bad filter is a 400, not a broken download.
        first = await anext(trades, None)

        async def lines() -> AsyncIterator[str]:
            buffer = io.StringIO()
            writer = csv.writer(buffer)
            writer.writerow(FIELDS)
            trade = first
            while trade is not None:
                writer.writerow([csv_value(getattr(trade, name)) for name in FIELDS])
                if buffer.tell() > 65536:
                    yield buffer.getvalue()
                    buffer.seek(0)
                    buffer.truncate()
                trade = await anext(trades, None)
            yield buffer.getvalue()

        stamp = utc_now().strftime("%Y%m%dT%H%M%SZ")
        return StreamingResponse(lines(), media_type="text/csv; charset=utf-8", headers={
            "Content-Disposition": f'attachment; filename="closed-trades-{stamp}.csv"', "Cache-Control": "no-store",
        })

    async def distribution(self, request: Request) -> Response:
        params = _only(request, FILTERS)
        found = await self.repository.get_pnl_distribution(**_filters(params))
        return self.json({
            "buckets": [
                {"label": b.label, "low": amount(b.low), "high": amount(b.high), "trades": b.trades}
                for b in found.buckets
            ],
            "unknown": found.without_percentage,
        })

    async def symbols(self, request: Request) -> Response:
        _only(request, ())
        symbols = await self.repository.get_traded_symbols()
        bots = await self.repository.list_bot_instances()
        return self.json({"symbols": symbols, "bots": [{"id": bot.id, "type": bot.type} for bot in bots]})

    async def _bot(self, bot_id: str) -> BotInstance:
        bot = await self.repository.get_bot_instance(bot_id)
        if bot is None:
            raise NotFoundError(f"bot {bot_id[:100]!r}: no such bot instance")
        return bot

    async def bot(self, request: Request) -> Response:
        _only(request, ())
        bot_id = request.path_params["bot_id"]
        bot = await self._bot(bot_id)
        now = utc_now()
        rows = [row for row in await self.repository.get_bot_overview(now.date()) if row.bot.id == bot_id]
        row = self.bot_row(rows[0], now) if rows else {}
        row.update({"started_at": moment(bot.started_at), "config_file": bot.config_file})
        metrics = await self.repository.get_performance_metrics(bot_id)
        ordered = sorted(metrics, key=lambda m: (m.calculated_at or m.created_at, m.created_at))
        return self.json({"bot": row, "metrics": [self.metrics_row(m) for m in ordered]})

    async def events(self, request: Request) -> Response:
        _only(request, ())
        if request.method == "HEAD":  # the headers only: a stream that never ends would hold the connection
            return Response(media_type="text/event-stream", headers={"Cache-Control": "no-store"})

        async def stream() -> AsyncIterator[str]:
            seen = self.changes
            yield f"retry: 1000\nevent: hello\ndata: {seen}\n\n"
            while not self.closing:
                current = await self.next_change(seen, PING_SECONDS)
                if self.closing:
                    return
                if current == seen:
                    yield ": ping\n\n"
                else:
                    seen = current
                    yield f"event: change\ndata: {seen}\n\n"

        return StreamingResponse(stream(), media_type="text/event-stream", headers={
            "Cache-Control": "no-store", "X-Accel-Buffering": "no",
        })

    @staticmethod
    def json(body: Any) -> JSONResponse:
        return JSONResponse(body, headers={"Cache-Control": "no-store"})


def page(name: str) -> Callable[[Request], Awaitable[Response]]:
    """A route answering with one of the static page shells (their scripts fetch the data)."""

    async def endpoint(request: Request) -> Response:
        return FileResponse(STATIC / name, media_type="text/html; charset=utf-8", headers={"Cache-Control": "no-store"})

    return endpoint


def guarded(endpoint: Callable[[Request], Awaitable[Response]]) -> Callable[[Request], Awaitable[Response]]:
    """An API endpoint whose failures are JSON naming the problem: 400 bad input, 404, 503 database away."""

    async def run(request: Request) -> Response:
        try:
            return await endpoint(request)
        except (BadRequest, ValidationError) as error:
            return _error(400, str(error))
        except NotFoundError as error:
            return _error(404, str(error))
        except (ServerUnreachable, DatabaseBusy) as error:
            return _error(503, str(error))
        except TradeDBError as error:
            log.error("dashboard request %s failed: %s", request.url.path, error)
            return _error(500, str(error))
        except Exception:
            log.exception("dashboard request %s failed", request.url.path)
            return _error(500, "the dashboard failed to answer (a bug: the server's log has the details)")

    return run


class Guard:
    """Headers on every answer (CSP and friends), the token when one is set, and the Host a loopback server answers to."""

    def __init__(self, app: ASGIApp, token: str | None, dashboard: Dashboard) -> None:
        self.app = app
        self.token = None if token is None else token.encode()
        self.dashboard = dashboard

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request = Request(scope)

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers += [
                    (b"content-security-policy", CSP.encode()),
                    (b"x-content-type-options", b"nosniff"),
                    (b"referrer-policy", b"no-referrer"),
                    (b"x-frame-options", b"DENY"),
                ]
                message["headers"] = headers
            await send(message)

        if request.url.path == "/favicon.ico":
            # Browsers ask for it unprompted (a 404 or 401 there is a console error on every page): no icon.
            await Response(status_code=204)(scope, receive, send_with_headers)
            return
        refusal = self.refusal(request)
        if refusal is not None:
            await refusal(scope, receive, send_with_headers)
            return
        if self.token is not None and "token" in request.query_params and request.method == "GET" \
                and not request.url.path.startswith("/api/"):
            # A link with ?token= (checked in refusal: it matched) signs the browser in once: the cookie carries it
            # from then on, and the address bar (and history) stops showing it. The path is sent back as it
            # came (raw), and can only name this server.
            raw = scope.get("raw_path") or request.url.path.encode()
            path = "/" + raw.decode("latin-1").lstrip("/")
            query = urlencode([(k, v) for k, v in request.query_params.multi_items() if k != "token"])
            response = RedirectResponse(path + (f"?{query}" if query else ""), status_code=303)
            response.set_cookie(TOKEN_COOKIE, request.query_params["token"], httponly=True, samesite="strict", path="/")
            await response(scope, receive, send_with_headers)
            return
        await self.app(scope, receive, send_with_headers)

    def refusal(self, request: Request) -> Response | None:
        hosts = self.dashboard.hosts
        if hosts is not None and request.headers.get("host", "").lower() not in hosts:
            # A page elsewhere that rebinds its own name to 127.0.0.1 still sends its own Host: refuse it.
            return _error(400, "host: this dashboard answers only to the address it listens on")
        if request.method not in ("GET", "HEAD"):
            return _error(405, "the dashboard is read-only: only GET")
        if self.token is None:
            return None
        given = request.query_params.getlist("token")
        if given:
            # A token in the address must be the token itself, whatever else the request carries (a wrong
            # one would otherwise be set as the cookie, signing the browser out).
            if len(given) == 1 and hmac.compare_digest(given[0].encode(), self.token):
                return None
            return _error(401, "token: the token in the address is not this dashboard's; open it with the right one")
        candidates = [request.cookies.get(TOKEN_COOKIE)]
        header = request.headers.get("authorization", "")
        if header.lower().startswith("bearer "):
            candidates.append(header[7:].strip())
        if any(c is not None and hmac.compare_digest(c.encode(), self.token) for c in candidates):
            return None
        return _error(401, "token required: open the dashboard's address with ?token=<its token> "
                           "(from --token or TRADEDB_DASHBOARD_TOKEN), or send Authorization: Bearer <token>")


def create_app(
    repository: Repository,
    *,
    token: str | None = None,
    stale_after: timedelta = STALE_AFTER,
) -> Starlette:
    """The dashboard over an open repository; it does not close the repository."""
    dashboard = Dashboard(repository, stale_after=stale_after)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        watcher = asyncio.create_task(dashboard.watch())
        try:
            yield
        finally:
            watcher.cancel()
            try:
                await watcher
            except asyncio.CancelledError:
                pass

    api = [
        ("/api/overview", dashboard.overview),
        ("/api/daily", dashboard.daily),
        ("/api/open", dashboard.open_positions),
        ("/api/trades", dashboard.trades),
        ("/api/trades.csv", dashboard.trades_csv),
        ("/api/distribution", dashboard.distribution),
        ("/api/symbols", dashboard.symbols),
        ("/api/bots/{bot_id:path}", dashboard.bot),
        ("/api/events", dashboard.events),
    ]
    routes: list[BaseRoute] = [Route(path, guarded(endpoint), methods=["GET"]) for path, endpoint in api]
    routes += [
        Route("/", page("index.html"), methods=["GET"]),
        Route("/open", page("open.html"), methods=["GET"]),
        Route("/trades", page("trades.html"), methods=["GET"]),
        Route("/bots/{bot_id:path}", page("bot.html"), methods=["GET"]),
        Mount("/static", StaticFiles(directory=STATIC), name="static"),
    ]
    app = Starlette(routes=routes, lifespan=lifespan)
    app.state.dashboard = dashboard
    app.add_middleware(Guard, token=token, dashboard=dashboard)
    return app
