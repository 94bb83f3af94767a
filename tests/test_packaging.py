"""A wheel built from the repository works when installed (not editable) and run from elsewhere."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

SCRIPT = textwrap.dedent(
    """
    import asyncio, sys, tradedb
    from pathlib import Path

    assert "site-packages" in tradedb.__file__, tradedb.__file__

    async def main():
        async with tradedb.connect(sys.argv[1]) as repo:
            await repo.create_bot_instance({"id": "b", "type": "paper"})
            trade = await repo.create_trade({
                "bot_id": "b", "trade_type": "paper", "entry_logic_name": "e", "exit_logic_name": "x",
                "symbol": "BTCUSDT", "interval": "1h", "direction": "long",
                "entry_price": "100", "size": "2",
            })
            closed = await repo.close_trade(trade.id, exit_price="101.5")
            print(closed.net_pnl)

    asyncio.run(main())
    """
)


def run(*args: str, cwd: Path) -> str:
    result = subprocess.run(args, cwd=cwd, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def test_installed_wheel_finds_its_migrations_and_queries(tmp_path):
    dist, venv, elsewhere = tmp_path / "dist", tmp_path / "venv", tmp_path / "elsewhere"
    elsewhere.mkdir()
    run(sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(dist), str(ROOT), cwd=tmp_path)
    (wheel,) = dist.glob("tradedb-*.whl")
    run(sys.executable, "-m", "venv", str(venv), cwd=tmp_path)
    python = str(venv / "bin" / "python")
    run(python, "-m", "pip", "install", "-q", str(wheel), cwd=tmp_path)
    (elsewhere / "check.py").write_text(SCRIPT)
    out = run(python, "check.py", str(elsewhere / "t.db"), cwd=elsewhere)
    assert out.strip() == "3.00000000"
