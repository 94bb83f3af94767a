"""The dashboard over HTTP, on both backends: every page and endpoint, filters, paging, CSV, bad input, the token rules."""

from __future__ import annotations

import asyncio
import csv
import io
import json
from collections.abc import AsyncIterator
from datetime import timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest

import tradedb
from tradedb.dashboard import DashboardServer
from tradedb.dashboard.app import CSP, create_app
from tradedb.dashboard.server import check_binding

from conftest import trade_data
from test_reports import DAY, closed, seed, stored

TOKEN = "s3cret-token-of-24-chars"


@pytest.fixture
async def client(repo: tradedb.Repository) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(repo)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://127.0.0.1:8750") as http:
        yield http


@pytest.fixture
async def seeded(repo: tradedb.Repository) -> list[tradedb.Trade]:
    await seed(repo)
    return await stored(repo)


async def get_json(client: httpx.AsyncClient, path: str, status: int = 200) -> Any:
    response = await client.get(path)
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    return response.json()


@pytest.mark.parametrize("path", ["/", "/open", "/trades", "/bots/alpha", "/bots/with%2Fslash"])
async def test_pages_are_static_shells_with_a_strict_policy(client: httpx.AsyncClient, path: str) -> None:
    response = await client.get(path)
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/html")
    assert response.headers["content-security-policy"] == CSP
    assert "default-src 'self'" in CSP and "unsafe-inline" not in CSP
    assert response.headers["x-content-type-options"] == "nosniff"
    html = response.text
    assert "<script src=\"http" not in html and "cdn" not in html.lower() and "UTC" in html
    for src in __import__("re").findall(r'(?:src|href)="(/static/[^"]+)"', html):
        asset = await client.get(src)
        assert asset.status_code == 200, src


async def test_overview_shows_exact_books(client: httpx.AsyncClient, repo: tradedb.Repository, seeded: list[tradedb.Trade]) -> None:
    body = await get_json(client, "/api/overview")
    bots = {row["id"]: row for row in body["bots"]}
    assert sorted(bots) == ["alpha", "beta", "gamma"]
    for bot in await repo.list_bot_instances():
        row = bots[bot.id]
        assert row["total_pnl"] == format(bot.total_pnl, "f")  # the stored text, to the last digit
        assert row["current_balance"] == format(bot.current_balance, "f")
        summary = await repo.get_trade_summary(bot_id=bot.id)
        assert (row["closed_trades"], row["wins"], row["losses"], row["open_positions"]) == (
            summary["closed_trades"], summary["winning_trades"], summary["losing_trades"], summary["open_trades"])
        assert row["status"] == "running" and row["stale"] is False and row["heartbeat_age_seconds"] < 60
    totals = body["totals"]
    assert Decimal(totals["total_pnl"]) == sum(Decimal(r["total_pnl"]) for r in body["bots"])
    balances = [bot.current_balance for bot in await repo.list_bot_instances()]
    assert totals["current_balance"] == format(sum(balances, Decimal(0)), "f")
    assert totals["closed_trades"] == sum(r["closed_trades"] for r in body["bots"]) == len(closed(seeded))
    assert body["now"].endswith("Z") and body["stale_after_seconds"] == 300


async def test_stale_badge(client: httpx.AsyncClient, repo: tradedb.Repository, raw_sql: Any) -> None:
    await repo.create_bot_instance({"id": "quiet", "type": "paper"})
    raw_sql.execute("UPDATE bot_instances SET last_heartbeat = ?, started_at = ? WHERE id = 'quiet'",
                    ("2024-01-01 00:00:00.000000Z", "2024-01-01 00:00:00.000000Z"))
    [row] = (await get_json(client, "/api/overview"))["bots"]
    assert row["stale"] is True and row["heartbeat_age_seconds"] > 86400


async def test_daily_series_are_aligned_and_cumulative(client: httpx.AsyncClient, seeded: list[tradedb.Trade]) -> None:
    body = await get_json(client, "/api/daily")
    assert body["days"] == sorted(body["days"])
    for series in body["bots"]:
        assert len(series["daily"]) == len(series["cumulative"]) == len(body["days"])
        mine = closed(seeded, bot_id=series["id"])
        assert Decimal(series["cumulative"][-1]) == sum(t.net_pnl for t in mine)  # type: ignore[misc]
        running = Decimal(0)
        for daily, cumulative in zip(series["daily"], series["cumulative"]):
            running += Decimal(daily or 0)
            assert Decimal(cumulative) == running
    one = await get_json(client, "/api/daily?bot=gamma")
    assert [s["id"] for s in one["bots"]] == ["gamma"]
    assert (await get_json(client, "/api/daily?bot=nobody", 404))["error"].startswith("bot 'nobody'")


