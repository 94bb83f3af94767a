"""The tradedb command given bad input: one-line errors, usage codes, and databases left untouched."""

from __future__ import annotations

import json
import os
from datetime import datetime, timezone
from decimal import Decimal
from pathlib import Path

import pytest


from cli_support import assert_one_line_error, cli, digest
from tradedb.cli.app import tidy


READERS = [
    ["status"], ["bots"], ["trades"], ["summary"], ["metrics", "alpha"], ["cleanup", "--dry-run"], ["backup"],
    ["export", "trades"],
]


@pytest.mark.parametrize("args", [*READERS, ["migrate"], ["migrate", "--list"], ["demo", "--days", "1"]])
def test_a_file_that_is_not_a_database_is_refused_and_untouched(tmp_path, args):
    junk = tmp_path / "notes.db"
    junk.write_text("these are my notes, not a database\n")
    result = cli(*args, "--database", str(junk), cwd=tmp_path)
    assert_one_line_error(result, "not a SQLite database")
    assert junk.read_text() == "these are my notes, not a database\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.db"]


@pytest.mark.parametrize("args", READERS)
def test_a_missing_database_is_not_created_by_commands_that_read(tmp_path, args):
    result = cli(*args, "--database", str(tmp_path / "nope.db"), cwd=tmp_path)
    assert_one_line_error(result, "no database at", "tradedb migrate")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("args", [["trades", "--bot", "zed"], ["summary", "--bot", "zed"], ["metrics", "zed"],
                                  ["export", "trades", "--bot", "zed"]])
def test_an_unknown_bot_is_an_error(db, tmp_path, args):
    before = digest(db)
    assert_one_line_error(cli(*args, "--database", str(db), cwd=tmp_path), "no bot 'zed'")
    assert digest(db) == before


@pytest.mark.parametrize("args", [["summary", "--since", "2024-13-01"], ["summary", "--until", "yesterday"],
                                  ["metrics", "alpha", "--since", "2024-02-30"], ["bots", "--stale-after", "5 minutes"],
                                  ["metrics", "alpha", "--starting-balance", "lots"], ["trades", "--limit", "-3"],
                                  ["demo", "--bots", "0"]])
def test_malformed_values_are_usage_errors(db, tmp_path, args):
    before = digest(db)
    result = cli(*args, "--database", str(db), cwd=tmp_path)
    assert_one_line_error(result, "argument")
    assert result.code == 2 and digest(db) == before


@pytest.mark.parametrize("args", [["summary", "--since", "9999-12-31T23:00-05:00"],
                                  ["summary", "--until", "0001-01-01T00:00+01:00"],
                                  ["bots", "--stale-after", "99999999999d"], ["bots", "--stale-after", "1000000d"],
                                  ["bots", "--stale-after", "9" * 400], ["status", "--stale-after", "36501d"],
                                  ["bots", "--stale-after", "0.0000001s"], ["trades", "--limit", "9" * 20],
                                  ["cleanup", "--days", "9" * 20], ["demo", "--days", "100000"],
                                  ["metrics", "alpha", "--starting-balance", "-5"],
                                  ["metrics", "alpha", "--starting-balance", "0"],
                                  ["metrics", "alpha", "--starting-balance", "0.000000001"],
                                  ["metrics", "alpha", "--starting-balance", "1e12"]])
def test_values_out_of_range_are_usage_errors_not_tracebacks(db, tmp_path, args):
    before = digest(db)
    result = cli(*args, "--database", str(db), cwd=tmp_path)
    assert_one_line_error(result, "argument", tidy(repr(args[-1])))  # a 400-digit value is shown cut short
    assert result.code == 2 and digest(db) == before


def test_values_at_the_edges_of_the_ranges_are_accepted(db, tmp_path):
    for args in (["summary", "--since", "9999-12-31T23:59:59Z"], ["summary", "--until", "0001-01-01T00:00Z"],
                 ["bots", "--stale-after", "36500d"], ["trades", "--limit", "1000000000"],
                 ["metrics", "alpha", "--no-store", "--starting-balance", "999999999999.99999999"],
                 ["metrics", "alpha", "--no-store", "--starting-balance", "0.00000001"]):
        result = cli(*args, "--database", str(db), cwd=tmp_path)
        assert result.code == 0 and result.err == "", (args, result.err)


