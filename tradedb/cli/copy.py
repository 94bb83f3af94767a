"""`tradedb copy SOURCE DEST`: every bot, trade and metrics row into another database, exactly, then verified."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from ..copying import BOT_FIGURES, CopyMismatch, CopyReport, copy_database, verify_copy
from . import output

NOUNS = {"bot_instances": "bot", "trades": "trade", "performance_metrics": "metrics row"}


def report_rows(report: CopyReport) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The table of row counts and the table of bots (a row per bot and database), as printed."""
    tables = [{"table": check.table, "source": check.source, "dest": check.dest,
               "check": "ok" if check.ok else f"DIFFERS: {check.expected} expected"} for check in report.tables]
    bots: list[dict[str, Any]] = []
    for check in report.bots:
        verdict = "ok" if check.ok else "DIFFERS: " + ", ".join(check.differences)
        for where, figures in (("source", check.source), ("dest", check.dest)):
            row: dict[str, Any] = {"bot": check.bot_id if where == "source" else "", "in": where}
            row.update(figures or dict.fromkeys(BOT_FIGURES))
            row["check"] = verdict if where == "dest" else ""
            bots.append(row)
    return tables, bots


def show_report(report: CopyReport, options: argparse.Namespace) -> None:
    """Print what was copied and the verification, as tables or JSON."""
    if options.json:
        print(output.json_text({
            "source": report.source, "dest": report.dest, "ok": report.ok, "copied": report.copied,
            "skipped": report.skipped, "seconds": round(report.seconds, 3),
            "tables": [{"table": c.table, "source": c.source, "dest": c.dest, "expected": c.expected, "ok": c.ok}
                       for c in report.tables],
            "bots": [{"bot_id": c.bot_id, "source": c.source, "dest": c.dest, "ok": c.ok, "differences": c.differences}
                     for c in report.bots],
            "problems": report.problems,
        }))
        return
    tables, bots = report_rows(report)
    output.table(tables, ["table", "source", "dest", "check"])
    print()
    if bots:
        output.table(bots, ["bot", "in", *BOT_FIGURES, "check"])
        print()
    if not options.verify_only:
        rows = sum(report.copied.values())
        done = ", ".join(output.plural(report.copied[name], NOUNS[name]) for name in NOUNS)
        rate = f", {rows / report.seconds:,.0f} rows/s" if report.seconds > 0 and rows else ""
        print(f"copied {done} from {report.source} to {report.dest} in {report.seconds:.1f} s{rate}")
        if any(report.skipped.values()):
            print("skipped (identical in DEST already): "
                  + ", ".join(output.plural(report.skipped[name], NOUNS[name]) for name in NOUNS))
    if report.ok:
        print(f"verified: {report.dest} holds every row of {report.source}, and every bot's closed trades' "
              "net_pnl sum and books are the same")


async def run_copy(options: argparse.Namespace) -> int:
    """Copy (or with --verify-only compare) SOURCE into DEST; exit 1 when they differ."""
    progress = output.Progress(output.interactive())

    def step(table: str, done: int, total: int) -> None:
        progress.update(f"{table}: {done} of {total}")

    try:
        if options.verify_only:
            async with progress.activity("comparing"):
                report = await verify_copy(options.source, options.dest)
        else:
            report = await copy_database(options.source, options.dest, skip_existing=options.skip_existing,
                                         batch_size=options.batch_size, progress=step)
    except CopyMismatch as error:
        progress.clear()
        show_report(error.report, options)
        sys.stdout.flush()
        raise
    finally:
        progress.clear()
    show_report(report, options)
    return 0
