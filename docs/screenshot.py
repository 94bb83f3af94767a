"""Take docs/dashboard.png: the overview of `tradedb demo --serve`, partway through its replay.

    .venv/bin/python docs/screenshot.py [--days 30] [--at-day 20] [--output docs/dashboard.png]

Runs the demo on a temporary database, waits until the replay has done
--at-day simulated days (a simulated day takes about 24 seconds), then loads
the overview in Debian's headless Chromium (/usr/bin/chromium, driven by
Playwright, as the browser tests do) and saves what a person sees at
1400 pixels wide (the whole page). The demo is then stopped with Ctrl-C.
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from playwright.sync_api import expect, sync_playwright

CHROMIUM = "/usr/bin/chromium"
ADDRESS = re.compile(r"tradedb dashboard of .* at (http://\S+/) \(read-only")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--days", type=int, default=30, help="the demo's --days (default: 30, as `tradedb demo`)")
    parser.add_argument("--at-day", type=int, default=20, help="take it once this many days are replayed (default: 20)")
    parser.add_argument("--output", type=Path, default=Path(__file__).with_name("dashboard.png"))
    options = parser.parse_args()
    env = {k: v for k, v in os.environ.items() if k not in ("TRADEDB_DATABASE", "TRADEDB_DASHBOARD_TOKEN")}
    with tempfile.TemporaryDirectory() as folder:
        demo = subprocess.Popen(
            [sys.executable, "-m", "tradedb", "demo", "--serve", "--port", "0", "--days", str(options.days),
             "--database", str(Path(folder) / "demo.db")],
            env=env, stdout=subprocess.PIPE, text=True,
        )
        assert demo.stdout is not None
        try:
            address = None
            for line in demo.stdout:
                print(line, end="", flush=True)
                found = ADDRESS.search(line)
                address = address or (found[1] if found else None)
                if f" day {options.at_day}/{options.days} done" in line:
                    break
            else:
                print("the demo ended before that day", file=sys.stderr)
                return 1
            assert address is not None, "the demo printed no address"
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=CHROMIUM)
                page = browser.new_page(viewport={"width": 1400, "height": 1000})
                page.goto(address)
                expect(page.locator("body")).to_have_attribute("data-loaded", "1")
                expect(page.locator("#live")).to_have_attribute("data-state", "on")
                expect(page.locator("#chart-daily .uplot canvas")).to_be_visible()
                time.sleep(0.5)
                page.screenshot(path=str(options.output), full_page=True)
                browser.close()
        finally:
            demo.send_signal(signal.SIGINT)
            demo.communicate(timeout=30)
    print(f"{options.output}: {options.output.stat().st_size // 1024} KB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
