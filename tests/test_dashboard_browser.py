"""The dashboard in a real headless Chromium (Debian's chromium, driven by Playwright), on both backends.

What a person sees: the bots with their exact amounts, the totals, charts
drawn; a trade closed by another process showing up within 2 seconds without
a reload; the closed-trades page's filter, sort and CSV link; a bot's equity
chart; the token rules. No console error and no Content-Security-Policy
violation on any page.

These tests FAIL when Chromium or Playwright is missing (`apt-get install
chromium`, `pip install -e '.[test]'`); they never skip. Playwright's own
browsers are never used (`playwright install` is not needed).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import os
import queue
import re
import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, ConsoleMessage, Page, expect, sync_playwright

import tradedb

CHROMIUM = Path("/usr/bin/chromium")
ADDRESS = re.compile(r"tradedb dashboard of .* at (http://\S+/) \(read-only")
TOKEN = "browser-test-token-0123456789"
LIVE_WITHIN = 2.0  # seconds from a commit by another process to the page showing it
# Before any page script: collect CSP violations (Chromium also logs them as console errors).
WATCH_CSP = """
window.__csp = [];
document.addEventListener('securitypolicyviolation',
  (e) => window.__csp.push(`${e.violatedDirective} blocked ${e.blockedURI || 'inline'} at ${e.sourceFile}:${e.lineNumber}`));
"""


# ------------------------------------------------------------------ the database


async def seed(database: Path | str) -> dict[str, str]:
    """Three bots with hand-checked books; returns the ids of the trades the tests touch."""
    now = datetime.now(timezone.utc)
    day = now.replace(hour=12, minute=0, second=0, microsecond=0)
    async with tradedb.connect(database) as repo:
        await repo.create_bot_instance({"id": "alpha", "type": "paper", "current_balance": "1000", "status": "stopped"})
        await repo.create_bot_instance({"id": "beta", "type": "live", "current_balance": "2500.5"})
        await repo.heartbeat("beta")
        # Running, silent for two hours: stale.
        await repo.create_bot_instance({"id": "gamma", "type": "optimization", "started_at": now - timedelta(hours=2)})

        def trade(bot_id: str, symbol: str, direction: str, entry: str, size: str, days_ago: int,
                  exit_price: str | None) -> dict[str, Any]:
            entered = day - timedelta(days=days_ago, hours=3)
            data: dict[str, Any] = {
                "bot_id": bot_id, "trade_type": "paper" if bot_id == "alpha" else "live",
                "entry_logic_name": "RSIBBVolumeEntryMixin", "exit_logic_name": "ATRExitMixin",
                "symbol": symbol, "interval": "1h", "direction": direction,
                "entry_time": entered if exit_price is not None else now - timedelta(hours=2),
                "entry_price": entry, "size": size,
            }
            if exit_price is not None:
                data.update(status="closed", exit_time=entered + timedelta(hours=2), exit_price=exit_price,
                            commission="0", exit_reason="take profit")
            return data

        created = await repo.create_trades([
            # alpha: +100.5, -20.04321099, +43 on three days: total PnL 123.45678901
            trade("alpha", "BTCUSDT", "long", "100", "1", 3, "200.5"),
            trade("alpha", "ETHUSDT", "long", "50", "1", 2, "29.95678901"),
            trade("alpha", "BTCUSDT", "long", "10", "1", 1, "53"),
            trade("alpha", "SOLUSDT", "long", "95.5", "2", 0, None),
            # beta: a short lost 50; a long ETH position open, closed during the test for +25
            trade("beta", "BTCUSDT", "short", "2000", "0.5", 2, "2100"),
            trade("beta", "ETHUSDT", "long", "3000.12345678", "0.25", 0, None),
        ])
    return {"beta_open": created[5].id, "alpha_open": created[3].id}


def seeded(database: Path | str) -> dict[str, str]:
    """seed() from these synchronous tests (in a thread: Playwright's sync API keeps an event loop in this one)."""
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, seed(database)).result()


CLOSE_SCRIPT = textwrap.dedent("""
    import asyncio, sys
    import tradedb

    async def main():
        async with tradedb.connect(sys.argv[1], migrate=False) as repo:
            closed = await repo.close_trade(sys.argv[2], exit_price="3100.12345678", commission="0",
                                            exit_reason="take profit")
            print(closed.net_pnl, flush=True)

    asyncio.run(main())
""")


# ------------------------------------------------------------------ the server and the browser


def environment() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k not in ("TRADEDB_DATABASE", "TRADEDB_DASHBOARD_TOKEN")}