def _unwritable_folder(tmp_path: Path) -> Path:
    """A folder no file can be created in, even by root (who ignores permission bits)."""
    if os.geteuid() == 0:
        if not Path("/proc/self").is_dir():
            pytest.skip("running as root without /proc: no folder is unwritable")
        return Path("/proc/self")
    folder = tmp_path / "locked"
    folder.mkdir()
    folder.chmod(0o555)
    return folder


@pytest.mark.parametrize("args", [["migrate"], ["demo", "--days", "1"]])
def test_a_database_in_a_folder_that_cannot_be_written(tmp_path, args):
    folder = _unwritable_folder(tmp_path)
    result = cli(*args, "--database", str(folder / "t.db"), cwd=tmp_path)
    assert_one_line_error(result, "cannot create", str(folder))
    assert not (folder / "t.db").exists()
    blocked = tmp_path / "a-file"
    blocked.write_text("x")
    assert_one_line_error(cli(*args, "--database", str(blocked / "t.db"), cwd=tmp_path), "not a folder")


def test_a_backup_into_a_folder_that_cannot_be_written(db, tmp_path):
    folder = _unwritable_folder(tmp_path)
    before = digest(db)
    assert_one_line_error(cli("backup", str(folder / "b.db"), "--database", str(db), cwd=tmp_path), str(folder))
    assert digest(db) == before


def test_debug_shows_the_traceback(tmp_path):
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"\x00" * 4096)
    result = cli("bots", "--debug", "--database", str(junk), cwd=tmp_path)
    assert result.code != 0 and "Traceback" in result.err
    assert "Traceback" in cli("--debug", "bots", "--database", str(junk), cwd=tmp_path).err


def test_decimal_output_is_never_scientific(tmp_path):
    from tradedb.cli.output import json_text, text

    tiny = Decimal("1E-8")
    assert text(tiny) == "0.00000001" and json.loads(json_text({"x": tiny})) == {"x": "0.00000001"}
    assert text(Decimal("1E+3")) == "1000"


@pytest.mark.parametrize("args", [["summary"], ["metrics", "alpha"], ["metrics", "alpha", "--no-store"]])
def test_since_later_than_until_is_a_usage_error(db, tmp_path, args):
    before = digest(db)
    result = cli(*args, "--since", "2024-03-02", "--until", "2024-03-01T23:59", "--database", str(db), cwd=tmp_path)
    assert_one_line_error(result, "--since", "later than --until")
    assert result.code == 2 and digest(db) == before
    same = cli(*args, "--since", "2024-03-02", "--until", "2024-03-02", "--json", "--database", str(db), cwd=tmp_path)
    assert same.code == 0, same.err


async def test_since_later_than_until_is_a_validation_error_in_the_api(db):
    import tradedb

    async with tradedb.connect(db, migrate=False) as repo:
        calls = [lambda **w: repo.get_closed_trades(**w), lambda **w: repo.get_trade_summary(**w),
                 lambda **w: repo.calculate_performance_metrics("alpha", store=False, **w)]
        for call in calls:
            with pytest.raises(tradedb.ValidationError, match="later than until") as caught:
                await call(since="2024-03-02T00:00:00Z", until=datetime(2024, 3, 1, 23, tzinfo=timezone.utc))
            assert caught.value.field == "since"
            await call(since="2024-03-02T00:00:00+01:00", until="2024-03-01T23:00:00Z")  # the same moment
        assert len(await repo.get_performance_metrics("alpha")) == 1


@pytest.mark.parametrize(
    "args, code, advice",
    [
        (["summary", "--since", "X" * 5000], 2, "see tradedb summary --help"),
        (["bots", "--database", "X" * 5000], 1, "longer than its file system allows"),
        (["trades", "--bot", "B" * 5000], 1, "at most 255 are allowed"),
    ],
)
def test_a_huge_argument_gives_a_short_error_that_still_says_what_to_do(db, tmp_path, args, code, advice):
    given = args if "--database" in args else [*args, "--database", str(db)]
    result = cli(*given, cwd=tmp_path)
    assert result.code == code
    assert_one_line_error(result, advice)
    assert len(result.err) < 600