async def test_open_positions(client: httpx.AsyncClient, seeded: list[tradedb.Trade]) -> None:
    body = await get_json(client, "/api/open")
    expected = [t for t in seeded if t.status == "open"]
    assert sorted(p["id"] for p in body["positions"]) == sorted(t.id for t in expected)
    entry_times = [p["entry_time"] for p in body["positions"]]
    assert entry_times == sorted(entry_times)
    first = next(t for t in expected if t.id == body["positions"][0]["id"])
    assert body["positions"][0]["entry_value"] == format(first.entry_value, "f")
    assert body["positions"][0]["age_seconds"] > 0


async def test_closed_trades_filters_sorting_and_pages(client: httpx.AsyncClient, seeded: list[tradedb.Trade]) -> None:
    body = await get_json(client, "/api/trades?bot=alpha&symbol=BTCUSDT&sort=net_pnl&order=asc&page=1&page_size=5")
    expected = sorted(closed(seeded, bot_id="alpha", symbol="BTCUSDT"), key=lambda t: (t.net_pnl, t.id))
    assert body["total"] == len(expected) and body["pages"] == -(-len(expected) // 5)
    assert [r["id"] for r in body["rows"]] == [t.id for t in expected[:5]]
    assert body["rows"][0]["net_pnl"] == format(expected[0].net_pnl, "f")
    last = await get_json(client, f"/api/trades?bot=alpha&symbol=BTCUSDT&sort=net_pnl&order=asc&page={body['pages']}&page_size=5")
    assert [r["id"] for r in last["rows"]] == [t.id for t in expected[(body["pages"] - 1) * 5:]]
    dated = await get_json(client, "/api/trades?since=2024-03-04&until=2024-03-04&type=paper")
    assert dated["total"] == len([t for t in closed(seeded) if t.exit_time.date().isoformat() == "2024-03-04"  # type: ignore
                                  and t.trade_type == "paper"])
    default = await get_json(client, "/api/trades")
    assert default["page_size"] == 50 and [r["exit_time"] for r in default["rows"]] == sorted(
        (r["exit_time"] for r in default["rows"]), reverse=True)


@pytest.mark.parametrize(("query", "field"), [
    ("page=0", "page"), ("page=-1", "page"), ("page=1.5", "page"), ("page=%EF%BC%91", "page"),
    ("page_size=1001", "page_size"), ("page_size=99999999999", "page_size"),
    ("sort=id", "sort"), ("sort=exit_time;drop", "sort"), ("order=sideways", "order"),
    ("since=2024-02-30", "since"), ("until=tomorrow", "until"), ("since=2024-03-05&until=2024-03-01", "since"),
    ("type=real", "trade_type"), ("bot=a%00b", "bot_id"), ("colour=red", "colour"), ("page=1&page=2", "page"),
])
async def test_bad_filters_are_400_naming_the_field(client: httpx.AsyncClient, query: str, field: str) -> None:
    for path in ("/api/trades", "/api/trades.csv", "/api/distribution"):
        if path == "/api/distribution" and field in ("page", "page_size", "sort", "order"):
            continue
        if path == "/api/trades.csv" and field in ("page", "page_size"):
            continue
        body = await get_json(client, f"{path}?{query}", 400)
        assert body["error"].startswith(f"{field}:"), (path, body)
        assert "Traceback" not in body["error"]


async def test_csv_streams_the_filtered_set(client: httpx.AsyncClient, seeded: list[tradedb.Trade]) -> None:
    async with client.stream("GET", "/api/trades.csv?bot=beta&type=paper") as response:
        assert response.status_code == 200 and response.headers["content-type"].startswith("text/csv")
        assert "attachment" in response.headers["content-disposition"]
        text = "".join([chunk async for chunk in response.aiter_text()])
    rows = list(csv.DictReader(io.StringIO(text)))
    expected = sorted(closed(seeded, bot_id="beta"), key=lambda t: (t.exit_time, t.id))
    assert [r["id"] for r in rows] == [t.id for t in expected]
    assert rows[0]["net_pnl"] == format(expected[0].net_pnl, "f") and rows[0]["status"] == "closed"
    empty = await client.get("/api/trades.csv?symbol=NOPE")
    assert empty.status_code == 200 and len(list(csv.reader(io.StringIO(empty.text)))) == 1  # the header alone


async def test_distribution(client: httpx.AsyncClient, seeded: list[tradedb.Trade]) -> None:
    body = await get_json(client, "/api/distribution?bot=alpha")
    assert len(body["buckets"]) == 16 and body["buckets"][0]["label"] == "< -20%"
    assert sum(b["trades"] for b in body["buckets"]) + body["unknown"] == len(closed(seeded, bot_id="alpha"))


async def test_symbols_and_bot_page(client: httpx.AsyncClient, repo: tradedb.Repository, seeded: list[tradedb.Trade]) -> None:
    body = await get_json(client, "/api/symbols")
    assert body["symbols"] == ["BTCUSDT", "ETHUSDT", "SOLUSDT"]
    assert body["bots"] == [{"id": "alpha", "type": "paper"}, {"id": "beta", "type": "paper"}, {"id": "gamma", "type": "live"}]
    await repo.calculate_performance_metrics("alpha")
    await repo.calculate_performance_metrics("alpha")
    page = await get_json(client, "/api/bots/alpha")
    assert page["bot"]["id"] == "alpha" and page["bot"]["closed_trades"] == len(closed(seeded, bot_id="alpha"))
    assert len(page["metrics"]) == 2 and set(page["metrics"][0]) >= {"sharpe_ratio", "max_drawdown", "win_rate", "total_return"}
    assert (await get_json(client, "/api/bots/nobody", 404))["error"] == "bot 'nobody': no such bot instance"


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "PATCH"])
async def test_nothing_writes(client: httpx.AsyncClient, method: str) -> None:
    for path in ("/", "/api/overview", "/api/trades"):
        response = await client.request(method, path)
        assert response.status_code == 405


