-- The SQLite backend's own statements around a bulk load (Session.defer and
-- Session.catch_up in tradedb/sqlite.py), never a unit of work's: so they are
-- not in queries/, whose every name each dialect has.
--
-- A load of many rows into trades drops the table's row triggers on insert
-- inside its transaction and, before the commit, creates them again from
-- their own text and does their work for every loaded row at once with the
-- two statements below. With any row trigger on insert, SQLite first writes
-- the rows of a multi-row INSERT into a temporary table and reads each back,
-- and then copies its text again for every CHECK that calls a function on it:
-- that cost more than the triggers' own work (README, The bulk path). The
-- loaded rows are those past the table's largest rowid before the load, in
-- the order they were inserted (SQLite hands out the next rowid in turn).
-- Each statement here must do what its trigger in ../schema.sql does; they
-- are dropped only while every trigger of the table is as it is there
-- (Session.defer): one changed or added by hand keeps them all row by row.

-- name: table_triggers(table_name) :many
-- Every trigger of the table, with its text.
SELECT name, sql
FROM sqlite_master
WHERE type = 'trigger' AND tbl_name = :table_name
ORDER BY name;

-- name: refused_loaded_trade(after) :one
-- trades_rules_on_insert for the loaded trades: the message it would have
-- raised for the first of them (in insert order) that it refuses; no row
-- when none. The bot must exist (the foreign key refused a missing one as
-- it was inserted, already) and have the trade's type; a closed trade needs
-- its PnL; extra_metadata is at most 1048576 bytes. The trigger ran before
-- the row's CHECKs; this runs after every row's: a row breaking both kinds
-- of rule is refused by its CHECK now.
SELECT CASE
           WHEN b.id IS NULL THEN 'trades.bot_id: no such bot instance; create the bot first'
           WHEN t.trade_type IS NOT b.type
               THEN 'trades.trade_type: is not the type of its bot; a bot''s trades have its type (paper, live or optimization)'
           WHEN length(CAST(t.extra_metadata AS BLOB)) > 1048576
               THEN 'trades.extra_metadata: longer than 1048576 bytes of JSON text; store less'
           WHEN t.gross_pnl IS NULL
               THEN 'trades.gross_pnl: a closed trade needs its gross_pnl; close it with close_trade or give the value'
           ELSE 'trades.net_pnl: a closed trade needs its net_pnl; close it with close_trade or give the value'
       END AS message
FROM trades AS t
LEFT JOIN bot_instances AS b ON b.id = t.bot_id
WHERE t.rowid > :after
  AND (t.trade_type IS NOT b.type
       OR (t.status = 'closed' AND (t.gross_pnl IS NULL OR t.net_pnl IS NULL))
       OR length(CAST(t.extra_metadata AS BLOB)) > 1048576)
ORDER BY t.rowid
LIMIT 1;

-- name: count_loaded_closed_trades(after) :exec
-- closed_trade_stats_on_insert for the loaded trades: each closed one
-- counted in, one upsert per trade in insert order, as the trigger does (so
-- that a sum that leaves 64 bits turns REAL and is marked exactly as then).
INSERT INTO closed_trade_stats (bot_id, day, symbol, bucket, trades, wins, losses, net_pnl_units, widest_amount)
SELECT bot_id, substr(exit_time, 1, 10), symbol,
       CASE WHEN pnl_percentage IS NULL THEN -1
            WHEN CAST(pnl_percentage AS REAL) < -20 THEN 0
            WHEN CAST(pnl_percentage AS REAL) < -10 THEN 1
            WHEN CAST(pnl_percentage AS REAL) < -5 THEN 2
            WHEN CAST(pnl_percentage AS REAL) < -3 THEN 3
            WHEN CAST(pnl_percentage AS REAL) < -2 THEN 4
            WHEN CAST(pnl_percentage AS REAL) < -1 THEN 5
            WHEN CAST(pnl_percentage AS REAL) < -0.5 THEN 6
            WHEN CAST(pnl_percentage AS REAL) < 0 THEN 7
            WHEN CAST(pnl_percentage AS REAL) < 0.5 THEN 8
            WHEN CAST(pnl_percentage AS REAL) < 1 THEN 9
            WHEN CAST(pnl_percentage AS REAL) < 2 THEN 10
            WHEN CAST(pnl_percentage AS REAL) < 3 THEN 11
            WHEN CAST(pnl_percentage AS REAL) < 5 THEN 12
            WHEN CAST(pnl_percentage AS REAL) < 10 THEN 13
            WHEN CAST(pnl_percentage AS REAL) < 20 THEN 14
            ELSE 15 END,
       1,
       ifnull(CAST(replace(net_pnl, '.', '') AS INTEGER) > 0, 0),
       ifnull(CAST(replace(net_pnl, '.', '') AS INTEGER) < 0, 0),
       ifnull(CAST(replace(net_pnl, '.', '') AS INTEGER), 0),
       ifnull(length(net_pnl), 0)
FROM trades
WHERE rowid > :after AND status = 'closed'
ORDER BY rowid
ON CONFLICT (bot_id, day, symbol, bucket) DO UPDATE SET
    trades = trades + 1,
    wins = wins + excluded.wins,
    losses = losses + excluded.losses,
    net_pnl_units = net_pnl_units + excluded.net_pnl_units,
    widest_amount = max(widest_amount, excluded.widest_amount,
                        CASE WHEN typeof(net_pnl_units + excluded.net_pnl_units) = 'integer' THEN 0 ELSE 20 END);