@contextmanager
def served(database: Path | str, *args: str) -> Iterator[str]:
    """`tradedb serve --database ... --port 0 ARGS` in a subprocess: its printed address; stopped by Ctrl-C after."""
    process = subprocess.Popen(
        [sys.executable, "-m", "tradedb", "serve", "--database", str(database), "--port", "0", *args],
        env=environment(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    lines: queue.Queue[str | None] = queue.Queue()
    seen: list[str] = []

    def read() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            lines.put(line)
        lines.put(None)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        deadline = time.monotonic() + 30
        address = None
        while address is None:
            try:
                line = lines.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                line = None
            if line is None:
                pytest.fail("tradedb serve printed no address:\n" + "".join(seen), pytrace=False)
            seen.append(line)
            found = ADDRESS.search(line)
            address = found[1] if found else None
        yield address
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=10) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        reader.join(timeout=5)
        assert process.stdout is not None
        process.stdout.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Debian's Chromium, headless (never Playwright's own download)."""
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: apt-get install chromium (the browser tests never skip)", pytrace=False)
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True)
        try:
            yield launched
        finally:
            launched.close()


class Tab:
    """A page in a fresh browser context, with every console error, page error and CSP violation kept."""

    def __init__(self, browser: Browser) -> None:
        self.context = browser.new_context(viewport={"width": 1400, "height": 1000})
        self.context.add_init_script(WATCH_CSP)
        self.page: Page = self.context.new_page()
        self.problems: list[str] = []
        self.refused: set[str] = set()  # addresses expected to answer 401
        self.page.on("console", self._console)
        self.page.on("pageerror", lambda error: self.problems.append(f"page error: {error}"))

    def _console(self, message: ConsoleMessage) -> None:
        url = message.location.get("url", "")
        if message.type == "error" and not (
            message.text.endswith("status of 401 (Unauthorized)") and url in self.refused
            # The browser's own try for an icon of a JSON answer (the pages name theirs: data:,).
            or message.text.startswith("Failed to load resource") and url.endswith("/favicon.ico")
        ):
            self.problems.append(f"console error: {message.text} ({message.location.get('url')})")

    def open(self, url: str) -> Page:
        """Load a page and wait for its first render (body[data-loaded])."""
        response = self.page.goto(url)
        assert response is not None and response.ok, (url, response and response.status)
        expect(self.page.locator("body")).to_have_attribute("data-loaded", "1", timeout=10_000)
        expect(self.page.locator("#live")).to_have_attribute("data-state", "on")
        return self.page

    def assert_clean(self) -> None:
        """No console errors, no page errors, no CSP violations, no error line shown."""
        violations = self.page.evaluate("window.__csp")
        assert violations == [], violations
        assert self.problems == [], self.problems
        expect(self.page.locator("#error")).to_be_hidden()

    def close(self) -> None:
        self.context.close()


@pytest.fixture
def tab(browser: Browser) -> Iterator[Tab]:
    opened = Tab(browser)
    try:
        yield opened
    finally:
        opened.close()


def cell(page: Page, bot: str, col: str) -> Any:
    """A cell of the overview's bots table (by bot id and column), or of its totals row (bot "totals")."""
    row = "#bots tfoot #totals" if bot == "totals" else f'#bots tbody tr[data-bot="{bot}"]'
    return page.locator(f'{row} [data-col="{col}"]')


def chart_drawn(page: Page, selector: str) -> None:
    """A uPlot canvas of non-zero size inside `selector`, with something painted on it."""
    canvas = page.locator(f"{selector} .uplot canvas").first
    expect(canvas).to_be_visible()
    box = canvas.bounding_box()
    assert box is not None and box["width"] > 100 and box["height"] > 50, box
    painted = page.evaluate(
        """(selector) => {
            const canvas = document.querySelector(`${selector} .uplot canvas`);
            const data = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
            let painted = 0;
            for (let i = 3; i < data.length; i += 4) if (data[i] !== 0) painted++;
            return painted;
        }""",
        selector,
    )
    assert painted > 500, f"{selector}: only {painted} pixels painted"


# ------------------------------------------------------------------ the tests