async def test_a_token_is_required_when_set(repo: tradedb.Repository) -> None:
    app = create_app(repo, token=TOKEN)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://example.test") as http:
        for path in ("/", "/api/overview", "/static/app.css", "/api/events"):
            response = await http.get(path)
            assert response.status_code == 401 and "token required" in response.json()["error"]
        assert (await http.get("/api/overview?token=wrong-token-of-24-chars!!")).status_code == 401
        assert (await http.get("/api/overview", headers={"Authorization": f"Bearer {TOKEN}"})).status_code == 200
        # A link with the token signs the browser in: a cookie, and the address without it.
        signed = await http.get(f"/trades?bot=alpha&token={TOKEN}")
        assert signed.status_code == 303 and signed.headers["location"] == "/trades?bot=alpha"
        cookie = signed.headers["set-cookie"]
        assert "httponly" in cookie.lower() and "samesite=strict" in cookie.lower()
        assert (await http.get("/api/overview")).status_code == 200  # the client kept the cookie


@pytest.mark.parametrize(("host", "token", "field"), [
    ("0.0.0.0", None, "host"), ("192.168.1.5", None, "host"), ("::", None, "host"), ("example.com", None, "host"),
    ("127.0.0.1", "short", "token"), ("0.0.0.0", "has a space in it here", "token"),
])
def test_binding_rules(host: str, token: str | None, field: str) -> None:
    with pytest.raises(tradedb.ValidationError) as raised:
        check_binding(host, token)
    assert raised.value.field == field


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "::1", "127.0.0.2"])
def test_loopback_needs_no_token(host: str) -> None:
    assert check_binding(host, None) is None


async def test_served_events_push_changes_and_host_is_checked(database: Any, repo: tradedb.Repository) -> None:
    await repo.create_bot_instance({"id": "live-bot", "type": "paper"})
    server = DashboardServer(repo, port=0)
    await server.start()
    try:
        base = server.address.rstrip("/")
        async with httpx.AsyncClient(timeout=10) as http:
            # Another site's page that rebinds its name to 127.0.0.1 still sends its own Host.
            rebound = await http.get(f"{base}/api/overview", headers={"Host": "evil.example:8750"})
            assert rebound.status_code == 400
            async with http.stream("GET", f"{base}/api/events") as events:
                lines = events.aiter_lines()
                assert (await anext(lines)).startswith("retry:")
                async with tradedb.connect(database) as other:
                    await asyncio.sleep(0.3)
                    started = asyncio.get_running_loop().time()
                    await other.heartbeat("live-bot")

                    async def change() -> str:
                        async for line in lines:
                            if line == "event: change":
                                return line
                        return ""

                    assert await asyncio.wait_for(change(), 2) == "event: change"
                    assert asyncio.get_running_loop().time() - started < 2
    finally:
        await server.stop()


async def test_port_in_use_is_a_clear_error(repo: tradedb.Repository) -> None:
    first = DashboardServer(repo, port=0)
    await first.start()
    try:
        second = DashboardServer(repo, port=first.bound_port)
        with pytest.raises(tradedb.TradeDBError, match="choose another with --port"):
            await second.start()
    finally:
        await first.stop()


async def test_big_numbers_and_odd_ids_survive(client: httpx.AsyncClient, repo: tradedb.Repository) -> None:
    odd = "bot <script>alert(1)</script> / ü"
    await repo.create_bot_instance({"id": odd, "type": "paper", "current_balance": "999999999999.99999999"})
    await repo.create_trade(trade_data(bot_id=odd, status="closed", entry_price="999999999999.99999999", size="1",
                                       exit_price="0.00000001", exit_time=DAY + timedelta(days=1)))
    body = await get_json(client, "/api/overview")
    [row] = body["bots"]
    stored_bot = await repo.get_bot_instance(odd)
    assert row["id"] == odd and row["current_balance"] == format(stored_bot.current_balance, "f")  # type: ignore[union-attr]
    assert row["total_pnl"] == format(stored_bot.total_pnl, "f") and row["closed_trades"] == 1  # type: ignore[union-attr]
    assert row["total_pnl"].startswith("-999999999999.99")
    page = await get_json(client, "/api/bots/" + httpx.URL("/" + odd).raw_path.decode()[1:].replace("/", "%2F"))
    assert page["bot"]["id"] == odd
    assert json.dumps(body)  # plain JSON, nothing a float could round


async def test_no_favicon_is_not_an_error(repo: tradedb.Repository) -> None:
    app = create_app(repo, token=TOKEN)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://example.test") as http:
        answer = await http.get("/favicon.ico")
        assert answer.status_code == 204 and answer.content == b"" and answer.headers["content-security-policy"] == CSP


async def test_streams_that_hang_up_leave_the_others_live(database: Any, repo: tradedb.Repository) -> None:
    await repo.create_bot_instance({"id": "live-bot", "type": "paper"})
    server = DashboardServer(repo, port=0)
    await server.start()
    stopped = False
    try:
        base = server.address.rstrip("/")
        async with httpx.AsyncClient(timeout=10) as http:
            async def hang_up() -> None:
                async with http.stream("GET", f"{base}/api/events") as events:
                    await anext(events.aiter_lines())

            for _ in range(2):  # 60 clients read their first line and leave
                await asyncio.gather(*(hang_up() for _ in range(30)))
            head = await http.head(f"{base}/api/events")
            assert head.status_code == 200 and head.headers["content-type"].startswith("text/event-stream")
            async with http.stream("GET", f"{base}/api/events") as events:
                lines = events.aiter_lines()
                await anext(lines)
                async with tradedb.connect(database) as other:
                    await asyncio.sleep(0.3)
                    await other.heartbeat("live-bot")

                async def change() -> str:
                    async for line in lines:
                        if line == "event: change":
                            return line
                    return ""

                assert await asyncio.wait_for(change(), 2) == "event: change"
                started = asyncio.get_running_loop().time()
                await asyncio.wait_for(server.stop(), 5)  # with this stream still open
                stopped = True
                assert asyncio.get_running_loop().time() - started < 3
    finally:
        if not stopped:
            await server.stop()


async def test_the_last_date_is_no_bound(client: httpx.AsyncClient, seeded: list[tradedb.Trade]) -> None:
    body = await get_json(client, "/api/trades?since=0001-01-01&until=9999-12-31")
    assert body["total"] == len(closed(seeded))
    assert (await client.get("/api/trades.csv?until=9999-12-31")).status_code == 200


async def test_signing_in_stays_on_this_server_and_keeps_the_path(repo: tradedb.Repository) -> None:
    app = create_app(repo, token=TOKEN)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://example.test") as http:
        for path, location in ((f"http://example.test//evil.example?token={TOKEN}", "/evil.example"),
                               (f"/%2Fevil.example?token={TOKEN}", "/%2Fevil.example"),
                               (f"/bots/a%2Fb%2F..%2Fc?token={TOKEN}&x=1", "/bots/a%2Fb%2F..%2Fc?x=1")):
            answer = await http.get(path)
            assert answer.status_code == 303 and answer.headers["location"] == location, path
        # A wrong token in the address is refused even beside a right cookie, and sets no cookie.
        http.cookies.set("tradedb_token", TOKEN)
        wrong = await http.get("/trades?token=junk-junk-junk-junk")
        assert wrong.status_code == 401 and "set-cookie" not in wrong.headers
        twice = await http.get(f"/trades?token={TOKEN}&token=zzz")
        assert twice.status_code == 401 and "set-cookie" not in twice.headers
        assert (await http.get("/api/overview")).status_code == 200