def test_the_overview_shows_exact_books_and_a_trade_closed_elsewhere_within_2_seconds(
    database: Path | str, tab: Tab
) -> None:
    ids = seeded(database)
    with served(database) as address:
        page = tab.open(address)
        expect(page.locator("#utc")).to_have_text("Times in UTC")
        expect(page.locator("#bots tbody tr[data-bot]")).to_have_count(3)
        assert page.locator("#bots tbody tr[data-bot]").evaluate_all("rows => rows.map(r => r.dataset.bot)") == [
            "alpha", "beta", "gamma"]
        expected = {
            ("alpha", "type"): "paper", ("alpha", "status"): "stopped",
            ("alpha", "current_balance"): "1123.45678901", ("alpha", "total_pnl"): "123.45678901",
            ("alpha", "open_positions"): "1", ("alpha", "closed_trades"): "3", ("alpha", "win_rate"): "66.67",
            ("beta", "type"): "live", ("beta", "status"): "running",
            ("beta", "current_balance"): "2450.50000000", ("beta", "total_pnl"): "-50.00000000",
            ("beta", "today_pnl"): "0.00000000",
            ("beta", "open_positions"): "1", ("beta", "closed_trades"): "1", ("beta", "win_rate"): "0.00",
            ("gamma", "current_balance"): "—", ("gamma", "total_pnl"): "0.00000000", ("gamma", "win_rate"): "—",
            ("totals", "bots"): "Total · 3 bots",
            ("totals", "current_balance"): "3573.95678901", ("totals", "total_pnl"): "73.45678901",
            ("totals", "open_positions"): "2", ("totals", "closed_trades"): "4", ("totals", "win_rate"): "50.00",
        }
        for (bot, col), text in expected.items():
            expect(cell(page, bot, col)).to_have_text(text)
        # Only the running bot that sent no heartbeat for two hours is stale, with the age.
        expect(page.locator('[data-col="stale"]')).to_have_count(1)
        expect(cell(page, "gamma", "stale")).to_have_text(re.compile(r"^stale · 2h( \dm)?$"))
        expect(page.locator('#bots tbody tr[data-bot="alpha"] a')).to_have_attribute("href", "/bots/alpha")
        chart_drawn(page, "#chart-cumulative")
        chart_drawn(page, "#chart-daily")
        # The cumulative chart has a line per bot with closed trades.
        expect(page.locator("#chart-cumulative .u-legend .u-series .u-label")).to_have_text(
            ["day (UTC)", "alpha", "beta"])
        tab.assert_clean()

        # Another process closes beta's open position; the page follows, pushed, without a reload.
        page.evaluate("window.__marker = 'same document'")
        refreshes = int(page.locator("body").get_attribute("data-refreshes") or "0")
        closer = subprocess.run([sys.executable, "-c", CLOSE_SCRIPT, str(database), ids["beta_open"]],
                                env=environment(), capture_output=True, text=True, timeout=60)
        assert closer.returncode == 0, closer.stderr
        assert closer.stdout.strip() == "25.00000000"
        committed = time.monotonic()
        expect(cell(page, "beta", "open_positions")).to_have_text("0", timeout=LIVE_WITHIN * 1000)
        shown_after = time.monotonic() - committed
        after = {
            ("beta", "total_pnl"): "-25.00000000", ("beta", "today_pnl"): "25.00000000",
            ("beta", "current_balance"): "2475.50000000", ("beta", "closed_trades"): "2", ("beta", "win_rate"): "50.00",
            ("totals", "open_positions"): "1", ("totals", "closed_trades"): "5", ("totals", "win_rate"): "60.00",
            ("totals", "total_pnl"): "98.45678901", ("totals", "current_balance"): "3598.95678901",
            ("totals", "today_pnl"): "25.00000000",
            ("alpha", "total_pnl"): "123.45678901",
        }
        for (bot, col), text in after.items():
            # Rendered together: once the count shows, the rest is there (the deadline still counts from the commit).
            expect(cell(page, bot, col)).to_have_text(text, timeout=max(1.0, LIVE_WITHIN - shown_after) * 1000)
        assert time.monotonic() - committed < LIVE_WITHIN + 0.5
        assert page.evaluate("window.__marker") == "same document"  # no navigation, no reload
        assert int(page.locator("body").get_attribute("data-refreshes") or "0") > refreshes
        chart_drawn(page, "#chart-cumulative")
        tab.assert_clean()

        # The open positions page lists what is still open, amounts as stored.
        page = tab.open(address + "open")
        expect(page.locator("#positions tbody tr[data-trade]")).to_have_count(1)
        row = page.locator(f'#positions tbody tr[data-trade="{ids["alpha_open"]}"]')
        expect(row.locator('[data-col="entry_price"]')).to_have_text("95.50000000")
        expect(row.locator('[data-col="size"]')).to_have_text("2.00000000")
        expect(row.locator('[data-col="entry_value"]')).to_have_text("191.00000000")
        tab.assert_clean()


def test_closed_trades_filter_sort_csv_link_and_a_bots_equity_chart(database: Path | str, tab: Tab) -> None:
    seeded(database)
    with served(database) as address:
        page = tab.open(address + "trades")
        rows = page.locator("#trades tbody tr[data-trade]")
        expect(rows).to_have_count(4)
        chart_drawn(page, "#chart-distribution")

        page.locator("#f-bot").select_option("alpha")
        expect(rows).to_have_count(3)
        expect(page.locator("#pager")).to_have_attribute("data-total", "3")
        expect(page).to_have_url(re.compile(r"/trades\?bot=alpha$"))
        expect(page.locator("#csv")).to_have_attribute("href", "/api/trades.csv?bot=alpha")

        net = page.locator('#trades tbody tr[data-trade] [data-col="net_pnl"]')
        page.locator('#trades th[data-sort="net_pnl"] button').click()
        expect(net).to_have_text(["100.50000000", "43.00000000", "-20.04321099"])
        expect(page.locator('#trades th[data-sort="net_pnl"]')).to_have_attribute("aria-sort", "descending")
        page.locator('#trades th[data-sort="net_pnl"] button').click()
        expect(net).to_have_text(["-20.04321099", "43.00000000", "100.50000000"])
        expect(page.locator('#trades th[data-sort="net_pnl"]')).to_have_attribute("aria-sort", "ascending")
        expect(page.locator("#csv")).to_have_attribute("href", "/api/trades.csv?bot=alpha&sort=net_pnl&order=asc")
        expect(page.locator('#trades tbody [data-col="bot_id"]')).to_have_text(["alpha"] * 3)

        # The link downloads the filtered set (with the browser's own cookies and headers).
        href = page.locator("#csv").get_attribute("href")
        assert href is not None
        download = page.request.get(address.rstrip("/") + href)
        assert download.ok and download.headers["content-type"].startswith("text/csv")
        lines = download.text().splitlines()
        assert len(lines) == 4 and lines[0].startswith("id,")
        assert sorted(line.split(",")[0] for line in lines[1:]) == sorted(
            rows.evaluate_all("rows => rows.map(r => r.dataset.trade)"))
        chart_drawn(page, "#chart-distribution")
        tab.assert_clean()

        # A reload keeps the filter and the sort (they live in the address).
        page = tab.open(page.url)
        expect(page.locator("#f-bot")).to_have_value("alpha")
        expect(net).to_have_text(["-20.04321099", "43.00000000", "100.50000000"])

        # The bot's own page, from its link in the table.
        page.locator('#trades tbody [data-col="bot_id"] a').first.click()
        expect(page).to_have_url(re.compile(r"/bots/alpha$"))
        expect(page.locator("body")).to_have_attribute("data-loaded", "1")
        expect(page.locator("#bot-title")).to_have_text("alpha")
        expect(page.locator('#bot [data-col="total_pnl"]')).to_have_text("123.45678901")
        expect(page.locator('#bot [data-col="current_balance"]')).to_have_text("1123.45678901")
        expect(page.locator("#trades tbody tr[data-trade]")).to_have_count(3)
        expect(page.locator("#positions tbody tr[data-trade]")).to_have_count(1)
        chart_drawn(page, "#chart-equity")
        chart_drawn(page, "#chart-daily")
        tab.assert_clean()


def test_off_loopback_the_dashboard_asks_for_its_token_and_hides_it_once_given(tmp_path: Path, tab: Tab) -> None:
    database = tmp_path / "trading.db"
    seeded(database)
    with served(database, "--host", "0.0.0.0", "--token", TOKEN) as address:
        port = re.search(r":(\d+)/$", address)
        assert address.startswith("http://0.0.0.0:") and port is not None
        base = f"http://127.0.0.1:{port[1]}/"
        page = tab.page
        # The browser logs each refused load (and the favicon it then asks for) as a failed one.
        tab.refused = {base, base + "?token=not-the-token-at-all-000"}
        refused = page.goto(base)
        assert refused is not None and refused.status == 401
        expect(page.locator("body")).to_contain_text("token required")
        expect(page.locator("#bots")).to_have_count(0)
        wrong = page.goto(base + "?token=not-the-token-at-all-000")
        assert wrong is not None and wrong.status == 401

        page = tab.open(base + "trades?bot=alpha&token=" + TOKEN)
        assert "token" not in page.url and page.url == base + "trades?bot=alpha"
        expect(page.locator("#trades tbody tr[data-trade]")).to_have_count(3)
        page = tab.open(base)
        assert page.url == base
        expect(cell(page, "alpha", "total_pnl")).to_have_text("123.45678901")
        chart_drawn(page, "#chart-cumulative")
        tab.assert_clean()
